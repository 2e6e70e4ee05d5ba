"""The repeat baseline: each customer's own most frequent products, recency-weighted."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .history import Interactions

__all__ = ["RepeatPurchases"]

# Own products always rank above the best sellers that fill a short list.
FILL_WEIGHT = 1e-6


class RepeatPurchases(BaseEstimator):
    """Recommend what the customer already buys: purchase days x 0.5 ** (days since the last / half-life).

    A product bought on 4 days, last 90 days ago, scores 4 x 0.5 ** (90 / 180) = 2.83 with the default half-life.
    Customers with fewer products than asked for get the shop's best sellers after their own (a tiny
    ``FILL_WEIGHT`` x popularity is added, so own products always come first).

    Parameters
    ----------
    half_life_days : float, default=180
        Days after which a purchase counts half.

    Examples
    --------
    >>> from python_models.recommend import PurchaseHistory
    >>> history = PurchaseHistory(["c1", "c2"], ["a", "b", "c"], [0, 0, 0, 1, 1], [0, 0, 1, 2, 1],
    ...                           [0, 180, 270, 1, 2])
    >>> model = RepeatPurchases().fit(history.window(end=360))
    >>> model.score(history.window(end=360), [0]).astype(float).round(3).tolist()
    [[1.0, 0.707, 0.0]]
    """

    def __init__(self, half_life_days=180.0):
        self.half_life_days = half_life_days

    def fit(self, interactions: Interactions):
        active = max(len(interactions.active_customers()), 1)
        self.popularity_ = (interactions.buyers() / active).astype(np.float32)
        return self

    def own_scores(self, interactions: Interactions):
        """The recency-weighted purchase days as a sparse matrix (zero where never bought)."""
        decay = np.power(np.float32(0.5), interactions.last_age.data / np.float32(self.half_life_days))
        return interactions.with_values((interactions.days.data * decay).astype(np.float32))

    def score(self, interactions: Interactions, rows) -> np.ndarray:
        """Float64: in float32 the fill would be lost to rounding, and equal own scores (products bought once on
        the same day) would not be ordered by popularity."""
        rows = np.asarray(rows, dtype=np.int64)
        own = self.own_scores(interactions)[rows].toarray().astype(np.float64)
        return own + FILL_WEIGHT * self.popularity_.astype(np.float64)
