"""Tests of python_models.segmentation (pure Python, no warehouse needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from python_models.segmentation import (
    DEFAULT_BLOCK_WEIGHTS,
    NOISE_LABEL,
    OUTLIER_NAME,
    CustomerFeatureTransformer,
    ModelSelector,
    SegmentationResult,
    assign_block,
    profile_segments,
    segment_customers,
    segment_effect_sizes,
    signed_log1p,
    silhouette_scores,
)

# --------------------------------------------------------------------------
# Planted synthetic customer_features
# --------------------------------------------------------------------------
# Six well-separated groups differing in frequency, spend, recency, tenure,
# category and channel. Category slot j+1 / channel slot j+1 is the group's
# favourite (index into the 9 category / 5 channel share columns).
PLANTED = {
    "frequent_app": dict(orders=18, recency=(1, 20), tenure=(300, 900), aov=60,
                         items=2.5, ret=(1, 30), cat=0, chan=1, trend=0.3),
    "lapsed_one_off": dict(orders=1, recency=(250, 400), tenure=(0, 0), aov=40,
                           items=1.5, ret=(1, 30), cat=2, chan=0, trend=-0.9),
    "new": dict(orders=1.5, recency=(1, 25), tenure=(0, 20), aov=45,
                items=1.8, ret=(1, 30), cat=3, chan=2, trend=0.9),
    "big_ticket_store": dict(orders=4, recency=(30, 120), tenure=(200, 700),
                             aov=600, items=1.2, ret=(1, 20), cat=1, chan=0,
                             trend=0.0),
    "regular_web": dict(orders=7, recency=(20, 80), tenure=(300, 800), aov=80,
                        items=3.0, ret=(1, 30), cat=4, chan=3, trend=0.1),
    "returners": dict(orders=5, recency=(20, 90), tenure=(150, 600), aov=90,
                      items=2.0, ret=(12, 8), cat=5, chan=2, trend=-0.2),
}
GROUP_NAMES = list(PLANTED)
SLOT_LABELS = {
    "category_share_01": "Electronics",
    "category_share_02": "Furniture",
    "category_share_03": "Books",
    "category_share_04": "Toys",
    "category_share_05": "Fashion",
    "category_share_06": "Beauty",
    "channel_share_01": "store",
    "channel_share_02": "app",
    "channel_share_03": "marketplace",
    "channel_share_04": "web",
}


def make_planted_customers(n=4800, seed=0):
    """customer_features-like DataFrame with 6 planted groups, and the groups."""
    rng = np.random.default_rng(seed)
    g = len(PLANTED)
    y = np.repeat(np.arange(g), int(np.ceil(n / g)))[:n]
    rng.shuffle(y)

    def param(key, dtype=float):
        return np.array([PLANTED[name][key] for name in GROUP_NAMES], dtype=dtype)[y]

    orders_mean = param("orders")
    orders = np.where(orders_mean <= 1, 1, 1 + rng.poisson(np.maximum(orders_mean - 1, 0)))
    rec = param("recency", object)
    rec = np.array([list(r) for r in rec], dtype=float)
    recency = rng.uniform(rec[:, 0], rec[:, 1])
    ten = np.array([list(t) for t in param("tenure", object)], dtype=float)
    tenure = recency + rng.uniform(ten[:, 0], ten[:, 1])
    aov = param("aov") * rng.lognormal(0, 0.3, n)
    items = param("items") * rng.lognormal(0, 0.2, n)
    ab = np.array([list(r) for r in param("ret", object)], dtype=float)
    ret = rng.beta(ab[:, 0], ab[:, 1])
    net = orders * aov * (1 - ret)
    ipm = np.where(orders > 1, (tenure - recency) / np.maximum(orders - 1, 1), 0.0)
    ips = np.where(orders > 2, ipm * rng.uniform(0.2, 0.8, n), 0.0)
    trend = np.clip(param("trend") + rng.normal(0, 0.15, n), -1, 1)
    cat_alpha = np.full((n, 9), 0.3)
    cat_alpha[np.arange(n), param("cat", int)] = 6.0
    cat = rng.gamma(cat_alpha)
    cat /= cat.sum(axis=1, keepdims=True)
    ch_alpha = np.full((n, 5), 0.3)
    ch_alpha[np.arange(n), param("chan", int)] = 6.0
    ch = rng.gamma(ch_alpha)
    ch /= ch.sum(axis=1, keepdims=True)

    df = pd.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "order_count": orders.astype(np.int64),
            "frequency": (orders - 1).astype(np.int64),
            "days_since_last_order": recency.round(),
            "tenure_days": tenure.round(),
            "net_revenue": net,
            "avg_order_value": aov,
            "items_per_order": items,
            "interpurchase_days_mean": ipm,
            "interpurchase_days_std": ips,
            "distinct_products": np.maximum(1, np.round(orders * items * 0.8)).astype(np.int64),
            "distinct_categories": np.minimum(
                9, 1 + rng.poisson(np.minimum(orders, 8) * 0.3)
            ).astype(np.int64),
        }
    )
    for j in range(8):
        df[f"category_share_{j + 1:02d}"] = cat[:, j]
    df["category_share_other"] = cat[:, 8]
    for j in range(4):
        df[f"channel_share_{j + 1:02d}"] = ch[:, j]
    df["channel_share_other"] = ch[:, 4]
    df["return_rate"] = ret
    df["spend_last_90d"] = net * np.clip(0.5 + 0.5 * trend, 0, 1) * (recency < 180)
    df["spend_prior_90d"] = net * np.clip(0.5 - 0.5 * trend, 0, 1) * 0.5
    df["spend_trend"] = trend
    df["days_since_signup"] = (tenure + rng.uniform(0, 60, n)).round()
    df["age_band"] = rng.choice(["18-24", "25-34", "35-44", "45-54", "55+", "unknown"], n)
    df["region"] = rng.choice(["north", "south", "east", "west", "unknown"], n)
    return df, y


@pytest.fixture(scope="module")
def planted():
    return make_planted_customers()


@pytest.fixture(scope="module")
def planted_result(planted):
    df, _ = planted
    return segment_customers(df, random_state=0, slot_labels=SLOT_LABELS)


def _segment_of_group(labels, y):
    """Majority segment of each planted group."""
    tab = pd.crosstab(y, labels)
    return {GROUP_NAMES[g]: int(tab.loc[g].idxmax()) for g in tab.index}


# --------------------------------------------------------------------------
# scikit-learn estimator checks
# --------------------------------------------------------------------------
@parametrize_with_checks(
    [
        CustomerFeatureTransformer(),
        CustomerFeatureTransformer(skew_transform="yeo-johnson"),
        CustomerFeatureTransformer(clip=None),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------
# K-Means through the one model choice, on planted data
# --------------------------------------------------------------------------
def test_kmeans_recovers_planted_k(planted):
    df, y = planted
    X = CustomerFeatureTransformer().fit_transform(df)
    model = ModelSelector(algorithms=("kmeans",), random_state=0).fit(X)
    assert model.n_clusters_ == len(PLANTED)
    assert adjusted_rand_score(y, model.labels_) >= 0.9
    m = model.metrics_
    assert m["k"].tolist() == list(range(4, 11))  # the default k range
    assert m["chosen"].sum() == 1
    assert m.loc[m["chosen"], "k"].item() == model.n_clusters_


def test_kmeans_on_a_sample_extended_to_all_rows_recovers_planted_k(planted):
    df, y = planted
    X = CustomerFeatureTransformer().fit_transform(df)
    model = ModelSelector(algorithms=("kmeans",), kmeans_max_fit_rows=1000, k_range=range(4, 9)).fit(X)
    assert model.fit_indices_.size == 1000
    assert model.n_clusters_ == len(PLANTED)
    assert adjusted_rand_score(y, model.labels_) >= 0.9


def test_labels_ordered_by_size_and_consistent_with_predict(planted):
    df, _ = planted
    X = CustomerFeatureTransformer().fit_transform(df)
    # unequal groups: drop most of two planted groups
    _, y = planted
    keep = (y != 1) | (np.arange(len(y)) % 4 == 0)
    keep &= (y != 3) | (np.arange(len(y)) % 2 == 0)
    X = X[keep]
    model = ModelSelector(algorithms=("kmeans",), k_range=range(5, 8)).fit(X)
    sizes = np.bincount(model.labels_)
    assert (np.diff(sizes) <= 0).all()
    assert_array_equal(model.predict(X), model.labels_)
    assert model.transform(X).shape == (X.shape[0], model.n_clusters_)


def test_determinism(planted):
    df, _ = planted
    runs = [segment_customers(df, random_state=0, slot_labels=SLOT_LABELS) for _ in range(2)]
    assert_array_equal(runs[0].labels, runs[1].labels)
    assert_frame_equal(runs[0].metrics, runs[1].metrics)
    assert_frame_equal(runs[0].profiles, runs[1].profiles)
    assert_array_equal(runs[0].distances, runs[1].distances)
    # the sklearn estimator alone, refitted
    X = runs[0].transformer.transform(df)
    model = ModelSelector(algorithms=("kmeans",), random_state=0)
    labels_a = model.fit(X).labels_.copy()
    metrics_a = model.metrics_.copy()
    model.fit(X)
    assert_array_equal(labels_a, model.labels_)
    assert_frame_equal(metrics_a, model.metrics_)


def test_block_weighting_stops_many_noise_columns_dominating(planted):
    df, y = planted
    rng = np.random.default_rng(5)
    noisy = df.copy()
    # 20 uniformly random levels -> 20 noise one-hot columns in demographics
    noisy["household_type"] = rng.choice([f"h{i:02d}" for i in range(20)], len(df))
    t = CustomerFeatureTransformer().fit(noisy)
    names = list(t.get_feature_names_out())
    assert sum(n.startswith("demographics__household_type_") for n in names) == 20
    X = t.transform(noisy)
    for block, cols in t.blocks_.items():
        idx = [names.index(c) for c in cols]
        expected = DEFAULT_BLOCK_WEIGHTS[block]
        assert_allclose(X[:, idx].var(axis=0).sum(), expected, rtol=1e-9)
    model = ModelSelector(algorithms=("kmeans",)).fit(X)
    assert model.n_clusters_ == len(PLANTED)
    assert adjusted_rand_score(y, model.labels_) >= 0.9

    # Contrast: giving demographics a say proportional to its ~32 columns
    # (what plain per-column standardisation does) lets the noise win.
    X_heavy = CustomerFeatureTransformer(block_weights={"demographics": 20.0}).fit_transform(noisy)
    heavy = ModelSelector(algorithms=("kmeans",)).fit(X_heavy)
    assert adjusted_rand_score(y, heavy.labels_) < 0.5


# --------------------------------------------------------------------------
# Profiles and names
# --------------------------------------------------------------------------
def test_planted_profile_names(planted, planted_result):
    df, y = planted
    res = planted_result
    assert isinstance(res, SegmentationResult)
    assert res.n_clusters == len(PLANTED)
    assert adjusted_rand_score(y, res.labels) >= 0.9
    prof = res.profiles
    names = prof["segment_name"].tolist()
    assert len(set(names)) == len(names)

    seg = _segment_of_group(res.labels, y)
    assert len(set(seg.values())) == len(PLANTED)
    name_of = {g: res.segment_names[s].lower() for g, s in seg.items()}
    assert "app" in name_of["frequent_app"]
    assert "frequent" in name_of["frequent_app"]
    assert "lapsed" in name_of["lapsed_one_off"]
    assert "one-off" in name_of["lapsed_one_off"]
    assert "new" in name_of["new"]
    assert "big-ticket" in name_of["big_ticket_store"]
    assert "returns" in name_of["returners"]
    assert "web" in name_of["regular_web"] or "fashion" in name_of["regular_web"]

    row = prof.set_index("segment_id").loc[seg["frequent_app"]]
    assert row["top_channel"] == "app"
    assert row["top_category"] == "Electronics"
    assert row["lift_order_count"] > 2
    assert "channel_share_02 [app]" in row["top_features"]
    lapsed = prof.set_index("segment_id").loc[seg["lapsed_one_off"]]
    assert lapsed["order_count"] == 1
    assert lapsed["lift_days_since_last_order"] > 2


def test_profile_columns(planted_result):
    prof = planted_result.profiles
    for col in [
        "segment_id", "segment_name", "size", "share", "order_count", "net_revenue",
        "avg_order_value", "days_since_last_order", "tenure_days", "return_rate",
        "top_category", "top_category_share", "top_channel", "top_channel_share",
        "top_region", "top_age_band", "lift_order_count", "lift_net_revenue",
        "lift_top_channel_share", "top_features",
    ]:
        assert col in prof.columns, col
    assert prof["segment_id"].tolist() == list(range(len(prof)))
    assert prof["size"].sum() == len(planted_result.labels)
    assert_allclose(prof["share"].sum(), 1.0)
    assert (np.diff(prof["size"].to_numpy()) <= 0).all()
    assert prof["top_features"].str.count(";").eq(2).all()


def test_profile_hand_checkable_example():
    df = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "order_count": [1, 1, 1, 5, 7, 9],
            "net_revenue": [10.0, 20.0, 30.0, 100.0, 200.0, 300.0],
            "return_rate": [0.0, 0.0, 0.3, 0.1, 0.1, 0.1],
            "category_share_01": [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
            "category_share_02": [0.0, 0.0, 0.0, 1.0, 0.5, 0.0],
            "category_share_other": [0.0, 0.0, 0.0, 0.0, 0.5, 1.0],
            "channel_share_01": [0.0, 0.0, 0.0, 1.0, 1.0, 0.4],
            "channel_share_02": [1.0, 1.0, 1.0, 0.0, 0.0, 0.6],
            "region": ["north", "north", "south", "south", "south", "south"],
        }
    )
    labels = np.array([7, 7, 7, 3, 3, 3])
    prof = profile_segments(df, labels, slot_labels={"channel_share_02": "app"})
    p = prof.set_index("segment_id")
    assert p.index.tolist() == [3, 7]
    assert p["size"].tolist() == [3, 3]
    assert p["share"].tolist() == [0.5, 0.5]
    # population means: orders 24/6 = 4, revenue 660/6 = 110, returns 0.6/6 = 0.1
    assert p.loc[3, "order_count"] == 7.0
    assert p.loc[7, "order_count"] == 1.0
    assert_allclose(p.loc[3, "lift_order_count"], 7 / 4)
    assert_allclose(p.loc[7, "lift_order_count"], 1 / 4)
    assert_allclose(p.loc[3, "net_revenue"], 200.0)
    assert_allclose(p.loc[3, "lift_net_revenue"], 200 / 110)
    assert_allclose(p.loc[7, "lift_net_revenue"], 20 / 110)
    assert_allclose(p.loc[7, "return_rate"], 0.1)
    assert_allclose(p.loc[7, "lift_return_rate"], 1.0)
    # top slots: segment 7 is all category 01 / app; segment 3 mostly
    # category 02 (mean 0.5) and channel 01 (mean 0.8)
    assert p.loc[7, "top_category"] == "category 01"
    assert p.loc[7, "top_category_share"] == 1.0
    assert_allclose(p.loc[7, "lift_top_category_share"], 1.0 / 0.5)
    assert p.loc[3, "top_category"] == "category 02"
    assert_allclose(p.loc[3, "top_category_share"], 0.5)
    assert_allclose(p.loc[3, "lift_top_category_share"], 0.5 / 0.25)
    assert p.loc[7, "top_channel"] == "app"
    assert p.loc[3, "top_channel"] == "channel 01"
    assert_allclose(p.loc[3, "top_channel_share"], 0.8)
    assert_allclose(p.loc[3, "lift_top_channel_share"], 0.8 / 0.4)
    assert p.loc[7, "top_region"] == "north"
    assert_allclose(p.loc[7, "top_region_share"], 2 / 3)
    assert p.loc[3, "top_region"] == "south"
    # Cohen's d of return_rate (bounded -> raw scale): segment 3 vs 7
    # means 0.1 vs 0.1 -> 0; order_count (log scale) is the top feature
    d = segment_effect_sizes(df, labels)
    assert_allclose(d.loc[3, "return_rate"], 0.0, atol=1e-12)
    z = np.log1p(np.array([5, 7, 9.0])), np.log1p(np.array([1, 1, 1.0]))
    pooled = np.sqrt((z[0].var() * 3 + z[1].var() * 3) / 4)
    assert_allclose(d.loc[3, "order_count"], (z[0].mean() - z[1].mean()) / pooled)
    assert_allclose(d.loc[7, "order_count"], -d.loc[3, "order_count"])
    assert prof["segment_name"].nunique() == 2


def alike_customers(n=400):
    """Customers drawn from one distribution: any split of them gives segments with colliding names."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "order_count": rng.poisson(3, n) + 1,
            "days_since_last_order": rng.uniform(1, 60, n),
            "return_rate": rng.uniform(0, 0.2, n),
        }
    )


def test_names_unique_when_segments_collide():
    n = 400
    df = alike_customers(n)
    labels = np.repeat([0, 1, 2, 3], n // 4)
    # segments 1 and 2 are both strongly lapsed; 2 also returns a lot more
    df.loc[labels == 1, "days_since_last_order"] += 300
    df.loc[labels == 2, "days_since_last_order"] += 300
    df.loc[labels == 2, "return_rate"] += 0.1
    # segment 3 is an exact copy of segment 1: only a suffix can separate them
    df.loc[labels == 3] = df.loc[labels == 1].to_numpy()
    names = profile_segments(df, labels, max_name_traits=1)["segment_name"].tolist()
    assert len(set(names)) == 4
    assert names[1].startswith("Lapsed")
    assert "returns" in names[2]
    assert names[3] == names[1] + " (2)"


def test_slot_names_distinguish_main_slot_from_lean():
    rng = np.random.default_rng(1)
    n = 600
    labels = np.repeat([0, 1], n // 2)
    # everyone buys mostly category 01; segment 1 also over-indexes on 02
    c2 = np.where(labels == 1, rng.uniform(0.2, 0.4, n), rng.uniform(0.0, 0.1, n))
    df = pd.DataFrame(
        {
            "order_count": rng.poisson(3, n) + 1,
            "category_share_01": 1 - c2,
            "category_share_02": c2,
            "channel_share_01": np.where(labels == 1, 0.9, 0.1),
            "channel_share_02": np.where(labels == 1, 0.1, 0.9),
        }
    )
    slots = {"category_share_01": "Books", "category_share_02": "Toys",
             "channel_share_01": "app", "channel_share_02": "web"}
    prof = profile_segments(df, labels, slot_labels=slots).set_index("segment_id")
    assert prof.loc[1, "top_category"] == "Books"
    assert "Toys-leaning" in prof.loc[1, "segment_name"]
    assert "of Toys" not in prof.loc[1, "segment_name"]
    assert prof.loc[1, "segment_name"].startswith("App buyers")
    assert prof.loc[0, "segment_name"].startswith("Web buyers")


@pytest.mark.parametrize("module", ["features", "scores", "profiles", "pipeline", "scoring", "taste"])
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"python_models.segmentation.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_segment_customers_assignments(planted, planted_result):
    df, _ = planted
    res = planted_result
    a = res.assignments()
    assert a.columns.tolist() == [
        "customer_id", "segment_id", "segment_name", "distance_to_centre", "is_outlier"
    ]
    assert not a["is_outlier"].any()  # planted groups without extremes: nobody set aside
    assert a["customer_id"].tolist() == df["customer_id"].tolist()
    X = res.transformer.transform(df)
    own = res.model.transform(X)[np.arange(len(df)), res.labels]
    assert_allclose(a["distance_to_centre"], own, atol=1e-9)
    assert a["segment_name"].map(lambda s: s in res.segment_names.values()).all()
    assert res.metrics is res.model.metrics_
    assert isinstance(res.model, ModelSelector)
    assert res.algorithm == res.model.algorithm_
    assert res.n_clusters == res.model.n_clusters_ == len(res.profiles)
    assert set(res.metrics["algorithm"]) == {"kmeans", "gmm", "ward", "hdbscan"}
    assert res.metrics["chosen"].sum() == 1
    assert NOISE_LABEL not in res.labels  # planted groups: everyone is assigned


def with_outliers(df, n_odd=40, seed=3):
    """``df`` plus ``n_odd`` customers far from every planted group (extreme orders, spend and recency)."""
    rng = np.random.default_rng(seed)
    odd = df.sample(n_odd, random_state=seed).reset_index(drop=True)
    odd["customer_id"] = [f"odd{i:03d}" for i in range(n_odd)]
    scale = rng.uniform(20, 60, n_odd)
    for col in ("order_count", "distinct_products"):
        odd[col] = (odd[col] * scale).round().astype(np.int64)
    odd["frequency"] = odd["order_count"] - 1
    odd["net_revenue"] *= scale**2
    odd["avg_order_value"] *= scale
    odd["days_since_last_order"] = rng.uniform(900, 3000, n_odd).round()
    odd["tenure_days"] = odd["days_since_last_order"] + rng.uniform(2000, 5000, n_odd).round()
    return pd.concat([df, odd], ignore_index=True)


@pytest.fixture(scope="module")
def noisy_result(planted):
    df = with_outliers(planted[0])
    res = segment_customers(
        df, algorithms=("hdbscan",), n_bootstrap=0, slot_labels=SLOT_LABELS,
        model_params={"hdbscan_min_cluster_sizes": (0.02,), "hdbscan_min_samples": 10},
    )
    return df, res


def test_outliers_are_labelled_minus_one_profiled_and_named(planted, noisy_result):
    df, res = noisy_result
    _, y = planted
    n = len(y)
    assert res.algorithm == "hdbscan" and res.n_clusters == len(PLANTED)
    noise = res.labels == NOISE_LABEL
    extreme = res.outlier_mask()
    # the added customers are set aside: the most extreme ones flagged and given their nearest segment, the
    # others HDBSCAN's noise; the planted groups are recovered
    assert (noise | extreme)[n:].mean() >= 0.9 and (noise | extreme)[:n].mean() <= 0.05
    assert extreme[n:].any() and not (noise & extreme).any()
    assert adjusted_rand_score(y[~noise[:n]], res.labels[:n][~noise[:n]]) >= 0.9
    assert set(np.unique(res.labels)) == {NOISE_LABEL, *range(res.n_clusters)}
    assert res.model.cluster_centers_.shape[0] == res.n_clusters

    # distances: to the own centre; outliers: to the nearest centre
    X = res.transformer.transform(df)
    to_centres = res.model.transform(X)
    assert_allclose(res.distances[~noise], to_centres[~noise, res.labels[~noise]], rtol=1e-9)
    assert_allclose(res.distances[noise], to_centres[noise].min(axis=1), rtol=1e-9)

    # profiles: a row for -1, computed like any segment, named as outliers
    prof = res.profiles.set_index("segment_id")
    assert prof.index.tolist() == [NOISE_LABEL, *range(res.n_clusters)]
    assert prof.loc[NOISE_LABEL, "segment_name"] == OUTLIER_NAME
    assert prof.loc[NOISE_LABEL, "size"] == noise.sum()
    assert prof["size"].sum() == len(df)
    assert_allclose(prof.loc[NOISE_LABEL, "net_revenue"], df.loc[noise, "net_revenue"].mean())
    assert prof.loc[NOISE_LABEL, "lift_net_revenue"] > 5
    assert "order_count" in prof.loc[NOISE_LABEL, "top_features"]
    real = prof.drop(index=NOISE_LABEL)["segment_name"]
    assert real.is_unique and not real.str.contains("outliers|\\(2\\)").any()
    a = res.assignments()
    assert (a.loc[noise, "segment_name"] == OUTLIER_NAME).all()


def test_outlier_row_takes_no_part_in_naming_the_segments():
    n = 400
    df = alike_customers(n)
    labels = np.repeat([-1, 0, 1, 2], n // 4)
    df.loc[labels == 1, "days_since_last_order"] += 300
    # the outliers look exactly like segment 1: as a segment they would share its name
    df.loc[labels == -1] = df.loc[labels == 1].to_numpy()
    names = profile_segments(df, labels, max_name_traits=1).set_index("segment_id")["segment_name"]
    assert names[-1] == OUTLIER_NAME
    assert names[1].startswith("Lapsed") and not names[1].endswith("(2)")
    # as a plain segment, -1 would be named like 1 and force a suffix
    plain = profile_segments(df, labels, max_name_traits=1, noise_label=None).set_index("segment_id")
    assert plain.loc[-1, "segment_name"] == names[1]
    assert plain.loc[1, "segment_name"] == names[1] + " (2)"
    # everything but the name is the same
    assert_frame_equal(plain.drop(columns="segment_name"),
                       profile_segments(df, labels, max_name_traits=1).set_index("segment_id").drop(
                           columns="segment_name"))


# --------------------------------------------------------------------------
# CustomerFeatureTransformer
# --------------------------------------------------------------------------
def test_block_assignment_rules():
    assert assign_block("category_share_03") == "category_mix"
    assert assign_block("category_share_other") == "category_mix"
    assert assign_block("channel_share_01") == "channel_mix"
    assert assign_block("days_since_signup") == "demographics"
    assert assign_block("age_band", is_numeric=False) == "demographics"
    for c in ["order_count", "net_revenue", "return_rate", "spend_trend",
              "interpurchase_days_std", "distinct_categories"]:
        assert assign_block(c) == "behaviour"


def test_transformer_blocks_and_variances(planted):
    df, _ = planted
    df = df.copy()
    df["category_share_08"] = 0.0  # an all-zero slot (fewer categories)
    df.loc[:10, "net_revenue"] = -50.0  # refunds
    weights = {"behaviour": 2.0, "channel_mix": 0.25}
    t = CustomerFeatureTransformer(block_weights=weights).fit(df)
    X = t.transform(df)
    names = list(t.get_feature_names_out())
    assert X.shape == (len(df), len(names))
    assert np.isfinite(X).all()
    assert "customer_id" in t.dropped_columns_
    assert set(t.categorical_columns_) == {"age_band", "region"}
    assert t.blocks_["demographics"][0] == "demographics__days_since_signup"
    assert "demographics__region_north" in t.blocks_["demographics"]
    assert len(t.blocks_["category_mix"]) == 9
    assert len(t.blocks_["channel_mix"]) == 5
    assert_array_equal(X[:, names.index("category_mix__category_share_08")], 0.0)
    expected = {**DEFAULT_BLOCK_WEIGHTS, **weights}
    for block, cols in t.blocks_.items():
        idx = [names.index(c) for c in cols]
        assert_allclose(X[:, idx].var(axis=0).sum(), expected[block], rtol=1e-9)
        if block != "demographics":  # numeric blocks: centred on the median, one-hot on the share
            assert_allclose(np.median(X[:, idx], axis=0), 0.0, atol=1e-9)
    # behaviour columns are clipped at 3 robust standard deviations, times the block's scale
    behaviour = [names.index(c) for c in t.blocks_["behaviour"]]
    assert np.abs(X[:, behaviour]).max() <= 3 * t.block_scale_["behaviour"] + 1e-12
    # heavy-tailed columns are skew corrected, bounded ones are not
    assert "net_revenue" in t.skew_columns_ and "order_count" in t.skew_columns_
    assert "return_rate" not in t.skew_columns_ and "spend_trend" not in t.skew_columns_
    # same matrix with pandas output and the right column names
    t_pd = CustomerFeatureTransformer(block_weights=weights).set_output(transform="pandas")
    X_pd = t_pd.fit_transform(df)
    assert list(X_pd.columns) == names
    assert_allclose(X_pd.to_numpy(), X)


@pytest.mark.parametrize("skew_transform", ["log", "yeo-johnson", None])
def test_transformer_skew_options(planted, skew_transform):
    df, _ = planted
    t = CustomerFeatureTransformer(skew_transform=skew_transform)
    X = t.fit_transform(df)
    assert np.isfinite(X).all()
    assert_allclose(X, t.transform(df))
    j = list(t.get_feature_names_out()).index("behaviour__net_revenue")
    skew = pd.Series(X[:, j]).skew()
    if skew_transform is None:
        assert skew > 1.5  # raw revenue is heavy tailed
    else:
        assert abs(skew) < 1.0


def test_transformer_unseen_and_missing_categories(planted):
    df, _ = planted
    t = CustomerFeatureTransformer().fit(df)
    new = df.head(3).copy()
    new["region"] = pd.array(["mars", None, "north"], dtype="string")
    X = t.transform(new)
    names = list(t.get_feature_names_out())
    region = [i for i, n in enumerate(names) if n.startswith("demographics__region_")]
    # unseen/missing levels: no indicator set (all centred indicators negative)
    assert (X[0, region] <= 0).all()
    assert X[2, names.index("demographics__region_north")] > 0
    with pytest.raises(ValueError, match="NaN or infinity"):
        bad = df.head(3).copy()
        bad.loc[0, "net_revenue"] = np.nan
        t.transform(bad)
    with pytest.raises(ValueError, match="Unknown block"):
        CustomerFeatureTransformer(block_weights={"nope": 1.0}).fit(df)


def test_transformer_accepts_arrow_and_decimal_columns(planted):
    """DuckDB/Arrow frames: pyarrow dtypes and DECIMALs as Decimal objects."""
    import decimal

    df, _ = planted
    df = df.head(600)
    expected = CustomerFeatureTransformer().fit_transform(df)
    arrow = df.convert_dtypes(dtype_backend="pyarrow")
    assert_allclose(CustomerFeatureTransformer().fit_transform(arrow), expected)
    dec = df.copy()
    dec["net_revenue"] = [decimal.Decimal(repr(v)) for v in df["net_revenue"]]
    t = CustomerFeatureTransformer().fit(dec)
    assert t.categorical_columns_ == ["age_band", "region"]
    assert_allclose(t.transform(dec), expected)
    prof = profile_segments(dec, np.arange(600) % 2)
    means = df["net_revenue"].groupby(np.arange(600) % 2).mean()
    assert_allclose(prof["net_revenue"], means.to_numpy())


def test_transformer_rare_levels_not_blown_up():
    rng = np.random.default_rng(0)
    n = 2000
    region = rng.choice(["north", "south", "atlantis", "lemuria"], n, p=[0.6, 0.392, 0.005, 0.003])
    df = pd.DataFrame(
        {
            "order_count": rng.poisson(3, n),
            "days_since_signup": rng.uniform(0, 900, n),
            "region": region,
        }
    )
    t = CustomerFeatureTransformer(min_category_frequency=0.004).fit(df)
    assert t.categories_ == [["atlantis", "north", "south"]]  # lemuria pooled
    names = list(t.get_feature_names_out())
    assert "demographics__region_infrequent" in names
    X = t.transform(df)
    # indicators are centred, not variance-scaled: a 0.5% level stays within
    # the block's scale (unit-variance scaling would put it at ~14 x that)
    rare = X[:, names.index("demographics__region_atlantis")]
    assert np.abs(rare).max() <= t.block_scale_["demographics"]
    demo = [names.index(c) for c in t.blocks_["demographics"]]
    assert_allclose(X[:, demo].var(axis=0).sum(), DEFAULT_BLOCK_WEIGHTS["demographics"])


def test_transformer_numpy_input_single_block():
    X = np.random.default_rng(0).lognormal(size=(50, 4))
    t = CustomerFeatureTransformer().fit(X)
    assert list(t.blocks_) == ["behaviour"]
    Xt = t.transform(X)
    assert_allclose(Xt.var(axis=0).sum(), 1.0)
    assert_allclose(Xt, t.transform(X) * 1.0)
    assert list(t.get_feature_names_out()) == [f"behaviour__x{i}" for i in range(4)]
    assert_allclose(signed_log1p([-3.0, 3.0]), [-np.log(4), np.log(4)])


# --------------------------------------------------------------------------
# Metrics helpers
# --------------------------------------------------------------------------
def test_silhouette_scores_match_sklearn():
    X, _ = make_blobs(n_samples=300, centers=4, random_state=3)
    rng = np.random.default_rng(0)
    label_sets = [rng.integers(0, k, size=300) for k in (2, 3, 5)]
    label_sets.append(np.r_[np.zeros(298, int), 2, 3])  # singletons and a gap
    ours = silhouette_scores(X, label_sets, chunk_size=64)
    ref = [silhouette_score(X, lab) for lab in label_sets]
    assert_allclose(ours, ref, atol=1e-10)
    assert np.isnan(silhouette_scores(X, [np.zeros(300, int)])[0])


def test_names_never_mention_an_unknown_slot():
    # data without categories has a single `unknown` category slot; a segment that avoids it must not be named
    # after it (UCI Online Retail once gave "New customers, low spend, low unknown share")
    rng = np.random.default_rng(3)
    n = 400
    features = pd.DataFrame({
        "order_count": np.r_[rng.poisson(2, n // 2) + 1, rng.poisson(20, n // 2) + 1].astype(float),
        "category_share_01": np.r_[np.zeros(n // 2), np.ones(n // 2)],
        "category_share_other": np.zeros(n),
    })
    labels = np.r_[np.zeros(n // 2, int), np.ones(n // 2, int)]
    profiles = profile_segments(features, labels, slot_labels={"category_share_01": "unknown"})
    assert not profiles["segment_name"].str.contains("unknown").any()
