"""Segment quality across the generator family: does the segmentation find the planted personas?

    python bench/segment_quality.py [--configs demo whales ...] [--seeds 0 1 2] [--customers N]

For every named shop configuration (python_models.datasets.SHOP_CONFIGS, `large_200k` only when asked for) and
seed: generate the shop, build its features with dbt (the real SQL), segment it exactly as the `segmentation`
asset does (`dagster_assets.history.segment_snapshot` with the default SegmentationConfig), and compare with the
planted personas (adjusted Rand index). The baseline is what an analyst would try first: plain K-Means on the
standardised numeric features with the *true* number of personas. Shops and features are cached under
bench/data/quality/ (ignored by git), so a second run times only the segmentation.

`holdout` is a configuration nothing was tuned on: report its rows as the figures to expect on a new shop.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from python_models.datasets import SHOP_CONFIGS, generate_shop  # noqa: E402

CACHE = BENCH / "data" / "quality"
FEATURE_MODELS = ["+customer_features", "+feature_slots", "+customer_rfm", "+int_customer_items",
                  "rejected_transactions"]


def build_shop(name: str, seed: int, customers: int | None) -> tuple[Path, Path]:
    """Generate the shop and build its feature marts once; returns (data folder, warehouse file)."""
    config = SHOP_CONFIGS[name]
    n = customers or config.n_customers
    folder = CACHE / f"{name}_s{seed}_n{n}"
    database = folder / "warehouse.duckdb"
    if database.exists():
        return folder, database
    generate_shop(name, folder / "data", n_customers=n, seed=config.seed + seed)
    # in its own process: dbt-duckdb keeps its connection to the file open after an in-process invoke
    env = {**os.environ, "SEGMENTS_DATA_DIR": str(folder / "data"), "SEGMENTS_DUCKDB_PATH": str(database)}
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "build", "--quiet", "--profiles-dir", str(ROOT),
                    "--project-dir", str(ROOT), "--resource-type", "model", "--resource-type", "seed",
                    "--select", *FEATURE_MODELS], cwd=ROOT, env=env, check=True)
    return folder, database


def plain_kmeans(features: pd.DataFrame, k: int, seed: int) -> np.ndarray:
    """The baseline: K-Means with the true k on the numeric features, each standardised."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    numeric = features.drop(columns="customer_id").select_dtypes("number")
    X = StandardScaler().fit_transform(numeric.to_numpy(float))
    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(X)


def evaluate(name: str, seed: int, customers: int | None = None) -> dict:
    """One configuration and seed: the chosen model, its ARI against the personas, the baseline's, the time."""
    from sklearn.metrics import adjusted_rand_score

    from dagster_assets.history import Snapshot, segment_snapshot
    from dagster_assets.segments import SegmentationConfig
    from dagster_assets.warehouse import Warehouse

    folder, database = build_shop(name, seed, customers)
    os.environ["SEGMENTS_DUCKDB_PATH"] = str(database)
    snapshot = Snapshot.read(Warehouse())
    truth = pd.read_csv(folder / "data" / "ground_truth" / "personas.csv").set_index("customer_id")["persona"]
    truth = truth.reindex(snapshot.features["customer_id"]).to_numpy()
    k_true = len(set(truth))
    started = time.perf_counter()
    result = segment_snapshot(snapshot, SegmentationConfig())
    seconds = time.perf_counter() - started
    baseline = plain_kmeans(snapshot.features, k_true, seed)
    return {
        "config": name, "seed": seed, "customers": len(truth), "personas": k_true,
        "algorithm": result.algorithm, "k": result.n_clusters,
        "ari": adjusted_rand_score(truth, result.labels),
        "kmeans_true_k_ari": adjusted_rand_score(truth, baseline),
        "outliers": float(result.outlier_mask().mean()), "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=[c for c in SHOP_CONFIGS if c != "large_200k"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--customers", type=int, default=None, help="override every configuration's size")
    args = parser.parse_args()
    rows = []
    for name in args.configs:
        for seed in args.seeds:
            row = evaluate(name, seed, args.customers)
            rows.append(row)
            print(f"{row['config']:<26} seed {seed} n {row['customers']:>7,} personas {row['personas']} -> "
                  f"{row['algorithm']:<7} k {row['k']:>2}  ARI {row['ari']:.3f}  "
                  f"(K-Means true k {row['kmeans_true_k_ari']:.3f})  outliers {row['outliers']:.1%}  "
                  f"{row['seconds']:.1f} s", flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("config", sort=False).agg(
        customers=("customers", "first"), personas=("personas", "first"),
        chosen=("algorithm", lambda a: ", ".join(f"{x}" for x in a)), k=("k", lambda k: ", ".join(map(str, k))),
        ari_mean=("ari", "mean"), ari_min=("ari", "min"), kmeans_true_k=("kmeans_true_k_ari", "mean"),
        seconds=("seconds", "mean"))
    print()
    print(summary.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
