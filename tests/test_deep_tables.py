"""The deep tables of a whole-graph run on the 3,000-customer demo shop (the shared demo_warehouse fixture).

Truth here is structural: one row per customer (and method), the chosen method's rows are customer_segments, the
embedding in the warehouse is what the saved artifact gives, two trainings agree to 1e-6, a second fit on the same
features loads the artifact instead of training.
"""

from pathlib import Path

import joblib
import numpy as np
import yaml

from dagster_assets.history import Snapshot
from dagster_assets.segments import SegmentationConfig
from dagster_assets.warehouse import Warehouse
from python_models.deep import AutoencoderStore, CustomerAutoencoder, load_autoencoder
from python_models.segmentation import choose_candidate
from tests.pipeline import frame, query, settings

SOURCES = Path(__file__).resolve().parent.parent / "models" / "staging" / "_ml__sources.yml"


def test_candidates_of_every_representation_are_scored_with_their_robustness(demo_warehouse):
    metrics = frame(demo_warehouse, "select * from segmentation_metrics")
    assert set(metrics["representation"]) == {"features", "autoencoder", "idec"}
    assert set(metrics.loc[metrics["representation"] == "autoencoder", "algorithm"]) == {"ae_kmeans"}
    # K-Means on the embedding starts from the rule's choice among the feature-space candidates, IDEC refines it
    features = metrics[metrics["representation"] == "features"]
    ae, = metrics.loc[metrics["algorithm"] == "ae_kmeans", "k"]
    idec, = metrics.loc[metrics["algorithm"] == "idec", "k"]
    assert ae == idec == features.loc[choose_candidate(features), "k"]
    assert metrics["chosen"].sum() == 1
    for column in ("noise_flip_rate", "adversarial_flip_rate"):
        assert metrics[column].between(0, 1).all(), column
    # the gradient-sign step moves more customers than noise of the same size, for every candidate
    assert (metrics["adversarial_flip_rate"] >= metrics["noise_flip_rate"]).all()


def test_segment_assignments_hold_every_fitted_method_and_the_published_one(demo_warehouse):
    customers, = query(demo_warehouse, "select count(*) from customer_segments")[0]
    per_method = frame(demo_warehouse, "select method, count(*) as n, count(distinct customer_id) as ids, "
                                       "min(confidence) as lo, max(confidence) as hi "
                                       "from segment_assignments group by method")
    assert {"kmeans", "ae_kmeans", "idec"} <= set(per_method["method"])
    assert (per_method["n"] == customers).all() and (per_method["ids"] == customers).all()
    assert (per_method["lo"] > 0).all() and (per_method["hi"] <= 1).all()
    chosen, = query(demo_warehouse, "select algorithm from segmentation_metrics where chosen")[0]
    assert query(demo_warehouse, "select distinct method from customer_segments") == [(chosen,)]
    differing, = query(demo_warehouse, f"""
        select count(*) from customer_segments s join segment_assignments a
          on a.customer_id = s.customer_id and a.method = '{chosen}'
        where a.segment_id <> s.segment_id""")[0]
    assert differing == 0


def test_embedding_table_is_what_the_saved_artifact_gives(demo_warehouse):
    embeddings = frame(demo_warehouse, "select * from customer_embeddings order by customer_id")
    customers, = query(demo_warehouse, "select count(*) from customer_features")[0]
    assert len(embeddings) == customers and embeddings["model_version"].nunique() == 1
    dims = [c for c in embeddings.columns if c.startswith("dim_")]
    assert dims == [f"dim_{j:02d}" for j in range(1, SegmentationConfig().embedding_dim + 1)]
    version = embeddings["model_version"].iloc[0]
    artifacts = list((demo_warehouse.parent / "models" / "autoencoders").glob("autoencoder-*.pt"))
    match = [p for p in artifacts if load_autoencoder(p).fingerprint_[:10] == version.removeprefix("ae-")]
    assert len(match) == 1
    saved = load_autoencoder(match[0])
    metadata = (match[0].with_suffix(".json")).read_text()
    assert '"features"' in metadata and '"transforms"' in metadata and '"training"' in metadata
    # the saved segmentation model embeds customers exactly as the table says
    with settings(SEGMENTS_DUCKDB_PATH=str(demo_warehouse)):
        warehouse = Warehouse()
        snapshot = Snapshot.read(warehouse)
        model_version, = query(demo_warehouse, "select any_value(model_version) from customer_segments")[0]
        scorer = joblib.load(warehouse.artifact_path(model_version)).scorer
    X = scorer.transformer.transform(scorer.model_frame(snapshot.features, snapshot.purchases))
    assert np.abs(saved.transform(X) - embeddings[dims].to_numpy()).max() < 1e-6


def test_training_is_deterministic_and_the_store_reuses_unchanged_features(tmp_path):
    X = np.random.default_rng(3).normal(size=(800, 12))
    first = CustomerAutoencoder(latent_dim=4, max_epochs=20).fit(X)
    second = CustomerAutoencoder(latent_dim=4, max_epochs=20).fit(X)
    assert np.abs(first.transform(X) - second.transform(X)).max() < 1e-6
    store = AutoencoderStore(tmp_path)
    trained, reused = store.fit(CustomerAutoencoder(latent_dim=4, max_epochs=20), X)
    loaded, reused_again = store.fit(CustomerAutoencoder(latent_dim=4, max_epochs=20), X)
    assert (reused, reused_again) == (False, True)
    assert np.array_equal(trained.transform(X), loaded.transform(X))
    changed, reused_changed = store.fit(CustomerAutoencoder(latent_dim=4, max_epochs=20), X[:-1])
    assert not reused_changed


def test_anomaly_and_synthetic_tables(demo_warehouse):
    customers, = query(demo_warehouse, "select count(*) from customer_features")[0]
    anomalies = frame(demo_warehouse, "select * from customer_anomalies")
    assert len(anomalies) == customers and anomalies["customer_id"].is_unique
    assert anomalies["flagged"].sum() == np.ceil(0.02 * customers)
    assert anomalies["percentile"].between(0, 100).all()
    assert anomalies.loc[anomalies["flagged"], "score"].min() >= anomalies.loc[~anomalies["flagged"], "score"].max()
    metrics = frame(demo_warehouse, "select * from anomaly_metrics")
    assert set(metrics["detector"]) == {"autoencoder", "isolation_forest"} and metrics["chosen"].sum() == 1
    assert anomalies["detector"].unique().tolist() == metrics.loc[metrics["chosen"], "detector"].tolist()
    quality = dict(query(demo_warehouse, "select measure, value from synthetic_quality"))
    synthetic = frame(demo_warehouse, "select * from synthetic_customers")
    assert len(synthetic) == quality["synthetic_rows"] == customers
    assert (synthetic["distance_to_closest_real"] >= quality["copy_threshold"]).all()
    assert quality["share_below_threshold"] == 0
    assert not set(synthetic["synthetic_id"]) & set(anomalies["customer_id"])


def test_python_tables_are_declared_as_sources():
    sources = yaml.safe_load(SOURCES.read_text())
    declared = {t["name"] for s in sources["sources"] for t in s["tables"]}
    assert {"customer_embeddings", "segment_assignments", "customer_anomalies", "anomaly_metrics",
            "synthetic_customers", "synthetic_quality"} <= declared


def test_an_embedding_candidate_is_chosen_only_where_it_wins():
    import pandas as pd

    m = pd.DataFrame({"algorithm": ["kmeans", "ward", "ae_kmeans", "idec"], "k": [6, 6, 4, 4],
                      "silhouette": [0.300, 0.295, 0.309, 0.312], "davies_bouldin": [1.2, 1.1, 0.9, 0.8],
                      "stability": [0.9, 0.9, 0.9, 0.9]})
    # idec beats kmeans' 0.300 by 0.012 > 0.01; ae_kmeans by 0.009 only: idec stays, ae_kmeans does not
    assert m.loc[choose_candidate(m), "algorithm"] == "idec"
    # within the tolerance the feature-space candidates win, even with a better Davies-Bouldin index
    tie = m.assign(silhouette=[0.300, 0.295, 0.309, 0.305])
    assert tie.loc[choose_candidate(tie), "algorithm"] == "ward"
    # without an eligible feature-space candidate the embedding ones compete as usual
    alone = m.assign(stability=[0.5, 0.5, 0.9, 0.9])
    assert alone.loc[choose_candidate(alone), "algorithm"] == "idec"


def test_embedding_candidates_alone_are_refused_with_the_reason():
    # they start from the feature-space choice, so without a feature-space algorithm there is nothing to start from
    import pytest

    from python_models.segmentation import ModelSelector

    X = np.random.default_rng(0).normal(size=(60, 4))
    autoencoder = CustomerAutoencoder(latent_dim=2, max_epochs=2).fit(X)
    with pytest.raises(ValueError, match="add a feature-space algorithm"):
        ModelSelector(algorithms=("ae_kmeans", "idec"), autoencoder=autoencoder).fit(X)
    # with one, K-Means on the embedding is a single candidate at the k the rule chooses among the features'
    metrics = ModelSelector(algorithms=("kmeans", "ae_kmeans"), autoencoder=autoencoder, k_range=(2, 3),
                            n_bootstrap=2, robustness_epsilon=0).fit(X).metrics_
    kmeans = metrics[metrics["algorithm"] == "kmeans"]
    assert metrics.loc[metrics["algorithm"] == "ae_kmeans", "k"].tolist() == [kmeans.loc[choose_candidate(kmeans), "k"]]
