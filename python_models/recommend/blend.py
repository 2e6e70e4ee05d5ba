"""The blend: a ranker learned over every recommender's candidates, or rank fusion where nothing can be learned.

Summing the recommenders' scores does not work where repeat purchases dominate (on UCI Online Retail a naive sum
of the repeat and EASE^R scores ranks below the repeat baseline alone): whether an own product or a new one should
come first depends on how often and how recently the customer bought it, which a ranker learns from the
validation window.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from .candidates import MONOTONE, NOT_LISTED

__all__ = ["BlendRanker", "rank_fusion"]

# reciprocal rank fusion's constant (Cormack et al. 2009): damps the difference between the first few ranks
RRF_K = 60


class BlendRanker(BaseEstimator):
    """P(the customer buys the candidate in the next window), by gradient-boosted trees on the candidate features.

    Small trees, many candidates per leaf and monotone constraints (a higher recommender score can only raise
    the probability) keep it from fitting the validation window's customers and season: on Online Retail, larger
    unconstrained trees ranked the customers they were fitted on far better than the next season's.

    Parameters
    ----------
    max_iter, max_leaf_nodes, min_samples_leaf, learning_rate : scikit-learn's HistGradientBoostingClassifier.
    random_state : int, default=0
    n_threads : int, default=1
        OpenMP threads (one is the safe choice on a shared 2-core machine: two were 8x slower under load).

    Examples
    --------
    >>> from python_models.recommend.candidates import FEATURES
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((2000, len(FEATURES)))
    >>> y = rng.random(2000) < X[:, FEATURES.index("ease_relative")]
    >>> ranker = BlendRanker(min_samples_leaf=20).fit(X, y)
    >>> p = ranker.predict_score(np.array([[0.5] * len(FEATURES)] * 2) * [[1], [1.9]])
    >>> bool(p[1] > p[0])
    True
    """

    def __init__(self, max_iter=50, max_leaf_nodes=7, min_samples_leaf=500, learning_rate=0.1, random_state=0,
                 n_threads=1):
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, features: np.ndarray, labels: np.ndarray):
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes, learning_rate=self.learning_rate,
            min_samples_leaf=min(self.min_samples_leaf, max(len(labels) // 20, 1)), monotonic_cst=list(MONOTONE),
            early_stopping=False, random_state=self.random_state)
        with threadpool_limits(self.n_threads):
            self.model_.fit(features, np.asarray(labels, dtype=bool))
        return self

    def predict_score(self, features: np.ndarray) -> np.ndarray:
        with threadpool_limits(self.n_threads):
            return self.model_.predict_proba(features)[:, 1].astype(np.float32)


def rank_fusion(ranks: np.ndarray) -> np.ndarray:
    """Reciprocal rank fusion of the recommenders' ranks (0 = best; ``NOT_LISTED`` outside a top): the blend
    when no ranker can be learned (a shop with too little history for a validation window).

    Examples
    --------
    >>> rank_fusion(np.array([[0, NOT_LISTED], [5, 0]])).round(4).tolist()   # 1/61; 1/66 + 1/61
    [0.0164, 0.0315]
    """
    listed = ranks < NOT_LISTED
    return np.where(listed, 1.0 / (RRF_K + 1 + ranks.astype(np.float64)), 0.0).sum(axis=1)
