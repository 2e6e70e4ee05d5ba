"""UCI Online Retail through dbt and the recommendations asset (the shared whole-graph warehouse), and the
evaluation code against the published protocol's numbers."""

import numpy as np
import pytest

from python_models.recommend import (EASE, ItemKNN, Popularity, PurchaseHistory, RepeatPurchases, ScopedMetrics,
                                     day_number)
from tests.pipeline import frame, query

# The README's protocol (train before 2011-09-08, test from it; customers who buy in both windows, products seen
# in training, binary relevance): NDCG@10 from a plain numpy check, all items and new items only.
PUBLISHED = {("popularity", "all"): 0.112, ("repeat", "all"): 0.382, ("item_knn", "all"): 0.229,
             ("ease", "all"): 0.302, ("popularity", "new"): 0.051, ("item_knn", "new"): 0.100,
             ("ease", "new"): 0.121}


def test_recommendations_and_metrics_on_online_retail(online_retail_warehouse):
    metrics = frame(online_retail_warehouse, "select * from recommendation_metrics")
    assert len(metrics) == 6 * 5 * 2 * 3
    ndcg = metrics.query("metric == 'ndcg' and k == 10").set_index(["recommender", "item_scope"])["value"]
    assert ndcg[("blend", "all")] > 3 * ndcg[("popularity", "all")]
    assert ndcg[("blend", "new")] > 2 * ndcg[("popularity", "new")]
    (customers, rows, per_customer), = query(online_retail_warehouse, """
        select count(distinct customer_id), count(*), max(n)
        from (select customer_id, count(*) over (partition by customer_id) as n from customer_recommendations)""")
    assert customers == query(online_retail_warehouse, "select count(*) from customer_360")[0][0]
    assert per_customer == 10 and rows == 10 * customers


def test_evaluation_reproduces_the_published_protocol(online_retail_warehouse):
    rows = frame(online_retail_warehouse, "select customer_id, product_id, purchase_date "
                                          "from intermediate.int_customer_product_days")
    history = PurchaseHistory.from_frame(rows)
    test_start, end = day_number("2011-09-08"), day_number("2011-12-10")
    window = history.window(test_start)
    seen = window.buyers() > 0
    truth = history.bought_between(test_start, end).multiply(seen[None, :]).tocsr()
    customers = np.flatnonzero((np.diff(window.days.indptr) > 0) & (truth.getnnz(axis=1) > 0))
    models = {"popularity": Popularity(), "repeat": RepeatPurchases(), "item_knn": ItemKNN(),
              "ease": EASE(l2=200.0)}
    metrics = ScopedMetrics(len(seen), int(seen.sum()), models, ks=[10])
    bought = window.days[customers].toarray() > 0
    relevant = truth[customers].toarray() > 0
    for name, model in models.items():
        scores = model.fit(window).score(window, customers)
        metrics.add(name, np.where(seen, scores, -np.inf), relevant, bought)
    ndcg = {(name, scope): value for name, metric, k, scope, value, n in metrics.rows() if metric == "ndcg"}
    for key, published in PUBLISHED.items():
        assert ndcg[key] == pytest.approx(published, rel=0.05), key
