"""Tests of python_models.segmentation.model_selection (ModelSelector)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from python_models.segmentation.model_selection import (
    ALGORITHMS,
    METRIC_COLUMNS,
    NOISE_LABEL,
    ModelSelector,
    choose_candidate,
)
from python_models.segmentation import silhouette_scores

PLANTED_SHARES = (0.35, 0.25, 0.18, 0.12, 0.10)
N_PLANTED = len(PLANTED_SHARES)

# Small fitting samples (below the 2 400 planted rows), so that every
# "fit on a sample, extend to all rows" path runs.
SAMPLED = dict(
    kmeans_max_fit_rows=1000,
    gmm_max_fit_rows=800,
    ward_sample_size=600,
    hdbscan_sample_size=600,
    sample_size=1500,
    stability_sample_size=1000,
)


def make_planted(n=2400, d=12, seed=0):
    """Five well-separated, unequal, axis-scaled Gaussian segments."""
    rng = np.random.default_rng(seed)
    y = rng.choice(N_PLANTED, size=n, p=PLANTED_SHARES)
    centres = rng.normal(0.0, 3.0, (N_PLANTED, d))
    scales = rng.uniform(0.6, 1.2, (N_PLANTED, d))
    return centres[y] + rng.normal(size=(n, d)) * scales[y], y


def make_noisy(n=2400, seed=0):
    """Three dense 2-d blobs plus uniform background noise (label -1)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    y = rng.integers(0, 3, n)
    blobs = centres[y] + rng.normal(0.0, 0.7, (n, 2))
    background = rng.uniform(-6.0, 14.0, (n // 6, 2))
    X = np.vstack([blobs, background])
    y = np.r_[y, np.full(len(background), -1)]
    perm = rng.permutation(len(X))
    return X[perm], y[perm]


@pytest.fixture(scope="module")
def planted():
    return make_planted()


@pytest.fixture(scope="module")
def planted_fit(planted):
    X, _ = planted
    return ModelSelector(random_state=0).fit(X)


# --------------------------------------------------------------------------
# scikit-learn estimator checks
# --------------------------------------------------------------------------
# Every check passes, so no expected_failed_checks are needed. The candidate
# set is reduced (k = 2..4, two stability resamples) only to keep the ~50
# checks fast; the second instance uses fitting samples smaller than the
# check data, which exercises every subsample-and-extend path.
@parametrize_with_checks(
    [
        ModelSelector(k_range=(2, 3, 4), n_bootstrap=2),
        ModelSelector(
            k_range=(2, 3, 4), n_bootstrap=2, sample_size=25,
            stability_sample_size=10, kmeans_max_fit_rows=20, gmm_max_fit_rows=20,
            ward_sample_size=15, hdbscan_sample_size=15,
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------
# Planted segments
# --------------------------------------------------------------------------
def test_recovers_planted_segments(planted, planted_fit):
    X, y = planted
    sel = planted_fit
    assert sel.n_clusters_ == N_PLANTED
    assert adjusted_rand_score(y, sel.labels_) >= 0.85
    assert sel.algorithm_ in ALGORITHMS

    m = sel.metrics_
    assert list(m.columns) == METRIC_COLUMNS
    # k = 4..10 (the default) for each of kmeans, gmm, ward + 3 HDBSCAN settings
    assert len(m) == 3 * 7 + 3
    assert m["algorithm"].tolist() == ["kmeans"] * 7 + ["gmm"] * 7 + ["ward"] * 7 + ["hdbscan"] * 3
    assert m["chosen"].sum() == 1
    chosen = m.loc[sel.chosen_index_]
    assert bool(chosen["chosen"])
    assert chosen["algorithm"] == sel.algorithm_
    assert chosen["k"] == sel.n_clusters_
    # stability is reported for every candidate, and the chosen one is stable
    assert m["stability"].notna().all()
    assert m["stability"].between(-1, 1).all()
    assert chosen["stability"] >= 0.8
    assert m[["silhouette", "davies_bouldin", "calinski_harabasz"]].notna().all().all()
    assert (m.loc[m["algorithm"] != "hdbscan", "n_noise"] == 0).all()
    assert m.loc[m["algorithm"] == "hdbscan", "min_cluster_size"].notna().all()
    assert m.loc[m["algorithm"] != "hdbscan", "min_cluster_size"].isna().all()
    # the planted k has the best silhouette among K-Means candidates
    km = m[m["algorithm"] == "kmeans"]
    assert km.loc[km["silhouette"].idxmax(), "k"] == N_PLANTED
    # the evaluation sample is every row here (2 400 < sample_size)
    assert_array_equal(sel.eval_indices_, np.arange(len(X)))


def test_labels_centres_predict_transform(planted, planted_fit):
    X, _ = planted
    sel = planted_fit
    sizes = np.bincount(sel.labels_)
    assert sizes.size == sel.n_clusters_
    assert (np.diff(sizes) <= 0).all()  # 0 = largest
    assert sel.labels_.dtype == np.int64
    assert_array_equal(sel.predict(X), sel.labels_)
    for j in range(sel.n_clusters_):
        assert_allclose(sel.cluster_centers_[j], X[sel.labels_ == j].mean(axis=0))
    dist = sel.transform(X)
    assert dist.shape == (len(X), sel.n_clusters_)
    assert_allclose(
        dist[np.arange(len(X)), sel.labels_],
        np.linalg.norm(X - sel.cluster_centers_[sel.labels_], axis=1),
        atol=1e-8,
    )
    assert sel.n_noise_ == 0
    assert sel.get_feature_names_out().tolist() == [
        f"modelselector{i}" for i in range(sel.n_clusters_)
    ]


def test_sampled_paths_determinism_and_recovery(planted):
    X, y = planted
    a = ModelSelector(random_state=0, **SAMPLED).fit(X)
    b = ModelSelector(random_state=0, **SAMPLED).fit(X)
    assert_frame_equal(a.metrics_, b.metrics_)
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.algorithm_ == b.algorithm_
    assert a.eval_indices_.size == SAMPLED["sample_size"]
    assert a.fit_indices_.size < len(X)
    assert a.n_clusters_ == N_PLANTED
    assert adjusted_rand_score(y, a.labels_) >= 0.85
    assert_array_equal(a.predict(X), a.labels_)
    # another seed draws other samples but finds the same segments
    c = ModelSelector(random_state=1, **SAMPLED).fit(X)
    assert not c.metrics_[["silhouette"]].equals(a.metrics_[["silhouette"]])
    assert c.n_clusters_ == N_PLANTED
    assert adjusted_rand_score(a.labels_, c.labels_) >= 0.95


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_alone(planted, algorithm):
    X, y = planted
    sel = ModelSelector(
        algorithms=(algorithm,), k_range=range(3, 8), n_bootstrap=2,
        hdbscan_min_cluster_sizes=(0.05,), **SAMPLED,
    ).fit(X)
    assert sel.algorithm_ == algorithm
    assert set(sel.metrics_["algorithm"]) == {algorithm}
    assert sel.n_clusters_ == N_PLANTED
    assert adjusted_rand_score(y, sel.labels_) >= 0.85
    assert_array_equal(sel.predict(X), sel.labels_)
    assert_array_equal(sel.predict(X[::7]), sel.labels_[::7])


def test_full_covariance_mixture(planted):
    X, y = planted
    sel = ModelSelector(
        algorithms=("gmm",), gmm_covariance_type="full", k_range=(4, 5, 6),
        n_bootstrap=2,
    ).fit(X)
    assert sel.n_clusters_ == N_PLANTED
    assert adjusted_rand_score(y, sel.labels_) >= 0.85


# --------------------------------------------------------------------------
# HDBSCAN noise
# --------------------------------------------------------------------------
def test_hdbscan_noise_segment():
    X, y = make_noisy()
    # the noise mechanics, with more noise allowed than the 2% the rule allows by default
    sel = ModelSelector(algorithms=("hdbscan",), random_state=0, max_noise_share=0.5).fit(X)
    assert sel.algorithm_ == "hdbscan"
    assert sel.n_clusters_ == 3
    labels = sel.labels_
    noise = labels == NOISE_LABEL
    assert sel.n_noise_ == noise.sum() > 0
    assert sorted(np.unique(labels)) == [NOISE_LABEL, 0, 1, 2]
    sizes = np.bincount(labels[~noise])
    assert (np.diff(sizes) <= 0).all()
    # noise is reported in the metrics, per candidate
    m = sel.metrics_
    assert (m["n_noise"] > 0).all()
    assert_allclose(m["noise_share"], m["n_noise"] / len(X))
    # the noise segment is mostly background, and most background far from
    # the blobs is noise; blob members are almost never noise
    background = y == -1
    assert background[noise].mean() >= 0.8
    far = background & (np.min(np.linalg.norm(
        X[:, None, :] - np.array([[0, 0], [8, 0], [0, 8]])[None], axis=2), axis=1) > 4)
    assert noise[far].mean() >= 0.9
    assert noise[~background].mean() <= 0.02
    # the blobs are recovered
    assert adjusted_rand_score(y[~background], labels[~background]) >= 0.95
    # noise has no centre; extension and prediction agree
    assert sel.cluster_centers_.shape == (3, 2)
    assert sel.noise_radius_.shape == (3,)
    assert_array_equal(sel.predict(X), labels)
    far_away = np.array([[100.0, 100.0], [-50.0, 3.0]])
    assert_array_equal(sel.predict(far_away), [NOISE_LABEL, NOISE_LABEL])
    assert_array_equal(sel.predict(np.array([[0.1, 0.0]])), [labels[np.argmin(
        np.linalg.norm(X - [0.1, 0.0], axis=1))]])


def test_noise_is_penalised_in_silhouette_and_reported_with_all_algorithms():
    X, _ = make_noisy()
    sel = ModelSelector(k_range=range(2, 6), n_bootstrap=2).fit(X)
    m = sel.metrics_
    hd = m[m["algorithm"] == "hdbscan"]
    assert (hd["n_noise"] > 0).all()
    assert (m.loc[m["algorithm"] != "hdbscan", "n_noise"] == 0).all()
    # the noise-aware silhouette: noise rows score 0 in a mean over all rows
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 3))
    lab = rng.integers(-1, 3, 300)
    own = lab >= 0
    expected = silhouette_score(Z[own], lab[own]) * own.mean()
    assert_allclose(silhouette_scores(Z, [lab])[0], expected)
    assert_allclose(silhouette_scores(Z, [np.abs(lab)])[0], silhouette_score(Z, np.abs(lab)))


# --------------------------------------------------------------------------
# The choice rule on hand-made tables
# --------------------------------------------------------------------------
def _table(rows):
    return pd.DataFrame(
        rows,
        columns=["algorithm", "k", "silhouette", "davies_bouldin", "stability", "noise_share"],
    )


def test_choice_rule_steps():
    m = _table([
        ("kmeans", 3, 0.50, 0.80, 0.95, 0.0),   # 0
        ("kmeans", 4, 0.62, 0.60, 0.70, 0.0),   # 1 best silhouette but unstable
        ("gmm", 4, 0.505, 0.70, 0.90, 0.0),     # 2 lower DB than row 0
        ("ward", 4, 0.505, 0.70, 0.91, 0.0),    # 3 same scores as 2, later algorithm
        ("hdbscan", 4, 0.51, 0.30, 0.99, 0.05), # 4 best stable silhouette, but noise
        ("kmeans", 5, 0.49, 0.10, 0.99, 0.0),   # 5 best DB, but too far from 0.51
    ])
    # with up to 10% noise allowed: 1 unstable; best stable silhouette 0.51 -> rows 0, 2, 3, 4 within
    # 0.01; row 4 leaves customers as noise; lowest DB: 2 and 3; gmm < ward
    assert choose_candidate(m, max_noise_share=0.1) == 2
    # the tolerance decides who is a near-tie
    assert choose_candidate(m, silhouette_tol=0.0, max_noise_share=0.1) == 4
    assert choose_candidate(m, silhouette_tol=0.05) == 5
    # by default at most 2% may be noise: row 4 is not eligible, and rows 0, 2, 3 are the near-ties
    assert choose_candidate(m, silhouette_tol=0.0) == 2
    # last month's model is kept while it is a near-tie (row 0: 0.50 is within 0.01 of 0.505) ...
    assert choose_candidate(m, preferred=("kmeans", 3)) == 0
    # ... and dropped when it is not (row 5: 0.49), or unstable (row 1), or not a candidate
    assert choose_candidate(m, preferred=("kmeans", 5)) == 2
    assert choose_candidate(m, preferred=("kmeans", 4)) == 2
    assert choose_candidate(m, preferred=("ward", 9)) == 2
    # without the stability filter the best silhouette wins
    assert choose_candidate(m, stability_threshold=0.0) == 1
    # too much noise: HDBSCAN not eligible, the best is then 0.505 (rows 2, 3)
    assert choose_candidate(m, silhouette_tol=0.0, max_noise_share=0.01) == 2
    # exact ties go to the smaller k
    tie = _table([
        ("kmeans", 5, 0.5, 0.7, 0.9, 0.0),
        ("kmeans", 4, 0.5, 0.7, 0.9, 0.0),
    ])
    assert choose_candidate(tie) == 1
    # the index label of the row is returned
    assert choose_candidate(tie.set_axis(["a", "b"])) == "b"


def test_choice_rule_fallbacks():
    # nobody stable: stability is ignored
    m = _table([
        ("kmeans", 2, 0.40, 0.9, 0.5, 0.0),
        ("kmeans", 3, 0.60, 0.7, 0.6, 0.0),
        ("ward", 3, 0.60, 0.7, np.nan, 0.0),
    ])
    assert choose_candidate(m) == 1
    # NaN stability is "not stable"; NaN silhouette is never eligible
    m2 = _table([
        ("kmeans", 2, 0.40, 0.9, 0.9, 0.0),
        ("gmm", 3, 0.90, 0.1, np.nan, 0.0),
        ("ward", 4, np.nan, 0.1, 1.0, 0.0),
    ])
    assert choose_candidate(m2) == 0
    # nothing eligible: never a degenerate model, an error that says why
    m3 = _table([
        ("ward", 2, np.nan, np.nan, np.nan, 0.0),
        ("kmeans", 3, np.nan, np.nan, np.nan, 0.0),
        ("kmeans", 2, np.nan, np.nan, np.nan, 0.0),
    ])
    with pytest.raises(ValueError, match="two or more segments"):
        choose_candidate(m3)
    # Online Retail before outliers were set aside: every candidate had a one-customer segment
    tiny = _table([("kmeans", 2, 0.97, 0.02, 0.6, 0.0), ("ward", 4, 0.32, 0.9, 0.9, 0.0)])
    tiny["smallest_share"] = [1 / 4339, 1 / 4339]
    with pytest.raises(ValueError, match=r"segment of under 2% of customers \(the best has 0.0%\)"):
        choose_candidate(tiny)
    with pytest.raises(ValueError, match="more than 2% of customers as outliers"):
        choose_candidate(_table([("hdbscan", 3, 0.4, 0.9, 0.9, 0.3)]))
    # optional columns: noise_share and min_cluster_size
    m4 = pd.DataFrame({
        "algorithm": ["hdbscan", "hdbscan"], "k": [3, 3],
        "min_cluster_size": pd.array([50, 20], dtype="Int64"),
        "silhouette": [0.5, 0.5], "davies_bouldin": [0.6, 0.6],
        "stability": [0.9, 0.9],
    })
    assert choose_candidate(m4) == 1
    with pytest.raises(ValueError, match="empty"):
        choose_candidate(m4.iloc[:0])


def test_chosen_row_has_the_rules_properties(planted, planted_fit):
    # checked against the planted truth and the published scores, not against choose_candidate itself
    _, y = planted
    m = planted_fit.metrics_
    chosen = m[m["chosen"]]
    assert len(chosen) == 1
    row = chosen.iloc[0]
    assert int(row["k"]) == len(np.unique(y)) == planted_fit.n_clusters_
    assert row["stability"] >= 0.8 and row["smallest_share"] >= 0.02 and row["noise_share"] <= 0.02
    eligible = m[(m["stability"] >= 0.8) & (m["smallest_share"] >= 0.02) & (m["noise_share"] <= 0.02)]
    assert row["silhouette"] >= eligible["silhouette"].max() - 0.01


# --------------------------------------------------------------------------
# Validation and small inputs
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(algorithms=("kmeans", "spectral")), "algorithms"),
        (dict(algorithms=()), "algorithms"),
        (dict(k_range=[1, 2]), "k_range"),
        (dict(hdbscan_min_cluster_sizes=(1,)), "hdbscan_min_cluster_sizes"),
        (dict(hdbscan_min_cluster_sizes=(1.5,)), "hdbscan_min_cluster_sizes"),
        (dict(n_bootstrap=1), "n_bootstrap"),
        (dict(sample_size=1), "sample_size"),
        (dict(n_init=0), "n_init"),
        (dict(silhouette_tol=-0.1), "silhouette_tol"),
        (dict(gmm_covariance_type="banana"), "gmm_covariance_type"),
        (dict(hdbscan_min_samples=0), "hdbscan_min_samples"),
    ],
)
def test_invalid_parameters(params, match):
    X, _ = make_planted(n=60)
    with pytest.raises(ValueError, match=match):
        ModelSelector(**params).fit(X)


def test_small_and_degenerate_inputs():
    with pytest.raises(ValueError, match="n_samples=2"):
        ModelSelector().fit(np.zeros((2, 3)))
    # k candidates >= n_samples are skipped
    X, _ = make_planted(n=8, d=2)
    sel = ModelSelector(n_bootstrap=0).fit(X)
    assert sel.metrics_.loc[sel.metrics_["algorithm"] != "hdbscan", "k"].max() <= 7
    assert sel.metrics_["stability"].isna().all()  # disabled
    # two distinct points repeated: one or two segments, never an error
    X = np.repeat(np.array([[0.0, 0.0], [10.0, 10.0]]), 20, axis=0)
    sel = ModelSelector(k_range=(2, 3, 4), n_bootstrap=2).fit(X)
    assert sel.n_clusters_ == 2
    assert_array_equal(np.bincount(sel.labels_), [20, 20])


def test_docstring_examples():
    import doctest

    import python_models.segmentation.model_selection as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_dataframe_input_keeps_feature_names(planted):
    X, _ = planted
    df = pd.DataFrame(X[:400], columns=[f"f{i}" for i in range(X.shape[1])])
    sel = ModelSelector(k_range=(4, 5, 6), n_bootstrap=2, algorithms=("kmeans",)).fit(df)
    assert sel.feature_names_in_.tolist() == df.columns.tolist()
    assert_array_equal(sel.predict(df), sel.labels_)


def test_fast_helpers_match_scipy_and_sklearn():
    """The tree cut and the adjusted Rand index used by the selector give scipy's and scikit-learn's results."""
    from scipy.cluster.hierarchy import cut_tree, linkage

    from python_models.segmentation.model_selection import _adjusted_rand, _cut_tree

    rng = np.random.default_rng(0)
    ks = list(range(2, 11))
    samples = [make_planted(n=600)[0], np.repeat(rng.normal(size=(30, 3)), 10, axis=0)]
    # many exact ties in the merge heights (9 distinct points)
    samples += [rng.integers(0, 3, size=(200, 2)).astype(float) for _ in range(5)]
    for X in samples:
        tree = linkage(X, method="ward")
        assert_array_equal(_cut_tree(tree, ks), cut_tree(tree, n_clusters=ks))
    for _ in range(50):
        n = int(rng.integers(2, 500))
        a = rng.integers(-1, int(rng.integers(1, 12)), n)
        b = np.where(rng.random(n) < 0.1, -1, a) if rng.random() < 0.5 else rng.integers(-1, 5, n)
        assert _adjusted_rand(a, b) == adjusted_rand_score(a, b)
    assert _adjusted_rand(np.zeros(5, int), np.zeros(5, int)) == 1.0
