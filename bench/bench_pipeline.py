"""Feature build and segmentation (model selection over every candidate) at 100k and 1M customers, against a
plain DuckDB group-by as the floor.

    python bench/bench_pipeline.py [--sizes 100000 1000000]

Generates Parquet demo data once per size under bench/data/ (ignored by git), then times each step in a fresh
process, side by side in one run. The machine is shared: compare the ratios, not the absolute times.
"""

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.measure import run_step  # noqa: E402
from python_models.datasets import generate_shop  # noqa: E402


def data_for(customers: int) -> Path:
    folder = BENCH / "data" / f"shop_{customers}"
    if not (folder / "ground_truth" / "bad_rows.json").exists():
        generate_shop("demo", folder, fmt="parquet", n_customers=customers, seed=42, events=False)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'customers':>10} {'lines':>11} {'step':<14} {'wall s':>8} {'peak MiB':>9} {'x floor':>8}")
    for customers in args.sizes:
        folder = data_for(customers)
        lines = json.loads((folder / "ground_truth" / "bad_rows.json").read_text())["input_rows"]
        database = str(BENCH / "data" / f"warehouse_{customers}.duckdb")
        floor = run_step("floor", str(folder))
        results = [floor, run_step("features", str(folder), database), run_step("segmentation", database)]
        for r in results:
            ratio = r["wall_s"] / floor["wall_s"]
            print(f"{customers:>10,} {lines:>11,} {r['step']:<14} {r['wall_s']:>8.2f} {r['peak_mib']:>9,} {ratio:>8.1f}")


if __name__ == "__main__":
    main()
