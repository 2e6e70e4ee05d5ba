"""The feature build on DuckDB and on Spark side by side (issue 14): wall time and peak memory of each engine.

For each shop size (default: the 3,000-customer test shop and 100,000 customers of the `demo` generator config),
`dbt build` of staging, the quarantine and every feature mart (models and seeds, no data tests) runs once per
engine, each in a fresh process (peak memory: the resident memory of that process and its children, Spark's JVM
included, sampled every 0.2 s). Spark runs in local[2] mode with its own warehouse and catalogue folder; its time
includes the session start-up (about 9 s). Prints a Markdown table with the Spark/DuckDB ratio; no asserts.

Usage::

    .venv/bin/python bench/bench_spark.py [--customers 3000 100000] [--seed 7] [--work /tmp/bench_spark]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import tree_rss_mib  # noqa: E402  (resident memory of the driver and its JVM)

SELECT = ["+customer_features", "+customer_clv_summary", "+clv_calibration_summary", "+lifecycle_transitions",
          "+propensity_examples", "+int_customer_items", "rejected_transactions"]


def build(engine: str, data_dir: str, work: str) -> None:
    """One dbt build, in this process (the child of `measure`)."""
    from dbt.cli.main import dbtRunner

    os.environ.update(SEGMENTS_DATA_DIR=data_dir, SEGMENTS_DUCKDB_PATH=f"{work}/segments.duckdb",
                      SEGMENTS_SPARK_DIR=f"{work}/spark")
    result = dbtRunner().invoke(["build", "--quiet", "--target", "dev" if engine == "duckdb" else "spark",
                                 "--profiles-dir", str(ROOT), "--project-dir", str(ROOT),
                                 "--target-path", f"{work}/target", "--log-path", f"{work}/logs",
                                 "--resource-type", "model", "--resource-type", "seed", "--select", *SELECT])
    if not result.success:
        raise SystemExit(f"dbt on {engine} failed: {result.exception or result.result}")


def measure(engine: str, data_dir: Path, work: Path) -> dict:
    """One build in a fresh process: wall time, and the peak of the process tree's memory sampled every 0.2 s."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--step", engine, str(data_dir), str(work)], cwd=ROOT)
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, tree_rss_mib(child.pid))
        time.sleep(0.2)
    if child.returncode:
        raise SystemExit(f"the {engine} build failed")
    return {"engine": engine, "wall_s": round(time.perf_counter() - started, 1), "peak_mib": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[3000, 100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_spark"))
    parser.add_argument("--step", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        build(*args.step)
        return
    from python_models.datasets import generate_shop

    lines = ["| customers | order lines | DuckDB s | Spark s | Spark / DuckDB | DuckDB peak MiB | Spark peak MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in args.customers:
        data_dir = args.work / f"shop_{n}"
        if not (data_dir / "transactions.csv").exists():
            generate_shop("demo", data_dir, n_customers=n, seed=args.seed)
        with open(data_dir / "transactions.csv") as f:
            order_lines = sum(1 for _ in f) - 1
        duck = measure("duckdb", data_dir, args.work / "duckdb")
        spark = measure("spark", data_dir, args.work / "spark")
        print(json.dumps({"customers": n, "order_lines": order_lines, "duckdb": duck, "spark": spark}), flush=True)
        lines.append(f"| {n:,} | {order_lines:,} | {duck['wall_s']} | {spark['wall_s']} | "
                     f"{spark['wall_s'] / duck['wall_s']:.1f}x | {duck['peak_mib']:,} | {spark['peak_mib']:,} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
