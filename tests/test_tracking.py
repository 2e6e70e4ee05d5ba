"""Segment identity over time, migration counts and feature drift (python_models.tracking)."""

import numpy as np
import pandas as pd
import pytest

from python_models.tracking import (
    GONE,
    NEW,
    carry_segment_ids,
    carry_segment_names,
    default_max_distance,
    drift_from_bins,
    feature_bins,
    feature_drift,
    membership_centers,
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


# --------------------------------------------------------------------------------------------------------
# carrying ids from one snapshot to the next
# --------------------------------------------------------------------------------------------------------


def test_ids_follow_the_customers_when_labels_are_permuted_and_a_segment_splits():
    """Three groups of 100 customers; the refit numbers them differently and splits the third in two."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.repeat(centres, 100, axis=0) + rng.normal(scale=0.5, size=(300, 2))
    X[270:, 1] += 3.0  # the last 30 drift apart from their group
    ids = np.array([f"c{i}" for i in range(300)])
    previous = pd.DataFrame({"customer_id": ids, "segment_id": np.repeat([5, 2, 8], 100)})
    # current model: old group 2 -> label 0, group 5 -> label 2, group 8 -> labels 1 and 3
    current = np.array([X[100:200].mean(0), X[200:270].mean(0), X[:100].mean(0), X[270:].mean(0)])
    got = carry_segment_ids(X, ids, current, previous, next_id=9)
    assert got.tolist() == [2, 8, 5, 9]


def test_membership_centres_skip_outliers_and_departed_customers():
    X = np.array([[1.0], [3.0], [100.0]])
    previous = pd.DataFrame({"customer_id": ["a", "b", "c", "gone"], "segment_id": [1, 1, 0, 2]})
    ids, centres = membership_centers(X, ["a", "b", "c"], previous)
    assert ids.tolist() == [1] and centres.tolist() == [[2.0]]


def test_first_snapshot_numbers_segments_from_next_id():
    assert carry_segment_ids(np.zeros((2, 1)), ["a", "b"], [[0.0], [1.0]], None, next_id=1).tolist() == [1, 2]


def test_names_are_kept_with_the_id_and_stay_unique():
    names = carry_segment_names([4, 1, 7], ["New A", "Loyal", "Dormant"], {1: "Loyal", 4: "Dormant"})
    assert names == ["Dormant", "Loyal", "Dormant (7)"]


# --------------------------------------------------------------------------------------------------------
# drift against stored bins
# --------------------------------------------------------------------------------------------------------


def test_drift_from_stored_bins_equals_the_psi_of_the_raw_columns():
    rng = np.random.default_rng(5)
    before = pd.DataFrame({"spend": rng.lognormal(3, 1, 4000), "orders": rng.poisson(2, 4000).astype(float),
                           "share": np.where(rng.uniform(size=4000) < 0.6, 0.0, rng.uniform(size=4000))})
    after = pd.DataFrame({"spend": rng.lognormal(3.6, 1, 3000), "orders": rng.poisson(2, 3000).astype(float),
                          "share": np.where(rng.uniform(size=3000) < 0.6, 0.0, rng.uniform(size=3000))})
    stored = feature_bins(before, list(before.columns))
    got = drift_from_bins(stored, after).set_index("feature").loc[list(before.columns)]
    expected = feature_drift(before, after).set_index("feature")
    np.testing.assert_allclose(got["psi"], expected["psi"], rtol=1e-12)
    assert got["drifted"].tolist() == expected["drifted"].tolist() == [True, False, False]
    assert stored.groupby("feature")["customers"].sum().eq(4000).all()


def test_feature_bins_reject_missing_values():
    with pytest.raises(ValueError, match="missing"):
        feature_bins(pd.DataFrame({"x": [1.0, np.nan]}), ["x"])


def test_a_segment_missing_for_a_snapshot_gets_its_id_back():
    """Group c were outliers last month (id 0) but segment 7 two months ago: this month they are 7 again."""
    rng = np.random.default_rng(4)
    X = np.repeat([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], 50, axis=0) + rng.normal(scale=0.3, size=(150, 2))
    ids = np.array([f"c{i}" for i in range(150)])
    last_month = pd.DataFrame({"customer_id": ids, "segment_id": np.repeat([3, 5, 0], 50)})
    two_months_ago = pd.DataFrame({"customer_id": ids[100:], "segment_id": 7})
    previous = pd.concat([last_month, two_months_ago])
    current = np.array([X[100:].mean(0), X[:50].mean(0), X[50:100].mean(0)])
    assert carry_segment_ids(X, ids, current, previous, next_id=8).tolist() == [7, 3, 5]
