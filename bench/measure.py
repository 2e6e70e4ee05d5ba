"""Run one benchmark step in a fresh process and report its wall time and peak memory.

Each step is a separate process so peaks do not carry over: `python bench/measure.py STEP ARGS...` prints one JSON
line `{"step": ..., "wall_s": ..., "peak_mib": ...}` (ru_maxrss of the process itself; dbt runs in process).
"""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def floor_query(data_dir: str) -> None:
    """The floor: a plain DuckDB group-by over the same order lines."""
    import duckdb

    path = next(Path(data_dir).glob("transactions.*"))
    reader = f"read_parquet('{path}')" if path.suffix == ".parquet" else f"read_csv('{path}', all_varchar=true)"
    duckdb.connect().sql(
        f"select customer_id, count(*), sum(try_cast(quantity as double) * try_cast(unit_price as double)), "
        f"max(order_ts) from {reader} group by 1"
    ).fetchall()


def feature_build(data_dir: str, database: str) -> None:
    """dbt builds staging, the quarantine and every feature mart (no tests), as `make run` would."""
    from dbt.cli.main import dbtRunner

    os.environ.update(SEGMENTS_DATA_DIR=data_dir, SEGMENTS_DUCKDB_PATH=database)
    Path(database).unlink(missing_ok=True)
    result = dbtRunner().invoke(["build", "--quiet", "--profiles-dir", str(ROOT), "--project-dir", str(ROOT),
                                 "--resource-type", "model", "--resource-type", "seed",
                                 "--select", "+customer_features", "+customer_clv_summary", "+int_customer_items",
                                 "rejected_transactions"])
    if not result.success:
        raise SystemExit(f"dbt failed: {result.exception}")


def segmentation(database: str) -> None:
    """Read the features and purchases as Arrow and run the segmentation the asset runs: product taste, then model
    selection over K-Means, Gaussian mixture and Ward for k = 4..10 and three HDBSCAN settings, with 5 bootstrap
    refits each."""
    from dagster_assets.history import Snapshot, segment_snapshot
    from dagster_assets.segments import SegmentationConfig
    from dagster_assets.warehouse import Warehouse

    os.environ["SEGMENTS_DUCKDB_PATH"] = database
    snapshot = Snapshot.read(Warehouse())
    result = segment_snapshot(snapshot, SegmentationConfig())
    print(f"# chose {result.algorithm} k={result.n_clusters} of {len(result.metrics)} candidates "
          f"on {len(snapshot.features):,} customers ({len(snapshot.purchases):,} customer x product pairs)",
          file=sys.stderr)


STEPS = {"floor": floor_query, "features": feature_build, "segmentation": segmentation}


def run_step(step: str, *args: str) -> dict:
    """Run a step in a child process and return its measurements."""
    out = subprocess.run([sys.executable, __file__, step, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    step, *arguments = sys.argv[1:]
    start = time.perf_counter()
    STEPS[step](*arguments)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step": step, "wall_s": round(wall, 2), "peak_mib": round(peak)}))


PAGE_KIB = os.sysconf("SC_PAGE_SIZE") / 1024


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants (a dbt step's children, Spark's JVM), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * PAGE_KIB / 1024
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total
