"""Steps that cannot run on a shop's data (too small, too new, nobody bought twice): say why, publish nothing stale.

A skipped step still reports its assets as materialized, so the rest of the run goes on, with the reason in
each asset's `skipped` metadata and as a warning in the run's log. The tables it would have replaced are emptied
(their columns stay, so BI queries still run) and its rows of this snapshot in the history tables are removed:
a reader never mistakes an earlier run's rows for this run's.
"""

import datetime as dt

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from .warehouse import Warehouse


def skipped(context: AssetExecutionContext, asset: str, reason: str, **metadata) -> MaterializeResult:
    """The materialization of a skipped asset: `skipped` metadata with the reason, and the reason in the log."""
    context.log.warning(f"{asset} skipped: {reason}")
    return MaterializeResult(asset_key=AssetKey(asset),
                             metadata={**metadata, "skipped": MetadataValue.text(reason)})


def withdraw(warehouse: Warehouse, tables=(), snapshot_tables=(), as_of: dt.date | None = None) -> None:
    """Empty `tables` and delete the rows of snapshot `as_of` from `snapshot_tables`, in one transaction; tables
    that do not exist yet stay absent (readers treat them as empty)."""
    with warehouse.connect() as con:
        existing = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        con.execute("begin transaction")
        for name in tables:
            if name in existing:
                con.execute(f"delete from main.{name}")
        for name in snapshot_tables:
            if name in existing:
                con.execute(f"delete from main.{name} where snapshot_date = ?", [as_of])
        con.execute("commit")


# What the segmentation step publishes: the current segments, and this snapshot's slice of the history tables.
SEGMENTATION_TABLES = ("customer_segments", "segment_profiles", "segmentation_metrics", "customer_taste")
SEGMENTATION_SNAPSHOT_TABLES = ("segment_history", "segment_drift", "feature_distributions", "segment_model_health")
# The two that later steps read (dbt's staging views, the explanations, the private counts), with the columns the
# segmentation writes (_ml__sources.yml): created empty on a new warehouse, so their readers find no rows.
READ_LATER = {
    "customer_segments": "customer_id varchar, segment_id integer, segment_name varchar, distance double, "
                         "is_outlier boolean, model_version varchar, as_of date",
    "segment_history": "snapshot_date date, customer_id varchar, segment_id integer, segment_name varchar, "
                       "rfm_segment varchar, distance double, model_version varchar",
}


def segmentation_skipped(context: AssetExecutionContext, warehouse: Warehouse, snapshot, reason: str):
    """No segments at this snapshot (too few customers, or too alike to split): every segmentation asset skipped.

    `snapshot` is the dagster_assets.history.Snapshot that could not be segmented. customer_360 and the campaign
    tables are still built, with empty segment columns."""
    withdraw(warehouse, SEGMENTATION_TABLES, SEGMENTATION_SNAPSHOT_TABLES, snapshot.as_of)
    with warehouse.connect() as con:
        for name, columns in READ_LATER.items():
            con.execute(f"create table if not exists main.{name} ({columns})")
    customers = len(snapshot.features)
    reason = f"no segments at {snapshot.as_of} for {customers} customer{'s' * (customers != 1)}: {reason}"
    for asset in (*SEGMENTATION_TABLES, *SEGMENTATION_SNAPSHOT_TABLES):
        yield skipped(context, asset, reason)
