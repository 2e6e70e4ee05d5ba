"""Monthly snapshots: every month end segmented from the same transactions, for segment history and backfills.

The current run (`--select '*'`) builds today's snapshot; this partitioned job rebuilds the features as of a past
month end in separate `snapshot_*` schemas (the current tables stay as they are), segments them and writes that
month's slice of the history tables. The schedule and the sensor are defined but off until turned on.
"""

import calendar
import datetime as dt
import hashlib
import json
from pathlib import Path

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    EnvVar,
    MonthlyPartitionsDefinition,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
    job,
    op,
    sensor,
)
from dagster_dbt import DbtCliResource

from .history import Snapshot, fit_snapshot, previous_model, save_model, write_history
from .project import PROJECT_ROOT
from .segments import SegmentationConfig
from .warehouse import Warehouse

SCHEMA_PREFIX = "snapshot"
SNAPSHOT_MODELS = "+customer_features +feature_slots +customer_rfm +int_customer_items"
HISTORY_MODELS = "stg_ml__segment_history+"

# One partition per month (key `YYYY-MM`), up to the last complete month. 1990 is only the first month offered.
snapshot_months = MonthlyPartitionsDefinition(start_date="1990-01", fmt="%Y-%m", end_offset=0)


def month_end(partition_key: str) -> dt.date:
    """The snapshot date of a monthly partition: the last day of that month."""
    year, month = (int(part) for part in partition_key.split("-"))
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def build_past_features(dbt: DbtCliResource, as_of: dt.date, schema_prefix: str = SCHEMA_PREFIX) -> None:
    """The feature marts as they were on ``as_of``, into the ``<schema_prefix>_`` schemas (a month end's snapshot,
    or segment_validity's cutoff). Such a build rejects every later line as future-dated on purpose, so the
    rejected share's warning, which is for the shop's input, is left out."""
    dbt_vars = json.dumps({"as_of": as_of.isoformat(), "schema_prefix": schema_prefix})
    dbt.cli(["build", "--select", SNAPSHOT_MODELS, "--exclude", "test_name:rejected_share_at_most",
             "--indirect-selection", "cautious", "--vars", dbt_vars]).wait()


@op(description="Build the features as of the month end, segment them, write that month's history slice.")
def month_end_snapshot(context: OpExecutionContext, config: SegmentationConfig, dbt: DbtCliResource,
                       warehouse: Warehouse) -> None:
    as_of = month_end(context.partition_key)
    build_past_features(dbt, as_of)
    snapshot = Snapshot.read(warehouse, f"{SCHEMA_PREFIX}_")
    if snapshot.features.empty:
        raise ValueError(f"No customer purchased on or before {as_of}: choose months within the data.")
    previous = previous_model(warehouse, as_of)
    tracked = fit_snapshot(snapshot, warehouse, config)
    save_model(warehouse, tracked)
    context.log.info(f"{as_of}: {tracked.result.algorithm} with {tracked.result.n_clusters} segments "
                     f"({tracked.version}); ids {sorted(tracked.segment_names)}")
    for name, metadata in write_history(warehouse, tracked, config.drift_threshold, previous).items():
        context.log_event(AssetMaterialization(AssetKey(name), metadata={**metadata, "snapshot_date": str(as_of)}))
    # the migration matrices span all snapshots, so they are rebuilt in the current schema
    dbt.cli(["build", "--select", HISTORY_MODELS]).wait()
    for name in ("segment_transitions", "rfm_segment_transitions"):
        context.log_event(AssetMaterialization(AssetKey(name), metadata={"snapshot_date": str(as_of)}))


@job(partitions_def=snapshot_months, executor_def=in_process_executor,
     description="One month-end snapshot per partition; backfill a range of months to build history.")
def monthly_snapshot():
    month_end_snapshot()


monthly_snapshot_schedule = build_schedule_from_partitioned_job(
    monthly_snapshot, hour_of_day=3, default_status=DefaultScheduleStatus.STOPPED,
    description="At 03:00 on the first of each month, the snapshot of the month that just ended.")

refresh_warehouse = define_asset_job(
    "refresh_warehouse", selection=AssetSelection.all(),
    description="Every asset on the current data: what `dagster asset materialize --select '*'` builds.")


def data_fingerprint(folder: Path) -> str:
    """A digest of the names, sizes and modification times of the raw files in the data folder."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".csv", ".parquet") and p.is_file())
    state = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


@sensor(job=refresh_warehouse, minimum_interval_seconds=300, default_status=DefaultSensorStatus.STOPPED,
        description="Rebuilds the warehouse when files in SEGMENTS_DATA_DIR are added or change.")
def new_data_files(context: SensorEvaluationContext):
    folder = Path(EnvVar("SEGMENTS_DATA_DIR").get_value() or "").expanduser()
    folder = folder if folder.is_absolute() else PROJECT_ROOT / folder
    if not folder.is_dir():
        return SkipReason(f"SEGMENTS_DATA_DIR {folder} is not a folder")
    fingerprint = data_fingerprint(folder)
    if fingerprint == context.cursor:
        return SkipReason("no new or changed files")
    context.update_cursor(fingerprint)
    return RunRequest(run_key=fingerprint)
