"""The DuckDB warehouse as a Dagster resource: one file, one writer, atomic table writes, published by rename."""

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dagster import ConfigurableResource, DagsterEventType, EnvVar, InitResourceContext, MetadataValue
from pydantic import PrivateAttr

from .project import PROJECT_ROOT, TARGET_ENV_VAR, start_dbt_target
from .publishing import Build, discard, publish, start_build

DATABASE_ENV_VAR = "SEGMENTS_DUCKDB_PATH"
DEFAULT_DATABASE = "warehouse/segments.duckdb"  # the same default as profiles.yml


def resolve_database_path(value: str | None) -> Path:
    """The warehouse file: relative paths resolve against the project root, as dbt (run there) sees them."""
    path = Path(value or DEFAULT_DATABASE).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class Warehouse(ConfigurableResource):
    """The DuckDB file that dbt builds and the Python assets read and write.

    Its path comes from SEGMENTS_DUCKDB_PATH, read when a run starts (not at import), so dbt and Dagster always
    agree on one file. During a run that variable points at the run's build copy (see `publishing`), for dbt
    and for every step, and the copy replaces the published file when all the run's steps have succeeded.
    """

    _build: Build | None = PrivateAttr(default=None)
    _published_setting: str | None = PrivateAttr(default=None)
    _target_setting: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if context.run is None:  # not a run (e.g. a sensor): read the published file
            return
        self._published_setting = os.environ.get(DATABASE_ENV_VAR)
        self._build = start_build(self.path)
        os.environ[DATABASE_ENV_VAR] = str(self._build.path)
        self._target_setting = start_dbt_target(self.dbt_target)
        context.log.info(f"building into {self._build.path}; published when the run succeeds")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._build is None:
            return
        build, self._build = self._build, None
        for name, setting in ((DATABASE_ENV_VAR, self._published_setting), (TARGET_ENV_VAR, self._target_setting)):
            if setting is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = setting
        if run_succeeded(context):
            publish(build)
            context.log.info(f"published {build.published}")
        else:
            discard(build)
            context.log.warning(f"the run did not succeed: {build.published} is unchanged")

    @property
    def path(self) -> Path:
        return resolve_database_path(EnvVar(DATABASE_ENV_VAR).get_value())

    @property
    def published(self) -> Path:
        """The published warehouse file, also during a run (when `path` is the run's build copy)."""
        return self._build.published if self._build else self.path

    @property
    def dbt_target(self) -> Path:
        """dbt's folder for this warehouse's runs (`<name>.dbt` beside the published file): the steps' logs and
        results of the last run, and the parse the next run starts from."""
        return self.published.with_name(self.published.name + ".dbt")

    def artifact_path(self, name: str, suffix: str = ".joblib") -> Path:
        """Where a fitted model is kept: `models/` beside the warehouse file (never committed)."""
        folder = self.path.parent / "models"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}{suffix}"

    def report_path(self, name: str) -> Path:
        """Where a generated report is written: `reports/<warehouse file name>/` beside the warehouse file, so two
        warehouses in one folder keep their own reports (named after the published file, not the run's build)."""
        folder = self.published.parent / "reports" / self.published.stem
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def read_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its rows as Arrow: the read interface every engine has (see SparkWarehouse)."""
        with self.connect(read_only=True) as con:
            return con.sql(sql).arrow().read_all()

    def read_frame(self, sql: str, categorical: list[str] | None = None) -> pd.DataFrame:
        """Run a query and return its rows as pandas, through Arrow (see `arrow_to_frame`)."""
        return arrow_to_frame(self.read_arrow(sql), categorical)

    def write_table(self, name: str, data: pa.Table | pd.DataFrame) -> dict:
        """Replace table `main.<name>` in one transaction, so readers see the old table or the new, never half.

        Returns Dagster metadata: the row count and a preview.
        """
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        with self.connect() as con:
            con.register("incoming", table)
            con.execute("begin transaction")
            con.execute(f"create or replace table main.{name} as select * from incoming")
            con.execute("commit")
            con.unregister("incoming")
        return table_metadata(table.num_rows, table.slice(0, PREVIEW_ROWS).to_pandas())


    def replace_rows(self, name: str, data: pa.Table | pd.DataFrame, key: str, value) -> dict:
        """Replace the rows of `main.<name>` whose `key` equals `value` with `data`, in one transaction.

        For tables that keep history (one slice per snapshot): the table is created on first use, and writing a
        slice again replaces it. Returns Dagster metadata: the slice's and the table's row counts and a preview.
        """
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        with self.connect() as con:
            con.register("incoming", table)
            con.execute("begin transaction")
            con.execute(f"create table if not exists main.{name} as select * from incoming where false")
            con.execute(f"delete from main.{name} where {key} = ?", [value])
            con.execute(f"insert into main.{name} by name select * from incoming")
            total = con.sql(f"select count(*) from main.{name}").fetchall()[0][0]
            con.execute("commit")
            con.unregister("incoming")
        return {**table_metadata(table.num_rows, table.slice(0, PREVIEW_ROWS).to_pandas()),
                "table_row_count": MetadataValue.int(total)}

    def has_table(self, name: str) -> bool:
        """Whether `main.<name>` exists yet (history tables appear with the first snapshot)."""
        with self.connect(read_only=True) as con:
            found = con.execute("select count(*) from information_schema.tables "
                                "where table_schema = 'main' and table_name = ?", [name]).fetchall()
        return found[0][0] > 0


def arrow_to_frame(table: pa.Table, categorical: list[str] | None = None) -> pd.DataFrame:
    """Arrow rows as pandas. `categorical` columns are dictionary-encoded in Arrow first: pandas then holds one
    string per distinct value (e.g. 20k products) instead of one Python object per row (10M order lines at 1M
    customers)."""
    for name in categorical or []:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.dictionary_encode(table[name]))
    return table.to_pandas()


def run_succeeded(context: InitResourceContext) -> bool:
    """Whether every step planned for this run has succeeded (or was skipped by design), from the event log."""
    events = context.instance.all_logs(context.run_id, of_type={
        DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_SKIPPED,
        DagsterEventType.STEP_FAILURE})
    by_type: dict[DagsterEventType, set[str]] = {}
    for event in events:
        by_type.setdefault(event.dagster_event.event_type, set()).add(event.dagster_event.step_key)
    done = by_type.get(DagsterEventType.STEP_SUCCESS, set()) | by_type.get(DagsterEventType.STEP_SKIPPED, set())
    run = context.run
    snapshot = run.execution_plan_snapshot_id and context.instance.get_execution_plan_snapshot(
        run.execution_plan_snapshot_id)
    planned = set(snapshot.step_keys_to_execute) if snapshot else by_type.get(DagsterEventType.STEP_START, set())
    return not by_type.get(DagsterEventType.STEP_FAILURE) and planned <= done


PREVIEW_ROWS = 10


def table_metadata(row_count: int, preview: pd.DataFrame) -> dict:
    """Dagster metadata for a written table: its row count and its first rows as a Markdown table."""
    return {
        "dagster/row_count": MetadataValue.int(row_count),
        "preview": MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "(empty)"),
    }


def spark_session():
    """The Spark session of profiles.yml's `spark` target (the one dbt builds with), started if there is none.

    In the process that ran dbt in-process, that session is returned as it is; elsewhere, one is started with the
    profile's settings, so both see the same tables and catalogue. Needs the `spark` extra (pyspark)."""
    import jinja2
    import yaml
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers (mapInArrow) run in this environment
    text = (PROJECT_ROOT / "profiles.yml").read_text()
    rendered = jinja2.Template(text).render(env_var=lambda name, default=None: os.environ.get(name, default))
    profile = yaml.safe_load(rendered)["segments"]["outputs"]["spark"]
    builder = SparkSession.builder.enableHiveSupport()
    for name, value in profile["server_side_parameters"].items():
        builder = builder.config(name, str(value))
    return builder.getOrCreate()


class SparkWarehouse:
    """The project's tables on Spark (profiles.yml target `spark`), with the Warehouse's read and write methods.

    Python steps take either: they read through Arrow (`toArrow`, collected on the driver: the inputs of one
    segmentation fit on one machine) and write their tables back to Spark, as managed Parquet tables in `main`.
    Artifacts and reports go to `folder` (on a cluster, a folder the driver can write to).
    """

    def __init__(self, folder: Path, session=None):
        self.folder = Path(folder)
        self.session = session or spark_session()

    def read_arrow(self, sql: str) -> pa.Table:
        return self.session.sql(sql).toArrow()

    def read_frame(self, sql: str, categorical: list[str] | None = None) -> pd.DataFrame:
        return arrow_to_frame(self.read_arrow(sql), categorical)

    def write_table(self, name: str, data: pa.Table | pd.DataFrame) -> dict:
        """Replace table `main.<name>`; Spark writes the new files before it swaps the table's metadata."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        self.session.sql("create schema if not exists main")  # before dbt has built anything
        self.session.createDataFrame(table).write.mode("overwrite").format("parquet").saveAsTable(f"main.{name}")
        return table_metadata(table.num_rows, table.slice(0, PREVIEW_ROWS).to_pandas())

    def replace_rows(self, name: str, data: pa.Table | pd.DataFrame, key: str, value) -> dict:
        """Replace the rows of `main.<name>` whose `key` equals `value` (see Warehouse.replace_rows). Parquet
        tables take no DELETE, so the other rows are read back and the table is written whole."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        if self.has_table(name):
            kept = self.session.table(f"main.{name}").where(f"{key} <> '{value}'").toArrow()
            table = pa.concat_tables([kept.select(table.column_names).cast(table.schema), table])
        self.write_table(name, table)
        return {**table_metadata(len(data), table.slice(0, PREVIEW_ROWS).to_pandas()),
                "table_row_count": MetadataValue.int(table.num_rows)}

    def has_table(self, name: str) -> bool:
        return self.session.catalog.tableExists(f"main.{name}")

    def artifact_path(self, name: str, suffix: str = ".joblib") -> Path:
        folder = self.folder / "models"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}{suffix}"

    def report_path(self, name: str) -> Path:
        folder = self.folder / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name
