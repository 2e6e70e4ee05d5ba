"""Every ranking metric against the hand computation in tests/fixtures/recommend/README.md."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from python_models.recommend import ScopedMetrics

FIXTURE = Path(__file__).parent / "fixtures" / "recommend"


@pytest.fixture(scope="module")
def measured():
    scores = pd.read_csv(FIXTURE / "scores.csv", index_col="customer_id")
    purchases = pd.read_csv(FIXTURE / "purchases.csv")
    customers, products = scores.index, scores.columns

    def matrix(window):
        rows = purchases[purchases["window"] == window]
        out = np.zeros(scores.shape, dtype=bool)
        out[customers.get_indexer(rows["customer_id"]), products.get_indexer(rows["product_id"])] = True
        return out

    metrics = ScopedMetrics(len(products), len(products), ["fixture"], ks=[2, 3])
    metrics.add("fixture", scores.to_numpy(), matrix("test"), matrix("before"))
    rows = pd.DataFrame(metrics.rows(), columns=["recommender", "metric", "k", "item_scope", "value", "customers"])
    return rows.set_index(["item_scope", "k", "metric"])


@pytest.mark.parametrize("expected", list(pd.read_csv(FIXTURE / "expected.csv").itertuples()),
                         ids=lambda r: f"{r.item_scope}-{r.metric}@{r.k}")
def test_metric_matches_the_hand_computation(measured, expected):
    row = measured.loc[(expected.item_scope, expected.k, expected.metric)]
    assert row["value"] == pytest.approx(expected.value, abs=1e-4)
    assert row["customers"] == expected.customers


def test_a_customer_without_relevant_products_is_not_counted(measured):
    # c4 bought nothing in the test window; c2's test purchase is new, so it is not counted in the repeat scope
    assert set(measured["customers"]) == {2, 3}
