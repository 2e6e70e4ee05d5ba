"""The whole graph through the one command, per asset: wall time and peak memory, with the floor beside it.

    python bench/bench_graph.py [--customers 1000000]

Generates the demo shop once under bench/data/ (ignored by git), then, side by side in one run:
- the floor: a plain DuckDB group-by over the same order lines (bench/measure.py);
- dbt's fixed start-up: `dbt run` selecting nothing (parse, connection, the raw-file registration hook);
- `dagster asset materialize -m dagster_assets.definitions --select '*'`, as `make run` runs it, into a fresh
  warehouse and Dagster home. Step times come from the run's event log; memory is the resident size of the run's
  whole process tree (dbt included), sampled every 0.2 s and attributed to the step running at that moment.
The machine may be shared: compare the ratios, not the absolute times.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import data_for  # noqa: E402
from bench.measure import run_step, tree_rss_mib  # noqa: E402

BIN = Path(sys.executable).parent
def run_graph(data_dir: Path, database: Path, dagster_home: Path) -> tuple[float, list[tuple[float, float]]]:
    """Materialize everything with the documented command; its wall time and (time, MiB) samples."""
    env = {**os.environ, "SEGMENTS_DATA_DIR": str(data_dir), "SEGMENTS_DUCKDB_PATH": str(database),
           "DAGSTER_HOME": str(dagster_home)}
    samples: list[tuple[float, float]] = []
    start = time.time()
    with open(dagster_home / "run.log", "w") as log:
        run = subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", "-m", "dagster_assets.definitions",
                                "--select", "*"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

        def sample():
            while run.poll() is None:
                samples.append((time.time(), tree_rss_mib(run.pid)))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        code = run.wait()
        sampler.join()
    if code != 0:
        raise SystemExit(f"the run failed; see {dagster_home / 'run.log'}")
    return time.time() - start, samples


def step_windows(dagster_home: Path) -> dict[str, tuple[float, float]]:
    """(start, end) of every step of the one run in this Dagster home, from its event log."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from dagster import DagsterEventType, DagsterInstance

    instance = DagsterInstance.get()
    [run] = instance.get_runs()
    windows: dict[str, list[float]] = {}
    for event in instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}):
        windows.setdefault(event.dagster_event.step_key, []).append(event.timestamp)
    return {step: (min(times), max(times)) for step, times in windows.items()}


def dbt_startup(data_dir: Path, database: Path) -> float:
    env = {**os.environ, "SEGMENTS_DATA_DIR": str(data_dir), "SEGMENTS_DUCKDB_PATH": str(database)}
    start = time.time()
    subprocess.run([str(BIN / "dbt"), "run", "--quiet", "--profiles-dir", str(ROOT), "--select", "none_such_model"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    data_dir = data_for(args.customers)
    lines = json.loads((data_dir / "ground_truth" / "bad_rows.json").read_text())["input_rows"]
    work = BENCH / "data" / f"graph_{args.customers}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "dagster_home").mkdir(parents=True)
    database = work / "warehouse" / "segments.duckdb"

    floor = run_step("floor", str(data_dir))["wall_s"]
    startup = dbt_startup(data_dir, work / "startup.duckdb")
    wall, samples = run_graph(data_dir, database, work / "dagster_home")
    windows = step_windows(work / "dagster_home")

    print(f"{args.customers:,} customers, {lines:,} order lines; floor {floor:.1f} s, dbt start-up {startup:.1f} s")
    print(f"{'step':<24} {'wall s':>8} {'peak MiB':>9}")
    rows = []
    for step, (begin, end) in sorted(windows.items(), key=lambda item: item[1][0]):
        peak = max((mib for t, mib in samples if begin <= t <= end), default=0.0)
        rows.append({"step": step, "wall_s": round(end - begin, 1), "peak_mib": round(peak)})
        print(f"{step:<24} {end - begin:>8.1f} {peak:>9,.0f}")
    overall_peak = max(mib for _, mib in samples)
    # the run's first dbt step builds staging through the feature marts (Dagster numbers the dbt steps by plan,
    # not by order)
    begin, end = min((w for step, w in windows.items() if step.startswith("dbt_models")), key=lambda w: w[0])
    dbt_wall = end - begin
    print(f"{'whole run':<24} {wall:>8.1f} {overall_peak:>9,.0f}")
    print(f"feature build (the first dbt step: models and tests), start-up excluded: "
          f"{(dbt_wall - startup) / floor:.1f}x the floor")
    (work / "result.json").write_text(json.dumps({
        "customers": args.customers, "lines": lines, "floor_s": floor, "dbt_startup_s": round(startup, 1),
        "wall_s": round(wall, 1), "peak_mib": round(overall_peak), "steps": rows}, indent=1))


if __name__ == "__main__":
    main()
