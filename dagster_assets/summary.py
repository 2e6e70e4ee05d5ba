"""What `make run` prints last: `python -m dagster_assets.summary`.

After a run: where the warehouse is, a row count per table, the rejected lines (loudly above 10% of the input),
the segments, and the steps the latest run skipped and why. After a failed run (`--failed-since`, given the time
the run was started): why it failed, in a few lines, so the reason is the last thing on the screen rather than
Dagster's traceback.
"""

import argparse
import datetime as dt
import re
import sys

import duckdb
from dagster import DagsterEventType, DagsterInstance, EnvVar, RunsFilter

from .warehouse import DATABASE_ENV_VAR, resolve_database_path

# Above this share of input lines rejected, the summary warns (as does the dbt check on rejected_transactions).
MAX_REJECTED_SHARE = 0.10
# Schemas of the past snapshots' builds (SCHEMA_PREFIX of validity.py and snapshots.py; not imported: those load
# the dbt project, which the summary does not need)
WORKING_PREFIXES = ("holdout_", "snapshot_")
DBT_ERRORS_MARKER = "Errors parsed from dbt logs:"
# Errors whose remedy is a setting the message does not name: phrase in the error -> what to do.
HINTS = {"not utf-8 encoded": "The file is not UTF-8: set its `encoding` in columns.yml (latin-1 or utf-16; README, "
                              "'Bring your own data')."}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failed-since", type=float, metavar="UNIX_TIME",
                        help="print why the run started after this time failed, instead of the summary")
    args = parser.parse_args(argv)
    if args.failed_since is not None:
        print_failure(dt.datetime.fromtimestamp(args.failed_since, dt.timezone.utc))
        return 1
    print_summary(resolve_database_path(EnvVar(DATABASE_ENV_VAR).get_value()))
    return 0


def print_summary(path) -> None:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by table_schema, table_name"
        ).fetchall()
        print(f"\nWarehouse: {path}")
        for schema, table in tables:
            if schema.startswith(WORKING_PREFIXES):
                continue
            rows = con.sql(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
            print(f"  {schema + '.' + table:<45} {rows:>12,} rows")
        working = sorted({schema for schema, _ in tables if schema.startswith(WORKING_PREFIXES)})
        if working:
            print(f"  (not listed: {', '.join(working)}, the working tables of past snapshots' builds)")
        present = {f"{schema}.{table}" for schema, table in tables}
        warning = print_rejected(con) if "main.rejected_transactions" in present else None
        segments = con.sql(
            "select segment_id, segment_name, size, round(100 * share, 1) from main.segment_profiles order by 1"
        ).fetchall() if "main.segment_profiles" in present else []
        print("Segments:" if segments else "Segments: none at this snapshot (see the skipped steps below)")
        for segment_id, name, size, share in segments:
            print(f"  {segment_id:>2}  {name:<45} " + (f"{size:>9,} customers ({share}%)" if size is not None
                                                      else "too few customers to show (SEGMENTS_MIN_GROUP_SIZE)"))
        if "main.segment_history" in present:
            count, first, last = con.sql("select count(distinct snapshot_date), min(snapshot_date), "
                                         "max(snapshot_date) from main.segment_history").fetchall()[0]
            if count:
                print(f"Segment history: {count} snapshot(s), {first} to {last} "
                      "(`make backfill` adds past month ends).")
    print_skipped()
    print(f"\nQuery it read-only (BI tools: see README, 'Connect a BI tool'):\n"
          f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{path}', read_only=True)"
          f".sql('from customer_360 limit 5'))\"")
    if warning:
        print(warning)


def print_rejected(con: duckdb.DuckDBPyConnection) -> str | None:
    """Print the rejected lines by reason; return the warning to print last when they are more than
    MAX_REJECTED_SHARE of the input."""
    rejected = con.sql(
        "select reject_reason, count(*) from main.rejected_transactions group by 1 order by 2 desc, 1"
    ).fetchall()
    if not rejected:
        return None
    reasons = ", ".join(f"{r} {n:,}" for r, n in rejected)
    lines = con.sql("select count(*) from staging.stg_shop__transaction_lines").fetchall()[0][0]
    count = sum(n for _, n in rejected)
    print(f"Rejected input lines by reason ({count / lines:.1%} of {lines:,}): {reasons}")
    if count <= MAX_REJECTED_SHARE * lines:
        return None
    bar = "!" * 100
    return (f"\n{bar}\nWARNING: {count / lines:.1%} of the input lines were rejected ({count:,} of {lines:,}, more "
            f"than {MAX_REJECTED_SHARE:.0%}): {reasons}.\nThe tables describe only the accepted lines. Check the "
            "file against columns.yml (formats, delimiter, encoding); every rejected line is in "
            f"rejected_transactions with its reason.\n{bar}")


def _latest_run(since: dt.datetime | None = None):
    """The instance (DAGSTER_HOME) and its latest run (started after `since`), or (None, None)."""
    try:
        instance = DagsterInstance.get()
    except Exception:  # no DAGSTER_HOME: the summary alone, without the run's story
        return None, None
    runs = instance.get_runs(filters=RunsFilter(created_after=since) if since else None, limit=1)
    return instance, (runs[0] if runs else None)


def print_skipped() -> None:
    instance, run = _latest_run()
    if run is None:
        return
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    skipped = {}
    for record in records:
        materialization = record.event_log_entry.dagster_event.step_materialization_data.materialization
        if "skipped" in materialization.metadata:
            skipped[materialization.asset_key.to_user_string()] = materialization.metadata["skipped"].value
    if skipped:
        print(f"Skipped in the latest run ({run.run_id[:8]}), with nothing stale left in their tables:")
        for asset, reason in skipped.items():
            print(f"  {asset}: {reason}")


def print_failure(since: dt.datetime) -> None:
    """Why the run started after `since` failed: each failed step's own message, without the traceback."""
    instance, run = _latest_run(since)
    if run is None:  # it never started (the code location did not load): the error above is the message
        return
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_FAILURE).records
    print(f"\nThe run {run.run_id[:8]} failed (the full log is above and in `make dev`):", file=sys.stderr)
    for record in records:
        event = record.event_log_entry.dagster_event
        print(f"  step {event.step_key}:\n    " + "\n    ".join(failure_lines(event.step_failure_data.error)),
              file=sys.stderr)


def failure_lines(error) -> list[str]:
    """The lines that say what went wrong: dbt's own errors for a dbt step, else the innermost exception."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    hints = [hint for phrase, hint in HINTS.items() if phrase in message.lower()]
    if DBT_ERRORS_MARKER in message:
        message = message.split(DBT_ERRORS_MARKER, 1)[1]
        lines = [line.strip() for line in message.splitlines() if not _noise(line.strip())]
    else:
        lines = message.splitlines()
    return lines + hints


def _noise(line: str) -> bool:
    """Lines of a dbt error that say nothing to a user: blank, dbt's macro call stack (`> in macro ...`), the SQL
    position (`LINE 3: ...`, `^^^`) and the CSV reader's settings (`quote = " (Auto-Detected)`) but for the file."""
    return (not line or line.startswith((">", "LINE ", "^", "Encountered an error"))
            or (re.match(r"[a-z_]+ = ", line) is not None and not line.startswith("file = ")))


if __name__ == "__main__":
    sys.exit(main())
