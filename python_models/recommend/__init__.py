"""Recommendations from purchase history, measured against strong simple baselines on a temporal holdout.

* :class:`PurchaseHistory` - customer x product x day rows, cut into windows (:class:`Interactions`).
* Recommenders, each ``fit(interactions)`` then ``score(interactions, rows)`` (scikit-learn style):
  :class:`Popularity` (shop-wide or per segment, for cold start), :class:`RepeatPurchases` (own products,
  recency-weighted), :class:`ItemKNN` (co-purchase cosine), :class:`EASE` (EASE^R), :class:`ImplicitALS`
  (ALS through ``implicit``).
* Metrics at k: :func:`ranking_metrics` (recall, NDCG, MAP, hit rate), :func:`catalogue_coverage`.
"""

from .als import ImplicitALS
from .ease import EASE
from .history import Interactions, PurchaseHistory, day_number
from .item_knn import ItemKNN
from .metrics import METRICS, catalogue_coverage, hits_at, ranking_metrics, top_k
from .popularity import Popularity
from .repeat import RepeatPurchases

__all__ = [
    "EASE",
    "METRICS",
    "ImplicitALS",
    "Interactions",
    "ItemKNN",
    "Popularity",
    "PurchaseHistory",
    "RepeatPurchases",
    "catalogue_coverage",
    "day_number",
    "hits_at",
    "ranking_metrics",
    "top_k",
]
