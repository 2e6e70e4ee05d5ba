"""Build segment history from one transactions file: a snapshot per past month end, then today's again.

    python -m dagster_assets.backfill [--from YYYY-MM] [--to YYYY-MM]      (or: make backfill FROM=... TO=...)

Runs the `monthly_snapshot` job for each month in order (oldest first, so each month's segment ids carry over
from the month before), then re-materializes the current snapshot's segments and everything downstream, so
today's ids carry over from the last month end. Without --from/--to: every month end before the current
snapshot date, which needs one `make run` first. Runs are recorded in DAGSTER_HOME and show in the UI.
"""

import argparse
import sys

from dagster import AssetSelection, DagsterInstance

from .definitions import defs
from .segments import segmentation
from .snapshots import month_end, snapshot_months
from .warehouse import Warehouse


def months_in_warehouse(warehouse: Warehouse) -> list[str]:
    """Partition keys of the month ends before the current snapshot date (from int_snapshot_dates)."""
    dates = warehouse.read_frame(
        "select snapshot_date from intermediate.int_snapshot_dates "
        "where snapshot_date < (select as_of_date from staging.stg_shop__as_of) order by snapshot_date")
    return [f"{d:%Y-%m}" for d in dates["snapshot_date"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="first", help="first month, YYYY-MM")
    parser.add_argument("--to", dest="last", help="last month, YYYY-MM")
    args = parser.parse_args(argv)

    warehouse = Warehouse()
    if not warehouse.path.exists():
        parser.error(f"no warehouse at {warehouse.path}: run `make run` (or `make demo`) first")
    months = months_in_warehouse(warehouse)
    offered = snapshot_months.get_partition_keys()
    first, last = args.first or (months[0] if months else None), args.last or (months[-1] if months else None)
    if first is None:
        parser.error("the data has no complete month before the snapshot date: nothing to backfill")
    for key in (first, last):
        if key not in offered:
            parser.error(f"{key} is not a monthly partition (YYYY-MM, from {offered[0]} to {offered[-1]})")
    if offered.index(first) > offered.index(last):
        parser.error(f"--from {first} is after --to {last}: nothing would be built")
    keys = offered[offered.index(first): offered.index(last) + 1]

    instance = DagsterInstance.get()
    job = defs.resolve_job_def("monthly_snapshot")
    for key in keys:
        print(f"snapshot {month_end(key)}", flush=True)
        job.execute_in_process(instance=instance, partition_key=key)
    print("current snapshot again, matched to the last month end", flush=True)
    current = AssetSelection.assets(*segmentation.keys).downstream().resolve(defs.resolve_asset_graph())
    defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, asset_selection=list(current))
    return 0


if __name__ == "__main__":
    sys.exit(main())
