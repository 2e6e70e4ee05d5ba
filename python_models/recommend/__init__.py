"""Recommendations from purchase history, measured against strong simple baselines on a temporal holdout.

* :class:`PurchaseHistory` - customer x product x day rows, cut into windows (:class:`Interactions`).
* Recommenders, each ``fit(interactions)`` then ``score(interactions, rows)`` (scikit-learn style):
  :class:`Popularity` (shop-wide or per segment, for cold start), :class:`RepeatPurchases` (own products,
  recency-weighted), :class:`ItemKNN` (co-purchase cosine), :class:`EASE` (EASE^R), :class:`ImplicitALS`
  (ALS through ``implicit``).
* Metrics at k: :func:`ranking_metrics` (recall, NDCG, MAP, hit rate); :class:`ScopedMetrics` adds item scopes
  (all, repeat, new) and catalogue coverage.
* :func:`recommend` - a whole run: :func:`temporal_holdout` (every recommender and the blend measured on the
  last window, EASE^R's l2 and the ranker learned on the window before), then every customer's list from the
  recommenders refitted on all history, blended by :class:`BlendRanker`, with a source and a reason per row.

Typical use::

    history = PurchaseHistory.from_frame(rows)    # customer_id, product_id, purchase_date
    run = recommend(history, end=day_number("2011-12-10"), test_start=day_number("2011-09-08"),
                    settings=RecommendSettings())
    run.recommendations        # Arrow: customer_id, rank, product_id, score, source, reason, is_repeat
    with_targets(run.holdout.metrics)   # recommender, metric, k, item_scope, value, customers, targets
"""

from .als import ImplicitALS
from .blend import BlendRanker
from .ease import EASE
from .history import Interactions, PurchaseHistory, day_number
from .item_knn import ItemKNN
from .metrics import METRICS, SCOPES, ScopedMetrics, hits_at, ranking_metrics, top_k
from .holdout import temporal_holdout, with_targets
from .pipeline import RecommendationRun, recommend
from .popularity import Popularity
from .repeat import RepeatPurchases
from .settings import RecommendSettings

__all__ = [
    "BlendRanker",
    "EASE",
    "METRICS",
    "ImplicitALS",
    "Interactions",
    "ItemKNN",
    "Popularity",
    "PurchaseHistory",
    "RecommendSettings",
    "RecommendationRun",
    "RepeatPurchases",
    "SCOPES",
    "ScopedMetrics",
    "day_number",
    "hits_at",
    "ranking_metrics",
    "recommend",
    "temporal_holdout",
    "top_k",
    "with_targets",
]
