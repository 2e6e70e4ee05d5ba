"""Segment quality across the generator family: does the segmentation find the planted personas?

    python bench/segment_quality.py [--configs demo whales ...] [--seeds 0 1 2] [--customers N] [--anomalies 0.02]

For every named shop configuration (python_models.datasets.SHOP_CONFIGS, `large_200k` only when asked for) and
seed: generate the shop, build its features with dbt (the real SQL), segment it exactly as the `segmentation`
asset does (`dagster_assets.history.segment_snapshot` with the default SegmentationConfig), and compare with the
planted personas (adjusted Rand index). The baseline is what an analyst would try first: plain K-Means on the
standardised numeric features with the *true* number of personas. Shops and features are cached under
bench/data/quality/ (ignored by git), so a second run times only the segmentation.

Side by side: the adjusted Rand index of the published segments (the rule's choice among every candidate), of the
rule's choice among the feature-space candidates only (what was published before the embedding candidates), of
K-Means on the autoencoder's embedding and of IDEC (the rule's choice within each). With `--anomalies`, the shops
also get that share of planted anomalous customers (left out of the ARI: they are in no persona), and the recall
of each anomaly detector at 2% flagged is reported.

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


def build_shop(name: str, seed: int, customers: int | None, anomalies: float = 0.0) -> tuple[Path, Path]:
    """Generate the shop and build its feature marts once; returns (data folder, warehouse file)."""
    config = SHOP_CONFIGS[name]
    n = customers or config.n_customers
    folder = CACHE / (f"{name}_s{seed}_n{n}" + (f"_a{anomalies:g}" if anomalies else ""))
    database = folder / "warehouse.duckdb"
    if database.exists():
        return folder, database
    generate_shop(name, folder / "data", n_customers=n, seed=config.seed + seed, anomalies=anomalies)
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


def feature_space_labels(result, by_method):
    """Labels of the rule's choice among the feature-space candidates (NaN when its algorithm's own choice differs)."""
    from python_models.segmentation import choose_candidate

    m = result.metrics
    features = m[m["representation"] == "features"]
    chosen = choose_candidate(features, silhouette_tol=0.01)
    algorithm = m.loc[chosen, "algorithm"]
    return by_method[algorithm] if result.model.method_index_.get(algorithm) == chosen else None


def anomaly_recall(snapshot, result, anomalous) -> dict:
    """Recall at 2% flagged of each detector, and of the chosen one, on the planted anomalous customers."""
    from python_models.deep.anomalies import (AutoencoderDetector, IsolationForestDetector,
                                              anomaly_representation, review_anomalies, shared_basket_counts,
                                              top_share)

    frame = result.model_frame(snapshot.features, snapshot.purchases)
    shared = shared_basket_counts(snapshot.purchases, len(frame))
    R, _ = anomaly_representation(result.transformer, frame, shared)
    out = {}
    for detector in (IsolationForestDetector(), AutoencoderDetector()):
        out[f"recall_{detector.name}"] = float(top_share(detector.fit(R).score_samples(R), 0.02)[anomalous].mean())
    review = review_anomalies(frame, shared, result.transformer)
    out["detector"] = review.detector
    out["recall_chosen"] = float(review.customers["flagged"].to_numpy()[anomalous].mean())
    return out


def evaluate(name: str, seed: int, customers: int | None = None, anomalies: float = 0.0) -> dict:
    """One configuration and seed: the chosen model, ARI against the personas per representation, the baseline's,
    the time."""
    from sklearn.metrics import adjusted_rand_score

    from dagster_assets.history import Snapshot, segment_snapshot
    from dagster_assets.segments import SegmentationConfig
    from dagster_assets.warehouse import Warehouse

    folder, database = build_shop(name, seed, customers, anomalies)
    os.environ["SEGMENTS_DUCKDB_PATH"] = str(database)
    snapshot = Snapshot.read(Warehouse())
    truth = pd.read_csv(folder / "data" / "ground_truth" / "personas.csv").set_index("customer_id")["persona"]
    truth = truth.reindex(snapshot.features["customer_id"]).to_numpy()
    known = pd.notna(truth)  # planted anomalous customers are in no persona
    k_true = len(set(truth[known]))
    started = time.perf_counter()
    result = segment_snapshot(snapshot, SegmentationConfig())
    seconds = time.perf_counter() - started
    X = result.transformer.transform(result.model_frame(snapshot.features, snapshot.purchases))
    by_method = {method: labels for method, (labels, _) in result.model.assign_methods(X).items()}
    baseline = plain_kmeans(snapshot.features, k_true, seed)

    def ari(labels):
        return np.nan if labels is None else adjusted_rand_score(truth[known], labels[known])

    row = {
        "config": name, "seed": seed, "customers": int(known.sum()), "personas": k_true,
        "algorithm": result.algorithm, "k": result.n_clusters,
        "ari": ari(result.labels),
        "ari_features": ari(feature_space_labels(result, by_method)),
        "ari_ae_kmeans": ari(by_method.get("ae_kmeans")), "ari_idec": ari(by_method.get("idec")),
        "kmeans_true_k_ari": ari(baseline),
        "outliers": float(result.outlier_mask().mean()), "seconds": seconds,
    }
    if anomalies:
        anomalous = snapshot.features["customer_id"].isin(
            pd.read_csv(folder / "data" / "ground_truth" / "anomalies.csv")["customer_id"]).to_numpy()
        row.update(anomaly_recall(snapshot, result, anomalous))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=[c for c in SHOP_CONFIGS if c != "large_200k"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--customers", type=int, default=None, help="override every configuration's size")
    parser.add_argument("--anomalies", type=float, default=0.0, help="plant this share of anomalous customers")
    args = parser.parse_args()
    rows = []
    for name in args.configs:
        for seed in args.seeds:
            row = evaluate(name, seed, args.customers, args.anomalies)
            rows.append(row)
            extra = (f"  anomalies: IF {row['recall_isolation_forest']:.2f} AE {row['recall_autoencoder']:.2f} "
                     f"chosen {row['detector']} {row['recall_chosen']:.2f}" if args.anomalies else "")
            print(f"{row['config']:<26} seed {seed} n {row['customers']:>7,} personas {row['personas']} -> "
                  f"{row['algorithm']:<9} k {row['k']:>2}  ARI {row['ari']:.3f}  features {row['ari_features']:.3f}"
                  f"  ae_kmeans {row['ari_ae_kmeans']:.3f}  idec {row['ari_idec']:.3f}  "
                  f"(K-Means true k {row['kmeans_true_k_ari']:.3f})  outliers {row['outliers']:.1%}  "
                  f"{row['seconds']:.1f} s{extra}", flush=True)
    table = pd.DataFrame(rows)
    aggregates = dict(
        customers=("customers", "first"), personas=("personas", "first"),
        chosen=("algorithm", lambda a: ", ".join(f"{x}" for x in a)), k=("k", lambda k: ", ".join(map(str, k))),
        ari_mean=("ari", "mean"), ari_min=("ari", "min"), features=("ari_features", "mean"),
        ae_kmeans=("ari_ae_kmeans", "mean"), idec=("ari_idec", "mean"), kmeans_true_k=("kmeans_true_k_ari", "mean"),
        seconds=("seconds", "mean"))
    if args.anomalies:
        aggregates.update(recall_if=("recall_isolation_forest", "mean"), recall_ae=("recall_autoencoder", "mean"),
                          recall_chosen=("recall_chosen", "mean"))
    summary = table.groupby("config", sort=False).agg(**aggregates)
    print()
    print(summary.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
