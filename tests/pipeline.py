"""Run the real graph (dbt + Dagster + DuckDB) the way `make run` does, into a given DuckDB file."""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def settings(**values: str | None):
    """Set the SEGMENTS_* environment variables for the duration, as a user would export them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items() if value is not None})
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def materialize_all(data_dir: Path, database: Path, raise_on_error: bool = True, instance=None, **env: str | None):
    """Materialize every asset, in process, with a throwaway Dagster instance (or `instance`, to read the run's log
    afterwards); `env` sets more SEGMENTS_* values."""
    from dagster import DagsterInstance

    from dagster_assets.definitions import defs

    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database), **env):
        job = defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=instance or DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def materialize(data_dir: Path, database: Path, targets: list[str], run_config: dict | None = None,
                **env: str | None):
    """Materialize `targets` and everything upstream of them, in process, like `materialize_all`."""
    from dagster import AssetSelection, DagsterInstance

    from dagster_assets.definitions import defs

    keys = AssetSelection.assets(*targets).upstream().required_multi_asset_neighbors().resolve(
        defs.resolve_asset_graph())
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database), **env):
        job = defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=DagsterInstance.ephemeral(), asset_selection=list(keys),
                                      run_config=run_config)


def query(database: Path, sql: str):
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(sql).fetchall()


def frame(database: Path, sql: str):
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(sql).df()


def dbt_build(data_dir: Path, database: Path, select: list[str], **env: str | None) -> None:
    """`dbt build` on a selection with the real CLI, for tests that need only the SQL part of the graph."""
    dbt = Path(sys.executable).with_name("dbt")
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database), **env):
        subprocess.run([str(dbt), "build", "--quiet", "--profiles-dir", str(ROOT), "--select", *select],
                       cwd=ROOT, check=True)
