"""Print where the warehouse is and a row count per table: `python -m dagster_assets.summary`."""

import duckdb
from dagster import EnvVar

from .warehouse import DATABASE_ENV_VAR, resolve_database_path


def main() -> None:
    path = resolve_database_path(EnvVar(DATABASE_ENV_VAR).get_value())
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by table_schema, table_name"
        ).fetchall()
        print(f"\nWarehouse: {path}")
        for schema, table in tables:
            rows = con.sql(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
            print(f"  {schema + '.' + table:<45} {rows:>12,} rows")
        rejected = con.sql(
            "select reject_reason, count(*) from main.rejected_transactions group by 1 order by 2 desc"
        ).fetchall()
        if rejected:
            print("Rejected input lines by reason: " + ", ".join(f"{r} {n:,}" for r, n in rejected))
        segments = con.sql(
            "select segment_id, segment_name, size, round(100 * share, 1) from main.segment_profiles order by 1"
        ).fetchall()
        print("Segments:")
        for segment_id, name, size, share in segments:
            print(f"  {segment_id:>2}  {name:<45} {size:>9,} customers ({share}%)")
        count, first, last = con.sql(
            "select count(distinct snapshot_date), min(snapshot_date), max(snapshot_date) from main.segment_history"
        ).fetchall()[0]
        print(f"Segment history: {count} snapshot(s), {first} to {last} (`make backfill` adds past month ends).")
        print(f"\nQuery it read-only (BI tools: see README, 'Connect a BI tool'):\n"
              f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{path}', read_only=True)"
              f".sql('from customer_360 limit 5'))\"")


if __name__ == "__main__":
    main()
