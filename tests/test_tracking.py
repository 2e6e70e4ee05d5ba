"""Segment identity over time, migration counts and feature drift (python_models.tracking)."""

import numpy as np
import pandas as pd
import pytest

from python_models.tracking import (
    GONE,
    NEW,
    default_max_distance,
    feature_drift,
    match_segments,
    population_stability_index,
    transition_matrix,
)

# --------------------------------------------------------------------------------------------------------
# match_segments
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def previous():
    """Five well-separated centres in 8-D with non-contiguous ids, as after a few months of history."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=5.0, size=(5, 8))
    return centers, np.array([3, 7, 1, 9, 4])


def test_permuted_and_slightly_moved_centres_keep_their_ids(previous):
    centers, ids = previous
    rng = np.random.default_rng(1)
    perm = np.array([2, 0, 4, 1, 3])
    current = centers[perm] + rng.normal(scale=0.05, size=centers.shape)

    assert match_segments(centers, ids, current).tolist() == ids[perm].tolist()


def test_far_away_new_centre_gets_a_new_id_and_ids_are_never_reused(previous):
    centers, ids = previous
    perm = np.array([4, 3, 2, 1, 0])
    current = np.vstack([centers[perm], np.full((1, 8), 100.0), centers[[0]] + 0.01])
    # 12 was the largest id ever used (a segment retired earlier): new ones start after it.
    out = match_segments(centers, ids, current, next_id=13)

    assert out[:5].tolist() == ids[perm].tolist()
    # the far centre and the duplicate of centre 0 (which lost the one-to-one match) are new, in order
    assert out[5:].tolist() == [13, 14]
    assert len(set(out.tolist())) == len(out)


def test_default_next_id_follows_the_previous_ids(previous):
    centers, ids = previous
    current = np.vstack([centers, np.full((1, 8), -100.0)])
    assert match_segments(centers, ids, current)[-1] == ids.max() + 1


def test_centre_moved_beyond_max_distance_loses_its_id(previous):
    centers, ids = previous
    current = centers.copy()
    current[2] += 50.0  # moved much further than the segments' spacing
    out = match_segments(centers, ids, current, max_distance=default_max_distance(centers))

    assert out.tolist() == [3, 7, 10, 9, 4]


def test_vanished_segments_and_one_to_one_assignment(previous):
    centers, ids = previous
    # Two current centres both nearest to previous centre 0: only one may inherit its id.
    current = np.vstack([centers[0] + 0.01, centers[0] - 0.01, centers[3]])
    out = match_segments(centers, ids, current, max_distance=1.0)

    assert out.tolist() == [3, 10, 9]


def test_no_history_and_invalid_arguments(previous):
    centers, ids = previous
    assert match_segments(np.zeros((0, 8)), [], centers).tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="reuse"):
        match_segments(centers, ids, centers, next_id=5)
    with pytest.raises(ValueError, match="unique"):
        match_segments(centers, [1, 1, 2, 3, 4], centers)
    with pytest.raises(ValueError, match="features"):
        match_segments(centers, ids, centers[:, :3])


def test_default_max_distance():
    centers = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])  # nearest-centre distances 2, 2, 4
    assert default_max_distance(centers) == pytest.approx(1.0)
    assert default_max_distance(centers, factor=1.0) == pytest.approx(2.0)
    assert default_max_distance(centers[:1]) == np.inf


# --------------------------------------------------------------------------------------------------------
# transition_matrix
# --------------------------------------------------------------------------------------------------------


def _snapshots():
    """1000 customers in A (400) and B (600); then 37 move A->B, 10 of B leave, 25 newcomers join A."""
    ids = np.array([f"c{i:04d}" for i in range(1000)])
    prev = pd.DataFrame({"customer_id": ids, "segment": ["A"] * 400 + ["B"] * 600})
    curr = prev.iloc[:-10].copy()  # the last 10 (in B) are gone
    curr.loc[curr.index[:37], "segment"] = "B"
    new = pd.DataFrame({"customer_id": [f"n{i}" for i in range(25)], "segment": "A"})
    curr = pd.concat([new, curr.sample(frac=1.0, random_state=0)], ignore_index=True)  # order is irrelevant
    return prev, curr


def test_constructed_moves_are_counted_exactly():
    prev, curr = _snapshots()
    t = transition_matrix(prev, curr, "2025-11-30", "2025-12-31")
    cells = {(r.from_segment, r.to_segment): r.customers for r in t.itertuples()}

    assert list(t.columns) == ["from_snapshot", "to_snapshot", "from_segment", "to_segment", "customers", "share"]
    assert cells == {("A", "A"): 363, ("A", "B"): 37, ("B", "B"): 590, ("B", GONE): 10, (NEW, "A"): 25}
    assert (t["from_snapshot"] == "2025-11-30").all() and (t["to_snapshot"] == "2025-12-31").all()


def test_shares_sum_to_one_and_totals_reconcile():
    prev, curr = _snapshots()
    t = transition_matrix(prev, curr, 1, 2)

    np.testing.assert_allclose(t.groupby("from_segment")["share"].sum(), 1.0)
    assert t.loc[(t["from_segment"] == "A") & (t["to_segment"] == "B"), "share"].item() == pytest.approx(37 / 400)
    # every customer of either snapshot exactly once
    assert t["customers"].sum() == len(set(prev["customer_id"]) | set(curr["customer_id"]))
    from_totals = t[t["from_segment"] != NEW].groupby("from_segment")["customers"].sum()
    to_totals = t[t["to_segment"] != GONE].groupby("to_segment")["customers"].sum()
    pd.testing.assert_series_equal(from_totals, prev["segment"].value_counts().sort_index(), check_names=False)
    pd.testing.assert_series_equal(to_totals, curr["segment"].value_counts().sort_index(), check_names=False)


def test_integer_labels_are_ordered_numerically_and_returned_as_text():
    prev = pd.DataFrame({"customer_id": [1, 2, 3], "segment": [10, 2, 2]})
    curr = pd.DataFrame({"customer_id": [1, 2, 3], "segment": [2, 10, 2]})
    t = transition_matrix(prev, curr, "a", "b")

    assert t[["from_segment", "to_segment"]].values.tolist() == [["2", "2"], ["2", "10"], ["10", "2"]]
    assert t["share"].tolist() == [0.5, 0.5, 1.0]


def test_transition_input_errors():
    good = pd.DataFrame({"customer_id": [1, 2], "segment": [1, 2]})
    with pytest.raises(ValueError, match="duplicated"):
        transition_matrix(pd.DataFrame({"customer_id": [1, 1], "segment": [1, 2]}), good, 0, 1)
    with pytest.raises(ValueError, match="must not be"):
        transition_matrix(good.assign(segment=["(new)", "x"]), good, 0, 1)
    with pytest.raises(ValueError, match="missing"):
        transition_matrix(good.assign(segment=[1, None]), good, 0, 1)
    with pytest.raises(ValueError, match="lacks"):
        transition_matrix(good.rename(columns={"segment": "seg"}), good, 0, 1)


# --------------------------------------------------------------------------------------------------------
# PSI and feature drift
# --------------------------------------------------------------------------------------------------------


def test_psi_identical_and_resampled_distributions_are_stable():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    assert population_stability_index(x, x) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(x, rng.normal(size=20_000)) < 0.01


def test_feature_drift_flags_only_the_shifted_feature():
    rng = np.random.default_rng(42)
    n = 20_000
    previous = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "order_count": rng.poisson(4, n).astype(float),
            "net_revenue": rng.lognormal(4.0, 1.0, n),
            "channel_share_01": np.where(rng.random(n) < 0.4, 0.0, rng.random(n)),  # point mass at 0
            "region": rng.choice(["North", "South", "East"], n),
        }
    )
    current = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "order_count": rng.poisson(4, n).astype(float),
            "net_revenue": rng.lognormal(4.7, 1.0, n),  # shifted by 0.7 sd on the log scale
            "channel_share_01": np.where(rng.random(n) < 0.4, 0.0, rng.random(n)),
            "region": rng.choice(["North", "South", "East"], n),
        }
    )
    drift = feature_drift(previous, current).set_index("feature")

    assert list(drift.index) == ["order_count", "net_revenue", "channel_share_01", "region"]
    assert drift.loc["net_revenue", "psi"] > 0.2 and drift.loc["net_revenue", "drifted"]
    stable = drift.drop(index="net_revenue")
    assert (stable["psi"] < 0.1).all() and not stable["drifted"].any()


def test_psi_ties_constants_missing_values_and_categories():
    # a constant column: stable against itself, large against a different constant (epsilon keeps it finite)
    assert population_stability_index(np.zeros(1000), np.zeros(1000)) == 0.0
    assert 1.0 < population_stability_index(np.zeros(1000), np.ones(1000)) < np.inf
    # a point mass at 0 is one bin, not several empty ones
    x = np.r_[np.zeros(600), np.arange(400.0)]
    assert population_stability_index(x, x) == 0.0
    # a change in the missing rate is drift
    assert population_stability_index(np.r_[np.ones(900), np.full(100, np.nan)], np.ones(1000)) > 0.1
    # categories: shares by level
    a = np.array(["web"] * 500 + ["app"] * 500)
    assert population_stability_index(a, a) == 0.0
    assert population_stability_index(a, np.array(["web"] * 800 + ["app"] * 200)) > 0.2
    with pytest.raises(ValueError):
        population_stability_index([], [1.0])
