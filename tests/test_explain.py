"""Surrogate decision-tree rules that describe segments (python_models.explain)."""

import numpy as np
import pandas as pd
import pytest

from python_models.explain import RULE_COLUMNS, SurrogateRules, surrogate_rules


@pytest.fixture(scope="module")
def planted():
    """Raw features with four axis-aligned segments planted on three of them, plus noise columns.

    0 lapsed: days_since_last_order > 365; 1 frequent: recent and order_count > 7;
    2 app: recent, order_count <= 7, app share > 0.6; 3 other: the rest.
    """
    rng = np.random.default_rng(0)
    n = 20_000
    features = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "days_since_last_order": rng.integers(0, 730, n).astype(float),
            "order_count": rng.poisson(6, n).astype(float) + 1,
            "channel_share_01": rng.random(n),
            "net_revenue": rng.lognormal(4, 1, n),
            "return_rate": rng.random(n) * 0.3,
            "region": rng.choice(["North", "South", "East", "West"], n),
        }
    )
    labels = np.select(
        [
            features["days_since_last_order"] > 365,
            features["order_count"] > 7,
            features["channel_share_01"] > 0.6,
        ],
        [0, 1, 2],
        default=3,
    )
    return features, labels


def test_planted_segments_are_recovered_with_high_fidelity(planted):
    features, labels = planted
    out = surrogate_rules(features, labels, feature_labels={"channel_share_01": "app share"})

    assert isinstance(out, SurrogateRules)
    assert list(out.rules.columns) == RULE_COLUMNS
    assert out.fidelity >= 0.95
    text = " ".join(out.rules["rule"])
    for planted_feature in ("days_since_last_order", "order_count", "app share"):
        assert planted_feature in text
    for noise in ("net_revenue", "return_rate", "region", "channel_share_01"):
        assert noise not in text  # channel_share_01 is printed under its label
    # the planted rules, with thresholds rounded back to the planted numbers
    rules = dict(zip(out.rules["segment"], out.rules["rule"]))
    assert rules[0] == "days_since_last_order > 365"
    assert rules[1] == "days_since_last_order ≤ 365 and order_count > 7"
    assert "app share > 0.6" in rules[2] and "app share ≤ 0.6" in rules[3]
    assert (out.rules["precision"] == 1.0).all() and (out.rules["coverage"] == 1.0).all()
    assert out.segments_without_rule == []


def test_rule_statistics_are_consistent_with_the_labels(planted):
    features, labels = planted
    noisy = labels.copy()
    flip = np.random.default_rng(1).random(len(noisy)) < 0.1
    noisy[flip] = (noisy[flip] + 1) % 4
    out = surrogate_rules(features, noisy, sample_size=5_000, random_state=3)
    rules = out.rules

    assert rules["support"].sum() == len(features)  # the rules partition the customers
    assert ((rules["precision"] > 0) & (rules["precision"] <= 1)).all()
    coverage = rules.groupby("segment")["coverage"].sum()
    assert (coverage <= 1 + 1e-12).all()
    # fidelity = share of customers whose rule predicts their segment
    hits = (rules["precision"] * rules["support"]).sum()
    assert out.fidelity == pytest.approx(hits / len(features))
    assert 0.85 <= out.fidelity <= 0.95  # about 10 % of labels were scrambled


def test_precision_and_coverage_on_a_hand_checked_example():
    # x = 1..10, A except x=4 and x>=7. Best single split x <= 6.5, printed "x ≤ 6":
    #   x ≤ 6: A A A B A A -> segment A, precision 5/6, coverage 5/5 (all A), support 6
    #   x > 6: B B B B     -> segment B, precision 4/4, coverage 4/5 (the other B is x=4), support 4
    features = pd.DataFrame({"x": np.arange(1.0, 11.0)})
    labels = ["A", "A", "A", "B", "A", "A", "B", "B", "B", "B"]
    out = surrogate_rules(features, labels, max_depth=1, min_samples_leaf=1)

    assert out.rules.to_dict("records") == [
        {"segment": "A", "rule": "x ≤ 6", "precision": pytest.approx(5 / 6), "coverage": 1.0, "support": 6},
        {"segment": "B", "rule": "x > 6", "precision": 1.0, "coverage": pytest.approx(4 / 5), "support": 4},
    ]
    assert out.fidelity == pytest.approx(0.9)


def test_categorical_features_read_as_levels():
    rng = np.random.default_rng(0)
    n = 4000
    features = pd.DataFrame({"region": rng.choice(["N", "S", "E", "W"], n), "vip": rng.random(n) < 0.3})
    labels = np.where(features["region"].isin(["N", "S"]), "A", np.where(features["vip"], "B", "C"))
    out = surrogate_rules(features, labels)
    rules = dict(zip(out.rules["segment"], out.rules["rule"]))

    assert out.fidelity == 1.0
    assert rules == {
        "A": "region in {N, S}",
        "B": "region in {E, W} and vip = True",
        "C": "region in {E, W} and vip = False",
    }


def test_sampled_fit_is_deterministic_and_validates_input(planted):
    features, labels = planted
    a = surrogate_rules(features, labels, sample_size=3_000, random_state=7)
    b = surrogate_rules(features, labels, sample_size=3_000, random_state=7)
    pd.testing.assert_frame_equal(a.rules, b.rules)
    assert a.fidelity == b.fidelity

    with pytest.raises(ValueError, match="NaN"):
        surrogate_rules(features.assign(order_count=np.nan), labels)
    with pytest.raises(ValueError, match="entries"):
        surrogate_rules(features, labels[:-1])
    with pytest.raises(ValueError, match="lacks"):
        surrogate_rules(features, labels, feature_names=["nope"])
