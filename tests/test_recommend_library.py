"""The recommenders against independent computations, the blend on planted personas, runs without a holdout."""

import numpy as np
import pandas as pd
import pytest

from python_models.recommend import item_knn
from python_models.recommend import (EASE, ItemKNN, PurchaseHistory, RecommendSettings, day_number, recommend,
                                     temporal_holdout)


def random_history(seed=0, customers=300, products=40, rows=3000):
    rng = np.random.default_rng(seed)
    return PurchaseHistory([f"c{i}" for i in range(customers)], [f"p{j:02d}" for j in range(products)],
                           rng.integers(0, customers, rows), rng.integers(0, products, rows) ** 2 // products,
                           rng.integers(0, 200, rows))


def test_ease_is_the_closed_form():
    window = random_history().window(end=200)
    x = window.bought.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 50.0 * np.eye(x.shape[1]))
    expected = np.eye(x.shape[1]) - p / np.diag(p)  # Steck (2019), eq. 8; the diagonal is 0
    model = EASE(l2=50.0).fit(window)
    assert np.abs(model.weights_ - expected[np.ix_(model.products_, model.products_)]).max() < 1e-4


@pytest.mark.parametrize("dense_share", [0.0, 1.0], ids=["dense blocks", "sparse blocks"])
def test_item_knn_is_the_cosine_of_buyer_sets_with_support_and_neighbours(monkeypatch, dense_share):
    monkeypatch.setattr(item_knn, "DENSE_SHARE", dense_share)  # both ways of counting co-purchases
    window = random_history(seed=1).window(end=200)
    x = window.bought.toarray()
    support = x.T @ x
    buyers = np.diag(support).copy()
    with np.errstate(invalid="ignore"):  # products nobody bought: 0 / 0, never compared
        cosine = support / np.sqrt(np.outer(buyers, buyers))
    np.fill_diagonal(support, 0)
    model = ItemKNN(min_support=3, neighbours=5).fit(window)
    for a in range(x.shape[1]):
        candidates = [(-cosine[a, b], b) for b in range(x.shape[1]) if support[a, b] >= 3]
        best = sorted(candidates)[:5]
        row = model.similarity_.getrow(a)
        assert sorted(row.indices.tolist()) == sorted(b for _, b in best)
        for _, b in best:
            assert row[0, b] == pytest.approx(cosine[a, b], rel=1e-5)
            assert model.support_[a, b] == support[a, b]


def planted_personas(seed=0, customers=1500, personas=5, own_products=30, shared_products=20):
    """Personas with their own assortments: each buys mostly (85%) from its own 30 products, the rest from 20 best
    sellers every persona buys; a year of purchase days. Known truth: who buys what is the persona."""
    rng = np.random.default_rng(seed)
    persona = rng.integers(0, personas, customers)
    days = 3 + rng.poisson(5, customers)
    owner = np.repeat(np.arange(customers), days)
    day = rng.integers(0, 365, len(owner))
    lines = 2 + rng.integers(0, 3, len(owner))
    line_owner, line_day = np.repeat(owner, lines), np.repeat(day, lines)
    own = rng.random(len(line_owner)) < 0.85
    best_seller = np.minimum(rng.zipf(1.5, len(line_owner)) - 1, shared_products - 1)
    product = np.where(own, persona[line_owner] * own_products + rng.integers(0, own_products, len(line_owner)),
                       personas * own_products + best_seller)
    return PurchaseHistory([f"c{i:04d}" for i in range(customers)],
                           [f"p{j:03d}" for j in range(personas * own_products + shared_products)],
                           line_owner, product, line_day)


def test_blend_recalls_twice_what_popularity_does_on_planted_personas():
    history = planted_personas()
    result = temporal_holdout(history, 365 - 90, 365, RecommendSettings())
    recall = result.metrics.query("metric == 'recall' and k == 10 and item_scope == 'all'").set_index("recommender")
    assert recall.loc["blend", "value"] >= 2 * recall.loc["popularity", "value"]
    assert result.ranker is not None and not result.notes


def test_without_a_holdout_the_blend_is_rank_fusion_and_lists_are_complete():
    history = planted_personas(customers=300)
    run = recommend(history, 365, None, RecommendSettings(k=5, exclude_purchased="always"))
    lists = run.recommendations.to_pandas()
    assert run.blend == "rank fusion" and run.holdout is None
    assert lists["customer_id"].nunique() == history.shape[0]
    assert (lists.groupby("customer_id")["rank"].agg(list) == pd.Series([[1, 2, 3, 4, 5]] * len(
        lists["customer_id"].unique()), index=sorted(lists["customer_id"].unique()))).all()
    assert not lists["is_repeat"].any() and not lists.duplicated(["customer_id", "product_id"]).any()
    assert lists["reason"].str.len().min() > 0


def test_history_windows_count_days_and_ages_from_the_cutoff():
    history = PurchaseHistory.from_frame(pd.DataFrame({
        "customer_id": ["a", "a", "a", "b"], "product_id": ["x", "x", "y", "y"],
        "purchase_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-10", "2024-02-01"])}))
    window = history.window(day_number("2024-01-31"))
    assert window.days.toarray().tolist() == [[2, 1], [0, 0]]
    assert window.first_age.toarray()[0].tolist() == [30, 21] and window.last_age.toarray()[0].tolist() == [21, 21]
    assert window.purchase_days.tolist() == [2, 0]


def test_a_window_before_the_first_purchase_is_empty():
    history = PurchaseHistory(["a"], ["x"], [0], [0], [10])
    window = history.window(end=5)
    assert window.days.nnz == 0 and window.purchase_days.tolist() == [0]
