"""The dbt data tests can fail: each is run on a small clean warehouse (it passes), then on one broken on purpose.

One warehouse is built from the hand-made RFM shop (11 lines, 5 customers) plus a tiny `segment_history` table
written here as the Python asset would. The breakages are made on copies of its DuckDB file, and only the dbt tests
concerned run (`dbt test --select`): four dbt invocations in all, so the file takes seconds, not minutes.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.pipeline import ROOT, dbt_build, query, settings

FIXTURE = ROOT / "tests" / "fixtures" / "rfm_shop"
AS_OF = "2025-12-31"

RECONCILE = "assert_transaction_lines_reconcile"
HISTORY_UNIQUE = "assert_segment_history_unique"
QUANTITY_NOT_ZERO = "expression_is_true_stg_shop__transactions_quantity__quantity_0"


def dbt_test(data_dir: Path, database: Path, select: str) -> tuple[int, str]:
    """`dbt test --select select` with the real CLI; its exit status and output."""
    dbt = Path(sys.executable).with_name("dbt")
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database), SEGMENTS_AS_OF=AS_OF):
        done = subprocess.run([str(dbt), "test", "--profiles-dir", str(ROOT), "--select", select],
                              cwd=ROOT, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A writable copy of the RFM shop (the raw files) and a warehouse built from it; tests copy, never change."""
    root = tmp_path_factory.mktemp("dbt_checks")
    data_dir = root / "shop"
    shutil.copytree(FIXTURE, data_dir)
    database = root / "clean.duckdb"
    with duckdb.connect(str(database)) as con:
        # segment_history as the Python asset writes it: one row per snapshot and customer
        con.execute("""
            create table main.segment_history as
            select cast(snapshot_date as date) as snapshot_date, customer_id, segment_id, segment_name,
                   'Loyal' as rfm_segment, 0.5 as distance, 'kmeans-k2-abc' as model_version
            from (values ('2025-11-30', 'alice', 1, 'Big spenders'), ('2025-11-30', 'bob', 2, 'Occasional'),
                         ('2025-12-31', 'alice', 1, 'Big spenders'), ('2025-12-31', 'bob', 0, 'Outliers'))
                 as t(snapshot_date, customer_id, segment_id, segment_name)
        """)
    dbt_build(data_dir, database, ["+stg_shop__transactions", "rejected_transactions", "stg_ml__segment_history"],
              SEGMENTS_AS_OF=AS_OF)
    return data_dir, database


def execute(database: Path, *statements: str) -> None:
    with duckdb.connect(str(database)) as con:
        for statement in statements:
            con.execute(statement)


@pytest.fixture(scope="module")
def broken_run(shop, tmp_path_factory):
    """One dbt run of the three tests on a copy of the warehouse broken three ways, one for each test.

    - Reconcile: one of alice's lines lost in staging and one of bob's counted twice; the totals still agree.
    - expression_is_true: one accepted line's quantity NULL, so `quantity <> 0` is NULL rather than false.
    - segment_history: one snapshot's row for alice written twice.
    """
    data_dir, database = shop
    broken = tmp_path_factory.mktemp("broken") / "broken.duckdb"
    shutil.copy(database, broken)
    execute(broken,
            "delete from staging.stg_shop__transaction_lines where order_id = 'A1'",
            "insert into staging.stg_shop__transaction_lines"
            " select * from staging.stg_shop__transaction_lines where order_id = 'B1'",
            "update staging.stg_shop__transaction_lines set quantity = null where order_id = 'A2'",
            "insert into main.segment_history select * from main.segment_history"
            " where customer_id = 'alice' and snapshot_date = date '2025-12-31'")
    assert query(broken, "select count(*) from staging.stg_shop__transaction_lines") == [(11,)]
    return dbt_test(data_dir, broken, f"{RECONCILE} {HISTORY_UNIQUE} {QUANTITY_NOT_ZERO}")


def assert_failed(run: tuple[int, str], test_name: str) -> None:
    """The test ran and found rows (FAIL), rather than passing or erroring before it could look."""
    code, output = run
    assert code != 0, output
    assert re.search(rf"FAIL \d+ {test_name}\b", output), output


def test_the_checks_pass_on_clean_data(shop):
    data_dir, database = shop
    code, output = dbt_test(data_dir, database, f"{RECONCILE} {HISTORY_UNIQUE} {QUANTITY_NOT_ZERO}")
    assert code == 0, output
    for test_name in (RECONCILE, HISTORY_UNIQUE, QUANTITY_NOT_ZERO):  # each was selected and ran
        assert re.search(rf"PASS {test_name}\b", output), output


# ------------------------------------------------------------------ every raw line accepted or rejected
def test_reconcile_fails_when_the_raw_file_has_a_line_staging_has_not_seen(shop, tmp_path):
    # The raw view is registered again from the files at the start of every dbt invocation, so a line added to
    # the file after staging was built is one staging never accounted for.
    data_dir, database = shop
    grown = tmp_path / "grown_shop"
    shutil.copytree(data_dir, grown)
    with open(grown / "transactions.csv", "a") as lines:
        lines.write("Z1,zoe,2025-05-05 10:00:00,P1,Books,1,10.00,web\n")
    copy = tmp_path / "copy.duckdb"
    shutil.copy(database, copy)
    assert_failed(dbt_test(grown, copy, RECONCILE), RECONCILE)


def test_reconcile_fails_when_a_lost_line_and_a_doubled_one_cancel_out(broken_run):
    assert_failed(broken_run, RECONCILE)


# ------------------------------------------------------------------ expression_is_true
def test_expression_is_true_fails_when_the_expression_is_null(broken_run):
    assert_failed(broken_run, QUANTITY_NOT_ZERO)


# ------------------------------------------------------------------ segment_history
def test_segment_history_uniqueness_fails_on_a_duplicate_row(broken_run):
    assert_failed(broken_run, HISTORY_UNIQUE)


def test_segment_history_uniqueness_runs_in_the_pipeline():
    """Dagster runs the dbt tests of the models a step builds; here a test on sources only would never run.

    The dbt graph is split around the Python assets, so every dbt step is a subset: dagster-dbt selects models by
    name and lets dbt add their tests. Tests on sources are not asset checks
    (enable_source_tests_as_checks is off), so a generic test on source ml.segment_history would be skipped.
    """
    from dagster import AssetCheckKey, AssetKey

    from dagster_assets.dbt_models import dbt_models

    assert AssetCheckKey(AssetKey("stg_ml__segment_history"), HISTORY_UNIQUE) in dbt_models.check_keys
    assert AssetCheckKey(AssetKey("rejected_transactions"), RECONCILE) in dbt_models.check_keys

    manifest = json.loads((ROOT / "target" / "manifest.json").read_text())
    source_only = [node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "test"
                   and all(parent.startswith("source.") for parent in node["depends_on"]["nodes"])]
    assert source_only == []
