"""Publishing: runs build a copy and rename it over the warehouse, so readers are never refused or shown half a
build, and a killed run leaves the published tables as they were (dagster_assets/publishing.py).

Runs go through the documented command, `dagster asset materialize -m dagster_assets.definitions`, in a child
process of its own session, so a kill takes dbt with it as a dying machine would.
"""

import ast
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_assets.segments import segmentation
from tests.pipeline import ROOT, frame
from tests.test_pipeline import PUBLISHED_TABLES

DAGSTER = Path(sys.executable).with_name("dagster")
# a dbt model and a Python step, with the tests of the model: both kinds of writer are killed mid-write
SELECTION = ",".join(["customer_rfm", *sorted(key.to_user_string() for key in segmentation.keys)])
# the quickest segmentation (one algorithm, no bootstrap): the kills are about writes, not about the model choice
QUICK = json.dumps({"ops": {"segmentation": {"config": {"algorithms": ["kmeans"], "k_min": 4, "k_max": 6,
                                                           "n_bootstrap": 0, "taste_components": 0}}}})
KILLS = 10
CONSISTENT = """
    select (select count(*) from customer_360) as rows_360,
           (select count(distinct customer_id) from customer_360) as customers_360,
           (select count(*) from customer_segments) as rows_segments
"""


@pytest.fixture
def warehouse(demo_warehouse, tmp_path_factory) -> Path:
    """A private copy of the session's demo warehouse (tables and saved models) for one test, to rebuild and kill
    at will."""
    folder = tmp_path_factory.mktemp("publishing")
    shutil.copytree(demo_warehouse.parent, folder / "warehouse")
    (folder / "dagster_home").mkdir()
    return folder / "warehouse" / "segments.duckdb"


def start_run(warehouse: Path, data_dir: Path, selection: str, *options: str) -> subprocess.Popen:
    env = {**os.environ, "SEGMENTS_DUCKDB_PATH": str(warehouse), "SEGMENTS_DATA_DIR": str(data_dir),
           "DAGSTER_HOME": str(warehouse.parent.parent / "dagster_home")}
    return subprocess.Popen([str(DAGSTER), "asset", "materialize", "-m", "dagster_assets.definitions",
                             "--select", selection, *options], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_to_end(warehouse: Path, data_dir: Path, selection: str, *options: str) -> list[str]:
    run = start_run(warehouse, data_dir, selection, *options)
    lines = run.stdout.readlines()
    assert run.wait() == 0, "".join(lines[-30:])
    return lines


def kill_after(warehouse: Path, data_dir: Path, seconds: float) -> list[str]:
    """Start a run, SIGKILL its whole session `seconds` after its build started; what it printed until then."""
    run = start_run(warehouse, data_dir, SELECTION, "--config-json", QUICK)
    lines: list[str] = []
    started = threading.Event()

    def drain():  # keep the pipe empty so the run never blocks on it
        for line in run.stdout:
            lines.append(line)
            if "building into" in line:
                started.set()
        started.set()

    reader = threading.Thread(target=drain)
    reader.start()
    started.wait()
    time.sleep(seconds)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    reader.join()
    return lines


def test_killed_runs_leave_the_published_warehouse_unchanged(warehouse, demo_data):
    data_dir, _ = demo_data
    started = time.monotonic()
    lines = run_to_end(warehouse, data_dir, SELECTION, "--config-json", QUICK)
    assert any(f"published {warehouse}" in line for line in lines)
    duration = time.monotonic() - started  # an upper bound of the time from build start to publishing
    before = digest(warehouse)
    killed_mid_build = 0
    for fraction in sorted(random.Random(2026).uniform(0.05, 0.95) for _ in range(KILLS)):
        lines = kill_after(warehouse, data_dir, fraction * duration)
        if any(f"published {warehouse}" in line for line in lines):  # finished before the kill: a new build
            before = digest(warehouse)
            continue
        killed_mid_build += 1
        assert digest(warehouse) == before, f"killed at {fraction:.2f} of a run: the published warehouse changed"
    assert killed_mid_build >= KILLS // 2
    # the kills left a build copy behind; the next run starts over from the published file
    assert warehouse.with_name(warehouse.name + ".build").exists()
    run_to_end(warehouse, data_dir, SELECTION, "--config-json", QUICK)
    assert not warehouse.with_name(warehouse.name + ".build").exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows_360, customers_360, rows_segments = con.sql(CONSISTENT).fetchall()[0]
    assert rows_360 == customers_360 == rows_segments > 0


def test_readers_are_never_refused_during_a_full_run_and_it_republishes_the_same_tables(warehouse, demo_data,
                                                                                        demo_warehouse):
    data_dir, _ = demo_data
    # a reader that connected before the run keeps its snapshot open throughout (a BI tool's pooled connection)
    held = subprocess.Popen([sys.executable, "-c",
                             "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); input(); "
                             f"print(con.sql('''{' '.join(CONSISTENT.split())}''').fetchall())", str(warehouse)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    reads, errors, done = [], [], threading.Event()

    def poll():
        while not done.is_set():
            try:
                with duckdb.connect(str(warehouse), read_only=True) as con:
                    reads.append(con.sql(CONSISTENT).fetchall()[0])
            except duckdb.Error as error:
                errors.append(repr(error))
            time.sleep(0.2)

    inode = warehouse.stat().st_ino
    reader = threading.Thread(target=poll)
    reader.start()
    try:
        run_to_end(warehouse, data_dir, "*")
    finally:
        done.set()
        reader.join()
    out, _ = held.communicate("\n", timeout=60)
    assert errors == []
    assert warehouse.stat().st_ino != inode, "the run did not publish a new file"
    assert len(reads) >= 20
    assert all(rows_360 == customers_360 == rows_segments > 0 for rows_360, customers_360, rows_segments in reads)
    rows_360, customers_360, rows_segments = ast.literal_eval(out)[0]
    assert rows_360 == customers_360 == rows_segments > 0
    # deterministic: the same input gives the same tables, run again over the published warehouse (after the
    # killed runs of the test above) as in the session's first build
    for table in PUBLISHED_TABLES:
        columns = "* exclude (run_id)" if table == "segmentation_metrics" else "*"  # run ids must differ
        first = frame(demo_warehouse, f"select {columns} from {table}")
        again = frame(warehouse, f"select {columns} from {table}")
        key = list(first.columns)
        pd.testing.assert_frame_equal(first.sort_values(key).reset_index(drop=True),
                                      again.sort_values(key).reset_index(drop=True), check_exact=True)


def test_a_second_run_on_the_same_warehouse_stops_with_a_clear_message(tmp_path):
    from dagster_assets.publishing import WarehouseBusyError, discard, start_build

    published = tmp_path / "segments.duckdb"
    first = start_build(published)
    with pytest.raises(WarehouseBusyError, match="another run is building .*segments.duckdb"):
        start_build(published)
    discard(first)
    discard(start_build(published))  # the lock went with the first run
