"""Building the dbt project on Spark in the test process, and comparing tables across engines (issue 14)."""

import datetime as dt
import importlib.util
import math
import os
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from tests.pipeline import ROOT, settings

# Floating point: sums and divisions may be done in another order by the two engines.
REL_TOL = 1e-9
ABS_TOL = 1e-12


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    if shutil.which("java") is None:
        return "no `java` on PATH: the Spark parity tests need Java 17 (apt-get install openjdk-17-jre-headless)"
    for module, extra in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark[session]")):
        if importlib.util.find_spec(module) is None:
            return f"{extra} is not installed: pip install -e '.[spark]' (make test installs it when java is present)"
    return None


def dbt_on_spark(data_dir: Path, spark_dir: Path, args: list[str], **env: str | None) -> None:
    """A dbt command with the `spark` target, in this process: dbt-spark's session is this process's Spark session,
    so the tables it builds are read here without a second JVM (the embedded catalogue allows one). Its own target
    folder, so the manifest the Dagster code location reads stays the DuckDB one."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's Python workers (MLlib's mapInArrow) use this venv
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_SPARK_DIR=str(spark_dir), **env):
        result = dbtRunner().invoke([*args, "--quiet", "--target", "spark", "--project-dir", str(ROOT),
                                     "--profiles-dir", str(ROOT), "--target-path", str(spark_dir / "target"),
                                     "--log-path", str(spark_dir / "logs")])
    assert result.success, f"dbt {' '.join(args)} on Spark failed: {result.exception or result.result}"


def canonical(value):
    """One value as both engines' Arrow rows should hold it: instants as naive UTC, decimals as Decimal."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def sort_key(row: tuple) -> tuple:
    """Rows ordered by every value, NULL first; floats rounded so that a last-digit difference keeps the order."""
    return tuple((v is not None, round(v, 6) if isinstance(v, float) else str(v) if v is not None else "")
                 for v in row)


def rows(table: pa.Table) -> list[tuple]:
    columns = [[canonical(v) for v in column.to_pylist()] for column in table.columns]
    return sorted(zip(*columns), key=sort_key)


def same_value(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(a) == Decimal(b)
    return a == b


def differences(duck: pa.Table, spark: pa.Table, limit: int = 5) -> list[str]:
    """Where two tables differ as sets of rows (floats to REL_TOL): column names, row counts, then values."""
    if duck.column_names != spark.column_names:
        return [f"columns {duck.column_names} != {spark.column_names}"]
    if duck.num_rows != spark.num_rows:
        return [f"{duck.num_rows} rows on DuckDB, {spark.num_rows} on Spark"]
    found = []
    for a, b in zip(rows(duck), rows(spark)):
        for name, x, y in zip(duck.column_names, a, b):
            if not same_value(x, y):
                found.append(f"{name}: {x!r} (DuckDB) != {y!r} (Spark) in row {a}")
                if len(found) == limit:
                    return found
    return found
