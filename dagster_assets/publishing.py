"""Build into a copy, publish by rename: readers never wait for a run, and a failed run publishes nothing.

A DuckDB file has one writer, and while it writes no other process can open it, not even read-only. So a run
never writes the published file. It copies it to `<name>.build` beside it, points dbt and every Python step at
the copy, and, once every step of the run has succeeded, renames the copy over the published file: one atomic
step on the same file system. Readers that opened the old file keep reading it until they reconnect; new
connections see the new build. A run that fails, or is killed, leaves the published file as it was; the next
run throws the stale copy away and starts again from the published file.
"""

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb


class WarehouseBusyError(RuntimeError):
    """Another run holds this warehouse's build lock."""


@dataclass
class Build:
    """An open build of one warehouse: the copy being written and the lock that keeps other runs out."""

    published: Path
    path: Path
    lock: IO

    def close(self) -> None:
        self.lock.close()  # also released by the OS if the process dies


def build_path(published: Path) -> Path:
    return published.with_name(published.name + ".build")


def wal(path: Path) -> Path:
    """DuckDB's write-ahead log beside a database file."""
    return path.with_name(path.name + ".wal")


def start_build(published: Path) -> Build:
    """Lock the warehouse for this run and start its build copy from the published file (or from nothing)."""
    published.parent.mkdir(parents=True, exist_ok=True)
    lock = open(published.with_name(published.name + ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise WarehouseBusyError(f"another run is building {published}; wait for it to finish") from None
    path = build_path(published)
    for stale in (path, wal(path)):  # left by a run that failed or was killed
        stale.unlink(missing_ok=True)
    if published.exists():
        shutil.copyfile(published, path)
        if wal(published).exists():  # written by a tool outside this project (e.g. `dbt build` run directly)
            shutil.copyfile(wal(published), wal(path))
    return Build(published, path, lock)


def publish(build: Build) -> None:
    """Fold the build's write-ahead log into it, then rename it over the published file."""
    with duckdb.connect(str(build.path)) as con:
        con.execute("checkpoint")
    # a log of the old file must not be replayed into the new one
    wal(build.published).unlink(missing_ok=True)
    os.replace(build.path, build.published)
    build.close()


def discard(build: Build) -> None:
    """Drop the build of a run that did not succeed; the published file is untouched."""
    for path in (build.path, wal(build.path)):
        path.unlink(missing_ok=True)
    build.close()
