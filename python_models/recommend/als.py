"""Implicit-feedback matrix factorisation: alternating least squares through the `implicit` library."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from .history import Interactions

__all__ = ["ImplicitALS"]


class ImplicitALS(BaseEstimator):
    """ALS for implicit feedback (Hu, Koren & Volinsky 2008) with ``implicit.cpu.als.AlternatingLeastSquares``.

    Each bought product is a positive with confidence ``1 + log(1 + purchase days)``; everything else is a
    weak negative. A customer's scores are the dot products of their factors with the products'.

    Parameters
    ----------
    factors : int, default=64
    regularization : float, default=0.05
    iterations : int, default=15
    random_state : int, default=0
        Seeds the factors' start, so the same purchases give the same factors.
    num_threads : int, default=1
        implicit's threads. One is the safe choice on a 2-core machine shared with DuckDB and other jobs; BLAS
        inside implicit always runs on one thread, as its authors advise.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_customers, factors)
    item_factors_ : ndarray of shape (n_products, factors)

    Examples
    --------
    >>> from python_models.recommend import PurchaseHistory
    >>> history = PurchaseHistory(["1", "2", "3"], ["a", "b", "c"], [0, 0, 1, 2], [0, 1, 0, 2], [0, 0, 0, 0])
    >>> model = ImplicitALS(factors=2, iterations=5).fit(history.window(end=1))
    >>> model.score(history.window(end=1), [1]).shape
    (1, 3)
    """

    def __init__(self, factors=64, regularization=0.05, iterations=15, random_state=0, num_threads=1):
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def fit(self, interactions: Interactions):
        from implicit.cpu.als import AlternatingLeastSquares

        confidence = interactions.with_values((1.0 + np.log1p(interactions.days.data)).astype(np.float32))
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            iterations=self.iterations, random_state=self.random_state,
                                            num_threads=self.num_threads)
            model.fit(confidence, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        return self

    def score(self, interactions: Interactions, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return self.user_factors_[rows] @ self.item_factors_.T
