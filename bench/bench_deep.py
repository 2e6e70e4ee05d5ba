"""The deep steps at 100k and 1M customers: autoencoder training (per epoch, to convergence), embedding, the
embedding candidates (K-Means on the embedding and IDEC, with stability and robustness), anomaly scores and
synthetic customers, each timed, with the process's peak memory.

    python bench/bench_deep.py [--sizes 100000 1000000]

Uses the warehouses bench/bench_pipeline.py builds (bench/data/warehouse_<N>.duckdb; built here when missing). Each
size runs in a fresh process. Target: 1M customers embedded, clustered and scored in under 5 minutes on 2 cores,
peak under 4 GB. The machine is shared: compare ratios measured side by side.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))


def deep_steps(database: str) -> dict:
    """Every deep step on one warehouse; returns seconds per step (the caller adds the peak memory)."""
    import numpy as np

    from dagster_assets.history import Snapshot
    from dagster_assets.warehouse import Warehouse
    from python_models.deep import CustomerAutoencoder, autoencoder_layout, idec_refine
    from python_models.deep.anomalies import review_anomalies, shared_basket_counts
    from python_models.deep.synthetic import generate_synthetic, synthetic_quality
    from python_models.segmentation import CustomerFeatureTransformer, ModelSelector, TasteModel
    from python_models.segmentation.pipeline import _append_taste, extreme_customers, perturbation_scale

    os.environ["SEGMENTS_DUCKDB_PATH"] = database
    seconds = {}

    def timed(name, fn):
        start = time.perf_counter()
        out = fn()
        seconds[name] = round(time.perf_counter() - start, 2)
        print(f"# {name}: {seconds[name]:.1f} s", file=sys.stderr, flush=True)
        return out

    snapshot = timed("read", lambda: Snapshot.read(Warehouse()))
    n = len(snapshot.features)

    def representation():
        taste = TasteModel(random_state=0)
        frame = _append_taste(snapshot.features, taste.fit_transform(snapshot.purchases, n))
        transformer = CustomerFeatureTransformer()
        X = transformer.fit_transform(frame)
        extreme = extreme_customers(transformer.outlier_scores(frame), 6.0, 0.02)
        return frame, transformer, X, extreme

    frame, transformer, X, extreme = timed("taste and transform", representation)
    ae = timed("autoencoder training", lambda: CustomerAutoencoder(**autoencoder_layout(transformer)).fit(
        X[~extreme]))
    seconds["epochs"] = ae.history_.epochs
    seconds["seconds_per_epoch"] = round(ae.history_.seconds_per_epoch, 3)
    timed("embedding all customers", lambda: ae.transform(X))
    # the embedding candidates start from the feature-space choice: K-Means k = 4..10 is their start
    selector = timed("K-Means k=4..10, then ae_kmeans and idec from its choice (5 stability refits, robustness)",
                     lambda: ModelSelector(algorithms=("kmeans", "ae_kmeans", "idec"), autoencoder=ae,
                                           perturbation_scale=perturbation_scale(transformer)).fit(X[~extreme]))
    rows = np.random.default_rng(0).choice(n, size=min(n, 50_000), replace=False)
    centers = selector.method_rules_["ae_kmeans"].centers
    timed("one IDEC refinement (50k rows)", lambda: idec_refine(ae, X[rows], centers))
    timed("assignments of every method", lambda: selector.assign_methods(X))
    shared = timed("shared baskets", lambda: shared_basket_counts(snapshot.purchases, n))
    timed("anomaly review (both detectors, planted check)", lambda: review_anomalies(frame, shared, transformer))
    labels = selector.labels_ if len(selector.labels_) == n else selector.predict(X)
    made = timed("synthetic customers (10k)", lambda: generate_synthetic(frame, labels, transformer, 10_000))
    timed("synthetic quality", lambda: synthetic_quality(frame, labels, transformer, made))
    seconds["customers"] = n
    return seconds


def run(database: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", database], check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        start = time.perf_counter()
        result = deep_steps(args.step)
        result["total_s"] = round(time.perf_counter() - start, 2)
        result["peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(result))
        return
    from bench.bench_pipeline import data_for
    from bench.measure import run_step

    for customers in args.sizes:
        database = BENCH / "data" / f"warehouse_{customers}.duckdb"
        if not database.exists():
            run_step("features", str(data_for(customers)), str(database))
        result = run(str(database))
        print(f"\n{customers:,} customers: peak {result.pop('peak_mib'):,} MiB, total {result.pop('total_s')} s")
        for name, value in result.items():
            print(f"  {name:<80} {value}")


if __name__ == "__main__":
    main()
