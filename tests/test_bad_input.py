"""The bad-input battery (issue 13): small raw folders of the kinds real exports come in, each ending in one clear
message that names the file, column or setting, or in published tables where every input line is accepted or
quarantined with its reason, and every step that could not run says why.

Three tiers, to fit the test budget:
1. Files that cannot be read stop at dbt's on-run-start registration, before any table is built. They run dbt in
   this process (dbtRunner: the dbt, project and macros that the Dagster run starts, without a process start and a
   full project parse per case). One of them also runs through `make run`, to check what a user sees last.
2. Value rules (time zones, date-only timestamps, fractional quantities, SQL-looking text, an encoding, the
   snapshot date): the staging models, built the same way, against values worked out by hand from the lines
   written here.
3. Small or degenerate shops and a shop with many bad lines: the whole graph, in process (materialize_all).

Input lines = accepted + rejected is asserted in every case that gets past file reading, against the number of
lines each test writes. Every folder, warehouse and dbt target is under tmp_path: safe under pytest-xdist.
"""

import csv
import datetime as dt
import gc
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from dagster_assets.summary import print_summary
from dagster_assets.warehouse import Warehouse
from tests.pipeline import ROOT, materialize, materialize_all, settings

HEADER = ["order_id", "customer_id", "order_ts", "product_id", "category", "quantity", "unit_price", "channel"]
END = dt.date(2025, 6, 30)  # the last order day of the generated shops (long before today)


def day(days_before_end: int, time: str = "10:00:00") -> str:
    return f"{END - dt.timedelta(days=days_before_end)} {time}"


def line(order, customer, ts, quantity="1", price="10.00", product="P1", category="Books", channel="web"):
    return [order, customer, ts, product, category, quantity, price, channel]


def write_shop(folder: Path, rows, encoding="utf-8") -> Path:
    """A raw folder with transactions.csv (quoted as csv.writer quotes) and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "transactions.csv", "w", newline="", encoding=encoding) as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return folder


# A small valid shop for the cases whose point is the file, not the values: 12 lines, 4 customers.
SHOP = [line(f"O{i}", f"C{i % 4}", day(10 * i)) for i in range(12)]


def read(database: Path, sql: str, *params):
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def line_counts(database: Path) -> tuple[int, int]:
    """(accepted, rejected) lines."""
    return read(database, "select (select count(*) from staging.stg_shop__transactions), "
                          "(select count(*) from main.rejected_transactions)")[0]


# ---------------------------------------------------------------------------------------------------------------
# Tiers 1 and 2: dbt in this process, on the staging layer


@dataclass
class Staged:
    success: bool
    database: Path
    error: str  # dbt's error messages, as a user reads them


@pytest.fixture(scope="module")
def build_staging(tmp_path_factory):
    """`build_staging(data_dir, select="+stg_shop__as_of", **env)`: dbt build (models and tests) of the
    registration, the typed lines, the quarantine and the snapshot date, or of `select`, on one raw folder. One
    warehouse path for every case, so dbt parses the project once (a new path is a new profile to dbt, which then
    parses it all again)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("staging")
    database = root / "warehouse.duckdb"
    runner = dbtRunner()

    def release():
        # dbt-duckdb keeps the database open in this process after an invocation; released, it can be opened
        # read-only here and replaced by the next case's
        DuckDBConnectionManager.close_all_connections()
        gc.collect()

    def build(data_dir: Path, select: str = "+stg_shop__as_of", **env: str) -> Staged:
        release()
        database.unlink(missing_ok=True)
        with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database),
                      **{"SEGMENTS_AS_OF": None, **env}):
            result = runner.invoke(["build", "--quiet", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT),
                                    "--target-path", str(root / "target"), "--log-path", str(root / "logs"),
                                    "--select", select])
        errors = [str(result.exception)] if result.exception else []
        errors += [r.message or "" for r in getattr(result.result, "results", None) or []
                   if str(r.status) in ("error", "fail")]
        success = result.success
        del result  # its traceback holds dbt's connection
        release()
        return Staged(success, database, "\n".join(errors))

    yield build
    release()


def columns_yml(folder: Path, text: str) -> None:
    (folder / "columns.yml").write_text(text)


LATIN_1_LINES = [line("latin", "C1", day(3), category="Café crème"), *SHOP]


def shop(columns: str | None = None, rows=SHOP, encoding="utf-8", delimiter=","):
    """A folder maker: `rows` as a CSV with `delimiter`, and `columns` as its columns.yml."""
    def make(folder: Path) -> None:
        write_shop(folder, rows, encoding=encoding)
        if delimiter != ",":
            csv_file = folder / "transactions.csv"
            csv_file.write_text(csv_file.read_text(encoding=encoding).replace(",", delimiter), encoding=encoding)
        if columns:
            columns_yml(folder, columns)
    return make


def empty_file(folder: Path) -> None:
    folder.mkdir()
    (folder / "transactions.csv").write_text("")


def truncated_parquet(folder: Path) -> None:
    write_shop(folder, SHOP)
    csv_file, parquet = folder / "transactions.csv", folder / "transactions.parquet"
    duckdb.sql(f"copy (select * from read_csv('{csv_file}', all_varchar = true)) to '{parquet}' (format parquet)")
    csv_file.unlink()
    parquet.write_bytes(parquet.read_bytes()[:-100])  # cut off: the footer with its magic bytes is gone


def csv_and_parquet(folder: Path) -> None:
    write_shop(folder, SHOP)
    duckdb.sql(f"copy (select * from read_csv('{folder / 'transactions.csv'}', all_varchar = true)) "
               f"to '{folder / 'transactions.parquet'}' (format parquet)")


# case -> (how the folder is made, settings, what the message must say besides the file or columns.yml path)
UNREADABLE = {
    "empty file": (empty_file, {}, ["transactions.csv is empty (0 bytes)"]),
    "header only": (shop(rows=[]), {}, ["transactions.csv has no order lines (a header only)"]),
    "wrong delimiter": (shop("transactions:\n  delimiter: ','\n", delimiter=";"), {},
                        ["Required column 'order_id'", "transactions.csv", "delimiter looks like a semicolon",
                         "`delimiter: ';'`"]),
    "latin-1 bytes": (shop(rows=LATIN_1_LINES, encoding="latin-1"), {}, ["transactions.csv", "not utf-8 encoded"]),
    "unsupported encoding": (shop("transactions:\n  encoding: cp1252\n"), {},
                             ["encoding 'cp1252'", "supported: utf-8, utf-16, latin-1"]),
    "truncated parquet": (truncated_parquet, {}, ["transactions.parquet", "magic bytes"]),
    "csv and parquet": (csv_and_parquet, {}, ["transactions.csv and", "transactions.parquet exist: keep one"]),
    "unknown entity": (shop("orders:\n  file: transactions.csv\n"), {},
                       ["columns.yml names unknown entity 'orders'"]),
    "unknown column": (shop("transactions:\n  columns: {order_number: order_id}\n"), {},
                       ["columns.yml maps unknown transactions column 'order_number'"]),
    "misspelt setting": (shop("transactions:\n  delimeter: ';'\n"), {},
                         ["columns.yml gives transactions unknown setting 'delimeter'"]),
    "missing named file": (shop("transactions:\n  file: orders.csv\n"), {},
                           ["orders.csv' for transactions, which does not exist"]),
    "impossible SEGMENTS_AS_OF": (shop(), {"SEGMENTS_AS_OF": "2025-02-30"},
                                  ["SEGMENTS_AS_OF must be a calendar date", "'2025-02-30'"]),
    "SEGMENTS_AS_OF in another format": (shop(), {"SEGMENTS_AS_OF": "30/06/2025"},
                                         ["SEGMENTS_AS_OF must be a calendar date", "'30/06/2025'"]),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_unreadable_input_stops_with_one_message_naming_it(case, build_staging, tmp_path):
    make_folder, env, expected = UNREADABLE[case]
    folder = tmp_path / "shop"
    make_folder(folder)
    staged = build_staging(folder, **env)
    assert not staged.success
    for part in expected:
        assert part in staged.error, f"{case}: {part!r} not in:\n{staged.error}"
    if "SEGMENTS_AS_OF" not in case:
        assert str(folder) in staged.error  # the file, or the columns.yml, by its path
    if staged.database.exists():  # a setting read while dbt parses the project stops it before it connects
        assert not read(staged.database, "select table_name from information_schema.tables "
                                          "where table_schema <> 'raw' and table_type = 'BASE TABLE'")


def test_every_line_rejected_stops_with_the_reasons_after_the_quarantine(build_staging, tmp_path):
    folder = write_shop(tmp_path / "shop", SHOP)
    staged = build_staging(folder, SEGMENTS_AS_OF="2024-01-01")  # before every line
    assert not staged.success
    assert f"No line of {folder / 'transactions.csv'} was accepted" in staged.error
    assert "future_order_ts 12" in staged.error and "rejected_transactions" in staged.error
    assert line_counts(staged.database) == (0, len(SHOP))


def test_encoding_setting_reads_latin_1(build_staging, tmp_path):
    folder = write_shop(tmp_path / "shop", LATIN_1_LINES, encoding="latin-1")
    columns_yml(folder, "transactions:\n  encoding: latin-1\n")
    staged = build_staging(folder)
    assert staged.success, staged.error
    assert read(staged.database, "select category from staging.stg_shop__transactions where order_id = 'latin'") == [
        ("Café crème",)]
    assert line_counts(staged.database) == (len(LATIN_1_LINES), 0)


def test_semicolons_are_detected_without_a_delimiter_setting(build_staging, tmp_path):
    shop(delimiter=";")(tmp_path / "shop")
    staged = build_staging(tmp_path / "shop")
    assert staged.success, staged.error
    assert line_counts(staged.database) == (len(SHOP), 0)


def test_time_zone_offsets_are_converted_to_utc_and_plain_times_kept(build_staging, tmp_path):
    written = {  # order -> (order_ts as exported, the UTC or as-written time expected)
        "plain": ("2025-03-01 10:00:00", "2025-03-01 10:00:00"),
        "iso_offset": ("2025-03-01T10:00:00+02:00", "2025-03-01 08:00:00"),
        "zulu": ("2025-03-01T10:00:00Z", "2025-03-01 10:00:00"),
        "west": ("2025-03-01 10:00:00-05:00", "2025-03-01 15:00:00"),
        "compact": ("2025-03-01 10:00:00+0530", "2025-03-01 04:30:00"),
        "spaced": ("2025-03-01 10:00:00 +02:00", "2025-03-01 08:00:00"),
        "named_zone": ("2025-03-01 10:00:00 Europe/Berlin", "2025-03-01 09:00:00"),
        "fraction": ("2025-03-01T10:00:00.250+01", "2025-03-01 09:00:00.25"),
        # the latest line: 23:30 at UTC-2 is the next day in UTC, and so is the snapshot date
        "late": ("2025-06-30T23:30:00-02:00", "2025-07-01 01:30:00"),
    }
    rows = [line(order, f"C{i}", ts) for i, (order, (ts, _)) in enumerate(written.items())]
    rows.append(line("suffix", "C99", "2025-03-01 10:00:00 PM"))  # not a zone: quarantined, never dropped
    staged = build_staging(write_shop(tmp_path / "shop", rows))
    assert staged.success, staged.error
    got = dict(read(staged.database, "select order_id, cast(order_ts as varchar) from staging.stg_shop__transactions"))
    assert got == {order: expected for order, (_, expected) in written.items()}
    assert read(staged.database, "select order_id, reject_reason from main.rejected_transactions") == [
        ("suffix", "unparseable_order_ts")]
    assert read(staged.database, "select as_of_date from staging.stg_shop__as_of") == [(dt.date(2025, 7, 1),)]
    assert line_counts(staged.database) == (len(written), 1)


def test_date_only_timestamps_are_midnight(build_staging, tmp_path):
    rows = [line("A", "C1", "2025-03-01"), line("B", "C2", "2025-3-7"), line("C", "C3", "2025-06-30 00:00:00")]
    staged = build_staging(write_shop(tmp_path / "shop", rows))
    assert staged.success, staged.error
    assert read(staged.database, "select order_id, cast(order_ts as varchar), order_date "
                                 "from staging.stg_shop__transactions order by 1") == [
        ("A", "2025-03-01 00:00:00", dt.date(2025, 3, 1)), ("B", "2025-03-07 00:00:00", dt.date(2025, 3, 7)),
        ("C", "2025-06-30 00:00:00", dt.date(2025, 6, 30))]
    assert line_counts(staged.database) == (3, 0)


def test_fractional_quantities_are_accepted_to_three_decimals(build_staging, tmp_path):
    rows = [line("kilos", "C1", day(1), quantity="1.5", price="4.00"),
            line("grams", "C2", day(2), quantity="0.2345", price="10.00"),  # rounds to 0.235
            line("returned", "C3", day(3), quantity="-0.5", price="4.00"),
            line("comma", "C4", day(4), quantity="1,5", price="4.00")]  # a decimal comma is not a number here
    staged = build_staging(write_shop(tmp_path / "shop", rows))
    assert staged.success, staged.error
    assert read(staged.database, "select order_id, cast(quantity as double), cast(line_amount as double), is_return "
                                 "from staging.stg_shop__transactions order by 1") == [
        ("grams", 0.235, 2.35, False), ("kilos", 1.5, 6.0, False), ("returned", -0.5, -2.0, True)]
    assert read(staged.database, "select order_id, reject_reason from main.rejected_transactions") == [
        ("comma", "unparseable_quantity")]
    assert line_counts(staged.database) == (3, 1)


SQL_LOOKING = {
    "customer_id": "x'); drop table main.customer_rfm; --",
    "category": 'Books"; delete from rejected_transactions; --',
    "product_id": "P1' or '1'='1",
}


def test_values_that_look_like_sql_are_stored_as_text(build_staging, tmp_path):
    rows = [line("sql", SQL_LOOKING["customer_id"], day(1), product=SQL_LOOKING["product_id"],
                 category=SQL_LOOKING["category"]), *SHOP]
    staged = build_staging(write_shop(tmp_path / "shop", rows))
    assert staged.success, staged.error
    assert read(staged.database, "select customer_id, category, product_id from staging.stg_shop__transactions "
                                 "where order_id = 'sql'") == [tuple(SQL_LOOKING.values())]
    assert line_counts(staged.database) == (len(rows), 0)


def test_snapshot_date_comes_from_accepted_lines_only(build_staging, tmp_path):
    rows = [*SHOP,  # the latest accepted line is END
            line("no_customer", "", day(-15)),  # later than every accepted line, but rejected
            line("zero", "C1", day(-20), quantity="0"),  # after the snapshot date, so in the future
            line("copy", "C1", day(0)), line("copy", "C1", day(0)),  # one copy kept, one rejected
            line("future", "C2", "2099-01-01 10:00:00")]
    staged = build_staging(write_shop(tmp_path / "shop", rows))
    assert staged.success, staged.error
    assert read(staged.database, "select as_of_date, as_of_source from staging.stg_shop__as_of") == [
        (END, "latest accepted order")]
    assert dict(read(staged.database, "select order_id, reject_reason from main.rejected_transactions")) == {
        "no_customer": "missing_customer_id", "zero": "future_order_ts", "copy": "duplicate_line",
        "future": "future_order_ts"}
    assert line_counts(staged.database) == (len(SHOP) + 1, 4)


# ---------------------------------------------------------------------------------------------------------------
# The one command, as a user runs it


def test_make_run_prints_why_the_run_failed_last(tmp_path):
    """`make run` on a Latin-1 file without `encoding`: the run fails, and the last lines name the file and what to
    set, after Dagster's traceback rather than above it."""
    folder = write_shop(tmp_path / "shop", LATIN_1_LINES, encoding="latin-1")
    bin_dir = Path(sys.executable).parent
    # what `make setup` makes, skipped here (-o setup): the venv is ready
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", "setup", "run", f"BIN={bin_dir}"], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
        env={**os.environ, "SEGMENTS_DATA_DIR": str(folder), "SEGMENTS_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
             "DAGSTER_HOME": str(tmp_path / "dagster_home")})
    assert done.returncode != 0
    output = done.stdout.splitlines()
    ours = max(i for i, text in enumerate(output) if text.startswith("The run ") and "failed" in text)
    assert ours > max(i for i, text in enumerate(output) if "Stack Trace:" in text)  # after Dagster's traceback
    last = "\n".join(output[ours:])
    assert str(folder / "transactions.csv") in last and "not utf-8 encoded" in last
    assert "set its `encoding` in columns.yml" in output[-2]  # then only make's own "Error 1"


def test_two_warehouses_in_one_folder_keep_separate_reports(tmp_path):
    reports = []
    for name in ("segments.duckdb", "my_shop.duckdb"):
        with settings(SEGMENTS_DUCKDB_PATH=str(tmp_path / name)):
            reports.append(Warehouse().report_path("segment_report.html"))
    assert reports == [tmp_path / "reports" / "segments" / "segment_report.html",
                       tmp_path / "reports" / "my_shop" / "segment_report.html"]


# ---------------------------------------------------------------------------------------------------------------
# Tier 3: the whole graph on small or degenerate shops


SEGMENTATION = {"customer_segments", "segment_profiles", "segmentation_metrics", "customer_taste",
                "segment_history", "segment_drift", "feature_distributions", "segment_model_health",
                "segment_rules", "customer_map", "segment_report"}
PROPENSITY = {"customer_propensity", "propensity_evaluation", "customer_churn_risk"}


@dataclass
class Run:
    success: bool
    skipped: dict[str, str]  # asset -> reason, from the materializations' metadata
    warnings: list[str]  # the run's log
    failures: list[str]
    folder: Path
    database: Path


def run_graph(rows, tmp_path: Path, **env: str) -> Run:
    """The whole graph on a folder with `rows`, in process; what it skipped, logged and published."""
    folder = write_shop(tmp_path / "shop", rows)
    database = tmp_path / "warehouse" / "shop.duckdb"
    env = {"SEGMENTS_AS_OF": None, **env}
    instance = DagsterInstance.ephemeral()
    result = materialize_all(folder, database, raise_on_error=False, instance=instance, **env)
    skipped = {}
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            if "skipped" in materialization.metadata:
                skipped[materialization.asset_key.to_user_string()] = materialization.metadata["skipped"].value
    warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level >= 30]
    failures = [str(event.event_specific_data.error) for event in result.all_events if event.is_step_failure]
    return Run(result.success, skipped, warnings, failures, folder, database)


def assert_degrades(run: Run, expected_skips: dict[str, str], lines: int, customers: int) -> None:
    """The run succeeded; at least these assets were skipped, each reason containing its phrase, and said so in the
    log; every input line is accepted or rejected; every customer is in customer_360; nothing skipped is stale."""
    assert run.success, "\n".join(run.failures)
    for asset, phrase in expected_skips.items():
        assert asset in run.skipped, f"{asset} not skipped; skipped: {sorted(run.skipped)}"
        assert phrase in run.skipped[asset], f"{asset}: {run.skipped[asset]!r}"
        assert any(asset in text and run.skipped[asset] in text for text in run.warnings), asset
    accepted, rejected = line_counts(run.database)
    assert accepted + rejected == lines
    assert read(run.database, "select count(*) from customer_360") == [(customers,)]
    tables = {name for (name,) in read(run.database, "select table_name from information_schema.tables "
                                                     "where table_schema = 'main'")}
    for asset in run.skipped:
        if asset in tables and asset != "customer_clv":  # customer_clv keeps every customer, unscored
            assert read(run.database, f"select count(*) from main.{asset}") == [(0,)], asset


def test_one_customer(tmp_path):
    rows = [line(f"O{i}", "C1", day(30 * i), product=f"P{i % 3}") for i in range(6)]
    run = run_graph(rows, tmp_path)
    assert_degrades(run, {
        "customer_segments": "for 1 customer: n_samples=1 is too few",
        "segment_report": "no segments to explain",
        "customer_propensity": "the one customer bought in the horizon after the cutoff",
        "clv_holdout_evaluation": "no customer had bought by the calibration end",
        "segment_validity": "fewer than the 3 a segmentation needs",
    }, lines=6, customers=1)
    assert set(run.skipped) >= SEGMENTATION | PROPENSITY
    assert read(run.database, "select segment_id, rfm_segment is not null from customer_360") == [(None, True)]
    assert read(run.database, "select count(*) from customer_clv") == [(1,)]
    assert not (run.database.parent / "reports" / "shop" / "segment_report.html").exists()


def test_three_customers_over_twenty_days(tmp_path):
    rows = [line(f"O{c}{i}", f"C{c}", day(7 * i + c), quantity=str(1 + c)) for c in range(3) for i in range(3)]
    run = run_graph(rows, tmp_path)
    assert_degrades(run, {
        "customer_segments": "for 3 customers",
        "customer_propensity": "no customer had bought by the cutoff",
        "clv_holdout_evaluation": "less history than the holdout",
        "segment_validity": "less history than the horizon",
    }, lines=9, customers=3)
    assert set(run.skipped) >= SEGMENTATION | PROPENSITY


def test_two_hundred_identical_customers(tmp_path):
    # everyone bought the same thing on the same two days, 80 days apart
    rows = [line(f"O{c}-{i}", f"C{c:03d}", day(80 * i)) for c in range(200) for i in range(2)]
    run = run_graph(rows, tmp_path)
    assert_degrades(run, {
        "customer_segments": "the customers' features hardly differ",
        "customer_propensity": "no customer had bought by the cutoff",
    }, lines=400, customers=200)
    assert set(run.skipped) >= SEGMENTATION | PROPENSITY
    assert read(run.database, "select count(distinct rfm_segment), count(segment_id) from customer_360") == [(1, 0)]


@pytest.fixture(scope="module")
def no_repeat_run(tmp_path_factory):
    """150 customers who each bought once over 400 days; some ids and categories look like SQL."""
    categories = ["Books", "Toys", "Garden", SQL_LOOKING["category"]]
    rows = [line(f"O{c}", SQL_LOOKING["customer_id"] if c == 0 else f"C{c:03d}", day((37 * c) % 400),
                 quantity=str(1 + c % 3), price=f"{5 + (13 * c) % 70}.00", product=f"P{c % 7}",
                 category=categories[c % 4]) for c in range(150)]
    return run_graph(rows, tmp_path_factory.mktemp("no_repeat"))


def test_no_repeat_buyers(no_repeat_run):
    run = no_repeat_run
    assert_degrades(run, {
        "customer_clv": "BG/NBD: no customer made a repeat purchase",
        "clv_model_params": "BG/NBD: no customer made a repeat purchase",
        "clv_holdout_evaluation": "no customer made a repeat purchase",
        "customer_propensity": "customers did not buy in the horizon after the cutoff",
    }, lines=150, customers=150)
    assert not SEGMENTATION & set(run.skipped)  # one purchase each still tells customers apart
    assert read(run.database, "select count(*), count(p_alive), count(clv_12m) from customer_clv") == [(150, 0, 0)]
    assert (run.database.parent / "reports" / "shop" / "segment_report.html").exists()


def test_sql_looking_values_pass_through_the_whole_graph_as_text(no_repeat_run):
    database = no_repeat_run.database
    for table in ("customer_360", "customer_segments", "customer_clv"):
        assert read(database, f"select count(*) from {table} where customer_id = ?",
                    SQL_LOOKING["customer_id"]) == [(1,)], table
    labels = {label for (label,) in read(database, "select label from feature_slots")}
    assert SQL_LOOKING["category"] in labels
    assert read(database, "select count(*) from customer_rfm") == [(150,)]  # not dropped


def test_refit_run_succeeds_without_the_saved_models(no_repeat_run, tmp_path):
    """models/ beside the warehouse deleted: the next snapshot (a day later) refits instead of failing."""
    database = tmp_path / "copy.duckdb"
    database.write_bytes(no_repeat_run.database.read_bytes())  # no models/ beside the copy
    as_of = read(database, "select max(snapshot_date) from segment_history")[0][0] + dt.timedelta(days=1)
    result = materialize(no_repeat_run.folder, database, ["customer_segments"],
                         SEGMENTS_AS_OF=as_of.isoformat())
    assert result.success
    assert read(database, "select count(distinct snapshot_date) from segment_history") == [(2,)]


def test_less_than_ninety_days_of_history(tmp_path):
    # 120 customers over 60 days, a third of them with two or three purchases
    rows = [line(f"O{c}-{i}", f"C{c:03d}", day((7 * c + 11 * i) % 60), product=f"P{(c + i) % 9}",
                 price=f"{5 + (17 * c) % 60}.00") for c in range(120) for i in range(1 + c % 3)]
    run = run_graph(rows, tmp_path)
    assert_degrades(run, {
        "customer_propensity": "no customer had bought by the cutoff",
        "customer_churn_risk": "no customer had bought by the cutoff",
        "clv_holdout_evaluation": "less history than the holdout",
        "segment_validity": "less history than the horizon",
    }, lines=len(rows), customers=120)


def test_more_than_ten_percent_rejected_warns_in_the_run_and_the_summary(tmp_path, capsys):
    rows = [*SHOP, *SHOP[:8],  # 8 exact copies
            line("bad_ts", "C1", "yesterday"), line("no_price", "C2", day(1), price="")]
    folder = write_shop(tmp_path / "shop", rows)
    database = tmp_path / "w.duckdb"
    result = materialize(folder, database, ["rejected_transactions", "stg_shop__transactions"])
    checks = [event.event_specific_data for event in result.all_events
              if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
    share_check, = [check for check in checks if check.check_name.startswith("rejected_share_at_most")]
    assert not share_check.passed and share_check.severity == AssetCheckSeverity.WARN
    assert line_counts(database) == (len(SHOP), 10)
    with settings(DAGSTER_HOME=None):
        print_summary(database)
    last = capsys.readouterr().out.rstrip().splitlines()[-4:]  # the banner ends the summary
    assert last[0] == last[-1] == "!" * 100
    assert last[1].startswith("WARNING: 45.5% of the input lines were rejected (10 of 22, more than 10%): "
                              "duplicate_line 8, missing_unit_price 1, unparseable_order_ts 1.")


def test_between_one_and_two_horizons_propensity_is_published_without_its_holdout(build_staging, tmp_path):
    """150 days of history: the latest labelled window (90 days before the snapshot) can be learnt from, the one
    before it cannot. The propensity asset alone, on the tables dbt built (its own inputs)."""
    from dagster import materialize as materialize_assets

    from dagster_assets.propensity import propensity

    # 60 customers first seen 100 to 159 days before the end; every other one bought again in the last 50 days
    rows = [line(f"O{c}", f"C{c:02d}", day(100 + c)) for c in range(60)]
    rows += [line(f"R{c}", f"C{c:02d}", day(c % 50)) for c in range(0, 60, 2)]
    staged = build_staging(write_shop(tmp_path / "shop", rows), select="+propensity_examples")
    assert staged.success, staged.error
    assert line_counts(staged.database) == (90, 0)
    with settings(SEGMENTS_DUCKDB_PATH=str(staged.database)):
        result = materialize_assets([propensity], resources={"warehouse": Warehouse()})
    assert result.success
    metadata = {event.asset_key.to_user_string(): event.event_specific_data.materialization.metadata
                for event in result.all_events if event.event_type == DagsterEventType.ASSET_MATERIALIZATION}
    assert "skipped" not in metadata["customer_propensity"]
    for asset in ("propensity_evaluation", "customer_churn_risk"):
        assert "no temporal holdout: at the cutoff two horizons before the snapshot" in metadata[asset]["skipped"].value
    assert read(staged.database, "select count(*), count(p_purchase_90d) from customer_propensity") == [(60, 60)]
    assert not read(staged.database, "select table_name from information_schema.tables "
                                     "where table_name in ('propensity_evaluation', 'customer_churn_risk')")
