"""Scoring customers with a saved segmentation, without refitting (python_models.segmentation.SegmentScorer).

On the demo shop's planted personas: the model is fitted on two thirds of the customers, the last third arrive
as new customers and are scored; a refit on everyone is the reference.
"""

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from python_models.segmentation import SegmentScorer, segment_customers
from tests.pipeline import frame


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
