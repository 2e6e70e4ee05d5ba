"""Experiment assignment: deterministic, sticky when the audience grows, shares and strata balanced."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from python_models.campaigns import Experiment, assign, srm_test, unit_hash

N = 100_000
EXPERIMENT = Experiment("spring", dt.date(2026, 1, 1), 0.1, (("a", 0.5), ("b", 0.3), ("c", 0.1), ("d", 0.1)))


def audience(n: int, seed: int = 0) -> pd.DataFrame:
    """n customers in 5 segments of unequal size (50%, 25%, 15%, 7%, 3%)."""
    rng = np.random.default_rng(seed)
    segments = rng.choice(["1", "2", "3", "4", "5"], size=n, p=[0.5, 0.25, 0.15, 0.07, 0.03])
    return pd.DataFrame({"customer_id": [f"C{i:07d}" for i in range(n)], "stratum": segments})


@pytest.fixture(scope="module")
def full():
    people = audience(N)
    return people, assign(EXPERIMENT, people, assigned_on=dt.date(2026, 1, 1))


def test_same_arms_on_every_run(full):
    people, first = full
    again = assign(EXPERIMENT, people.sample(frac=1, random_state=3), assigned_on=dt.date(2026, 1, 1))
    pd.testing.assert_frame_equal(first, again, check_dtype=False)  # input order does not matter
    rerun = assign(EXPERIMENT, people, previous=first, assigned_on=dt.date(2026, 2, 1))
    pd.testing.assert_frame_equal(first, rerun, check_dtype=False)  # a rerun changes nothing, not even the date


def test_customers_keep_their_arm_when_the_audience_grows():
    people = audience(N)
    early = people.iloc[: N // 2]
    first = assign(EXPERIMENT, early)
    grown = assign(EXPERIMENT, people, previous=first)
    kept = grown.set_index("customer_id").loc[first["customer_id"], "arm"].to_numpy()
    assert (kept == first["arm"].to_numpy()).all()
    assert len(grown) == N
    # the newcomers fill the arms so the whole stays on the declared shares
    shares = grown["arm"].value_counts(normalize=True).reindex(EXPERIMENT.arm_names)
    assert np.abs(shares.to_numpy() - np.array(EXPERIMENT.shares)).max() < 0.01


def test_shares_within_one_point_of_the_weights(full):
    _, assigned = full
    shares = assigned["arm"].value_counts(normalize=True).reindex(EXPERIMENT.arm_names).to_numpy()
    assert np.abs(shares - np.array(EXPERIMENT.shares)).max() < 0.01
    assert not srm_test(assigned["arm"].value_counts().reindex(EXPERIMENT.arm_names), EXPERIMENT.shares)[2]


def test_stratification_balances_each_segment(full):
    _, assigned = full
    counts = assigned.groupby(["stratum", "arm"]).size().unstack().reindex(columns=EXPERIMENT.arm_names)
    expected = counts.sum(axis=1).to_numpy()[:, None] * np.array(EXPERIMENT.shares)[None, :]
    # whole customers as close as they go: each arm of each segment within one customer of its share
    assert np.abs(counts.to_numpy() - expected).max() <= 1
    # what plain hashing without strata would give on the smallest segment: off by tens of customers
    small = assigned[assigned["stratum"] == "5"]
    plain = np.searchsorted(np.cumsum(EXPERIMENT.shares), unit_hash("spring", small["customer_id"]))
    plain_counts = np.bincount(plain, minlength=5)
    assert np.abs(plain_counts - len(small) * np.array(EXPERIMENT.shares)).max() > 1


def test_arms_do_not_follow_customer_order(full):
    """Blocks are dealt in hash order, not id order: the first and second half of ids get the same split."""
    _, assigned = full
    halves = np.arange(len(assigned)) < len(assigned) // 2
    for half in (halves, ~halves):
        shares = assigned.loc[half, "arm"].value_counts(normalize=True).reindex(EXPERIMENT.arm_names)
        assert np.abs(shares.to_numpy() - np.array(EXPERIMENT.shares)).max() < 0.01


def test_experiments_hash_independently(full):
    people, assigned = full
    other = assign(Experiment("autumn", dt.date(2026, 1, 1), 0.5, (("x", 1.0),)), people)
    both = pd.crosstab(assigned["arm"], other["arm"], normalize="index")["control"]
    assert np.abs(both.to_numpy() - 0.5).max() < 0.03  # being control in one says nothing about the other
