"""Model selection at 100k and 1M customers: what ``segment_customers`` does, phase by phase.

    python bench/bench_model_selection.py [--sizes 100000 1000000] [--rebuild]

For each size, in a fresh process (so peaks do not carry over):

* **load**: ``customer_features`` of the demo shop (``python_models.datasets``, seed 42, as
  ``bench/bench_pipeline.py``) read from ``bench/data/warehouse_<N>.duckdb``; the shop and the warehouse are
  generated and built with dbt first when missing (``--rebuild`` rebuilds the warehouse);
* **transform**: ``CustomerFeatureTransformer`` (default settings) fit + transform;
* **select**: ``ModelSelector`` with the defaults of ``segment_customers``: K-Means, Gaussian mixture and Ward
  for k = 2..10 and HDBSCAN at three minimum cluster sizes (30 candidates), 5 bootstrap refits each;
* **distances**: distance of every customer to its segment centre;
* **profiles**: ``profile_segments`` (sizes, means, lifts, effect sizes, names).

"model selection" is transform + select, the target being 1M customers in under 3 minutes on two cores.
Peak memory is the process high-water mark (``ru_maxrss``), reported in total and above the loaded features.
The machine may be shared: the load average is printed before and after each size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warehouse_for(customers: int, rebuild: bool = False) -> Path:
    """The demo shop's warehouse with ``customer_features`` for ``customers`` customers (built when missing)."""
    from bench.bench_pipeline import data_for
    from bench.measure import run_step

    database = BENCH / "data" / f"warehouse_{customers}.duckdb"
    if rebuild or not database.exists():
        folder = data_for(customers)
        run_step("features", str(folder), str(database))
    return database


def child(database: str) -> None:
    """Time the phases of ``segment_customers`` on one warehouse; print one JSON line."""
    import duckdb
    import numpy as np

    from python_models.segmentation import CustomerFeatureTransformer, profile_segments
    from python_models.segmentation.model_selection import ModelSelector
    from python_models.segmentation.pipeline import _distances_to_own_centre

    out = {}
    t0 = time.perf_counter()
    with duckdb.connect(database, read_only=True) as con:
        features = con.sql("select * from customer_features order by customer_id").arrow().read_all().to_pandas()
    out["load_s"] = time.perf_counter() - t0
    out["load_peak_mib"] = _peak_mib()
    out["customers"], out["columns"] = features.shape

    t = time.perf_counter()
    X = CustomerFeatureTransformer(id_columns=("customer_id",)).fit_transform(features)
    out["transform_s"] = time.perf_counter() - t
    out["matrix_cols"] = X.shape[1]

    t = time.perf_counter()
    model = ModelSelector().fit(X)
    out["select_s"] = time.perf_counter() - t
    out["selection_peak_mib"] = _peak_mib()

    t = time.perf_counter()
    _distances_to_own_centre(X, model.cluster_centers_, model.labels_)
    out["distances_s"] = time.perf_counter() - t

    t = time.perf_counter()
    profile_segments(features, model.labels_)
    out["profiles_s"] = time.perf_counter() - t
    out["peak_mib"] = _peak_mib()

    out["algorithm"], out["k"] = model.algorithm_, model.n_clusters_
    out["noise"] = int(np.count_nonzero(model.labels_ < 0))
    out["candidates"] = len(model.metrics_)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the feature warehouses")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores visible, {len(os.sched_getaffinity(0))} usable")
    header = (f"{'customers':>10} {'load avg':>13} {'transform s':>11} {'select s':>9} {'selection s':>11} "
              f"{'dist s':>7} {'profile s':>9} {'peak MiB':>9} {'above data':>10}  chosen")
    print(header)
    for customers in args.sizes:
        database = warehouse_for(customers, args.rebuild)
        before = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, __file__, "--child", str(database)], check=True,
                              capture_output=True, text=True)
        after = os.getloadavg()[0]
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        selection = r["transform_s"] + r["select_s"]
        above = r["selection_peak_mib"] - r["load_peak_mib"]
        print(f"{r['customers']:>10,} {before:>6.2f}->{after:<5.2f} {r['transform_s']:>11.1f} {r['select_s']:>9.1f} "
              f"{selection:>11.1f} {r['distances_s']:>7.2f} {r['profiles_s']:>9.1f} {r['peak_mib']:>9,.0f} "
              f"{above:>10,.0f}  {r['algorithm']} k={r['k']} ({r['noise']} noise) of {r['candidates']}",
              flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
