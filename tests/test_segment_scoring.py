"""Scoring customers with a saved segmentation, without refitting (python_models.segmentation.SegmentScorer).

On the demo shop's planted personas: the model is fitted on two thirds of the customers, the last third arrive
as new customers and are scored; a refit on everyone is the reference.
"""

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from python_models.segmentation import NOISE_LABEL, SegmentScorer, segment_customers
from python_models.segmentation.scoring import EXPECTED_SHARE_BEYOND
from tests.pipeline import frame
from tests.test_segmentation import make_planted_customers, with_outliers


@pytest.fixture(scope="module")
def features(demo_warehouse):
    return frame(demo_warehouse, "select * from customer_features order by customer_id")


@pytest.fixture(scope="module")
def split(features):
    new = np.random.default_rng(0).permutation(len(features))[: len(features) // 3]
    is_new = np.zeros(len(features), dtype=bool)
    is_new[new] = True
    known = features[~is_new].reset_index(drop=True)
    result = segment_customers(known)
    return known, features[is_new].reset_index(drop=True), result, SegmentScorer(result, known)


def matched_agreement(a, b):
    """Share of rows on which two labelings agree once labels are matched one-to-one (Hungarian)."""
    table = pd.crosstab(a, b).to_numpy()
    rows, cols = linear_sum_assignment(-table)
    return table[rows, cols].sum() / len(a)


def test_new_customers_land_where_a_refit_puts_them(features, split):
    known, new, _, scorer = split
    refit = segment_customers(features)
    refit_labels = pd.Series(refit.labels, index=features["customer_id"]).reindex(new["customer_id"])
    scored = scorer.assign(new)
    assert scored["customer_id"].equals(new["customer_id"])
    assert matched_agreement(scored["label"].to_numpy(), refit_labels.to_numpy()) >= 0.95


def test_scoring_the_training_customers_reproduces_the_fit(split):
    known, _, result, scorer = split
    scored = scorer.assign(known)
    assert (scored["label"].to_numpy() == result.labels).all()
    np.testing.assert_allclose(scored["distance"], result.distances, rtol=1e-9)


def test_stale_only_when_the_population_has_moved(split):
    _, new, _, scorer = split
    same = scorer.staleness(new)
    assert not same.stale and same.share_beyond_reference < 0.10 and same.max_feature_psi < 0.2
    shifted = scorer.staleness(new.assign(avg_order_value=new["avg_order_value"] * 5))
    assert shifted.stale and shifted.max_psi_feature == "avg_order_value"


def test_the_scorer_survives_a_joblib_round_trip(split, tmp_path):
    _, new, _, scorer = split
    joblib.dump(scorer, tmp_path / "model.joblib")
    again = joblib.load(tmp_path / "model.joblib")
    pd.testing.assert_frame_equal(again.assign(new), scorer.assign(new))
    assert again.staleness(new) == scorer.staleness(new)
    # small: the references do not grow with the number of customers
    assert len(again.reference_bins) <= 10 * again.reference_bins["feature"].nunique()


def test_references_are_the_training_95th_percentiles(split):
    known, _, result, scorer = split
    assert isinstance(scorer, SegmentScorer) and scorer.model is result.model
    assert len(scorer.reference_distances_) == result.n_clusters
    for segment, reference in enumerate(scorer.reference_distances_):
        mine = result.distances[result.labels == segment]
        assert np.mean(mine > reference) <= EXPECTED_SHARE_BEYOND + 1 / mine.size  # an interpolated percentile
    same = scorer.staleness(known)
    assert same.share_beyond_reference == pytest.approx(EXPECTED_SHARE_BEYOND, abs=0.01)
    assert same.max_feature_psi == pytest.approx(0.0, abs=1e-12) and not same.stale and same.reasons == ()
    # the same scorer from the result
    again = result.scorer(known)
    np.testing.assert_array_equal(again.reference_distances_, scorer.reference_distances_)
    assert again.staleness(known) == same
    row = same.to_frame()
    assert row.shape[0] == 1 and {"share_beyond_reference", "max_feature_psi", "max_psi_feature", "stale",
                                   "noise_share"} <= set(row.columns)


# --------------------------------------------------------------------------
# A model with an outlier segment (HDBSCAN), on the planted customers of test_segmentation
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hdbscan_scorer():
    train = with_outliers(make_planted_customers(n=3000, seed=0)[0], n_odd=30, seed=3)
    result = segment_customers(train, algorithms=("hdbscan",), n_bootstrap=0,
                               model_params={"hdbscan_min_cluster_sizes": (0.02,), "hdbscan_min_samples": 10})
    assert result.algorithm == "hdbscan" and (result.labels == NOISE_LABEL).any()
    return train, result, result.scorer(train)


def test_outliers_are_scored_as_outliers(hdbscan_scorer):
    train, result, scorer = hdbscan_scorer
    np.testing.assert_array_equal(scorer.assign(train)["label"], result.labels)
    later = with_outliers(make_planted_customers(n=3000, seed=1)[0], n_odd=30, seed=4)
    later["customer_id"] = "new-" + later["customer_id"]
    scored = scorer.assign(later)
    odd = scored["customer_id"].str.contains("odd").to_numpy()
    # set aside: the most extreme flagged (at most 2%, given their nearest segment), the others noise
    set_aside = (scored["label"] == NOISE_LABEL) | scored["is_outlier"]
    assert set_aside[odd].mean() >= 0.9 and set_aside[~odd].mean() <= 0.05
    assert scored["is_outlier"].mean() <= 0.02 and scored.loc[odd, "is_outlier"].any()
    # outliers' distance: to the nearest centre
    X = scorer.transformer.transform(later)
    nearest = scorer.model.transform(X).min(axis=1)
    np.testing.assert_allclose(scored.loc[odd, "distance"], nearest[odd], rtol=1e-9)
    check = scorer.staleness(later, scored)
    assert not check.stale and check.noise_share == pytest.approx(np.mean(scored["label"] == NOISE_LABEL))


def test_stale_when_many_customers_fall_outside_every_segment(hdbscan_scorer):
    _, _, scorer = hdbscan_scorer
    # a population with 30 % customers unlike any training segment
    later = with_outliers(make_planted_customers(n=2100, seed=2)[0], n_odd=900, seed=5)
    check = scorer.staleness(later)
    assert check.noise_share > 0.2 and check.stale
    assert any("outliers" in reason for reason in check.reasons)
