"""History from one transactions file: the monthly snapshot job over two past months, then today's snapshot again.

Runs `python -m dagster_assets.backfill` (what `make backfill` runs) on a copy of the demo warehouse.
"""

import datetime as dt
import shutil

import pandas as pd
import pytest

from dagster_assets.backfill import main as backfill
from tests.pipeline import frame, query, settings

MONTHS = ["2025-10-31", "2025-11-30", "2025-12-31"]  # two month ends, then the demo's snapshot date


@pytest.fixture(scope="module")
def backfilled(demo_data, demo_warehouse, tmp_path_factory):
    data_dir, _ = demo_data
    database = tmp_path_factory.mktemp("backfill") / "segments.duckdb"
    shutil.copy(demo_warehouse, database)
    before = query(database, "select count(*), min(as_of_date) from customer_rfm")[0]
    # every transition shown (no small-group suppression), so that the counts add up to the snapshots' sizes
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database), SEGMENTS_MIN_GROUP_SIZE="1",
                  DAGSTER_HOME=str(tmp_path_factory.mktemp("dagster_home"))):
        assert backfill(["--from", "2025-10", "--to", "2025-11"]) == 0
    return database, before


def test_history_holds_each_month_end_and_today(backfilled):
    database, _ = backfilled
    counts = frame(database, "select snapshot_date, count(*) as customers from segment_history "
                             "group by snapshot_date order by snapshot_date")
    assert counts["snapshot_date"].astype(str).tolist() == MONTHS
    # customers accumulate: everyone who bought by the month end
    assert counts["customers"].is_monotonic_increasing
    assert counts["customers"].iloc[-1] == query(database, "select count(*) from customer_segments")[0][0]
    # each month end saw exactly the customers who had bought by then
    by_oct = query(database, "select count(distinct customer_id) from staging.stg_shop__transactions "
                             "where cast(order_ts as date) <= '2025-10-31'")[0][0]
    assert counts["customers"].iloc[0] == by_oct


def test_past_snapshots_leave_the_current_tables_alone(backfilled):
    database, before = backfilled
    assert query(database, "select count(*), min(as_of_date) from customer_rfm")[0] == before
    assert str(query(database, "select max(as_of_date) from snapshot_main.customer_rfm")[0][0]) == MONTHS[1]


def test_transitions_chain_the_snapshots_and_ids_persist(backfilled):
    database, _ = backfilled
    moves = frame(database, "select * from segment_transitions")
    pairs = moves.groupby(["from_snapshot", "to_snapshot"])["customers"].sum()
    assert [(str(a.date()), str(b.date())) for a, b in pairs.index] == list(zip(MONTHS, MONTHS[1:]))
    sizes = frame(database, "select snapshot_date, count(*) as n from segment_history group by all")
    assert pairs.tolist() == sizes.set_index(sizes["snapshot_date"].astype(str))["n"][MONTHS[1:]].tolist()
    # a month of purchases moves few customers: most keep their segment, so the ids must have carried over
    kept = moves[moves["from_segment_id"] == moves["to_segment_id"]].groupby("to_snapshot")["customers"].sum()
    stayed = moves[moves["from_segment_id"].notna()].groupby("to_snapshot")["customers"].sum()
    assert (kept / stayed).min() > 0.8


def test_drift_is_measured_against_the_previous_month(backfilled):
    database, _ = backfilled
    drift = frame(database, "select snapshot_date, reference_snapshot, count(psi) as measured, count(*) as n "
                            "from segment_drift group by all order by snapshot_date")
    assert pd.isna(drift["reference_snapshot"].iloc[0])
    assert drift["reference_snapshot"].iloc[1:].astype(str).tolist() == MONTHS[:2]
    assert drift["measured"].tolist() == [0, drift["n"].iloc[1], drift["n"].iloc[2]]


def test_the_schedule_asks_for_the_month_that_just_ended_and_is_off_by_default():
    from dagster import DagsterInstance, DefaultScheduleStatus, build_schedule_context

    from dagster_assets.snapshots import monthly_snapshot_schedule

    with DagsterInstance.ephemeral() as instance:
        tick = monthly_snapshot_schedule.evaluate_tick(build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 3, 1, 3, tzinfo=dt.timezone.utc)))
    assert [request.partition_key for request in tick.run_requests] == ["2026-02"]
    assert monthly_snapshot_schedule.default_status == DefaultScheduleStatus.STOPPED


def test_the_sensor_asks_for_a_rebuild_only_when_data_files_change(tmp_path):
    from dagster import DefaultSensorStatus, build_sensor_context

    from dagster_assets.snapshots import new_data_files

    (tmp_path / "transactions.csv").write_text("order_id\n1\n")
    with settings(SEGMENTS_DATA_DIR=str(tmp_path)):
        first = new_data_files.evaluate_tick(build_sensor_context())
        cursor = first.cursor
        unchanged = new_data_files.evaluate_tick(build_sensor_context(cursor=cursor))
        (tmp_path / "events.parquet").write_bytes(b"new file")
        changed = new_data_files.evaluate_tick(build_sensor_context(cursor=cursor))
    assert len(first.run_requests) == 1 and unchanged.run_requests == [] and len(changed.run_requests) == 1
    assert changed.cursor != cursor
    assert new_data_files.default_status == DefaultSensorStatus.STOPPED


def test_backfill_from_after_to_stops_with_a_message(demo_data, demo_warehouse, capsys):
    data_dir, _ = demo_data
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(demo_warehouse)):
        with pytest.raises(SystemExit) as stopped:
            backfill(["--from", "2025-11", "--to", "2025-10"])
    assert stopped.value.code != 0
    assert "--from 2025-11 is after --to 2025-10" in capsys.readouterr().err
