"""Popularity: the share of customers who bought each product, for the shop or within a customer's segment."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .history import Interactions

__all__ = ["Popularity"]


class Popularity(BaseEstimator):
    """Recommend what most customers bought: the baseline every recommender has to beat.

    ``share_[p]`` is the share of the customers with a purchase in the window who bought product ``p``. With
    ``groups`` (a segment per customer) each group gets its own shares, shrunk towards the shop's so that a small
    segment does not recommend what two of its customers happened to buy:
    ``(buyers in group + shrinkage * share) / (group size + shrinkage)``. That is the cold-start list: what
    customers like a new customer buy.

    Parameters
    ----------
    shrinkage : float, default=20
        Pseudo-customers of the shop's shares added to each group.

    Attributes
    ----------
    share_ : ndarray of shape (n_products,)
    group_share_ : ndarray of shape (n_groups, n_products) or None

    Examples
    --------
    >>> from python_models.recommend import PurchaseHistory
    >>> history = PurchaseHistory(["c1", "c2", "c3"], ["a", "b"], [0, 1, 2, 2], [0, 0, 0, 1], [1, 1, 1, 1])
    >>> model = Popularity().fit(history.window(end=2))
    >>> model.share_.astype(float).round(2).tolist()
    [1.0, 0.33]
    >>> grouped = Popularity(shrinkage=0).fit(history.window(end=2), groups=[0, 0, 1])
    >>> grouped.group_share_.astype(float).round(2).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """

    def __init__(self, shrinkage=20.0):
        self.shrinkage = shrinkage

    def fit(self, interactions: Interactions, groups=None):
        bought = interactions.bought
        active = np.diff(bought.indptr) > 0
        self.share_ = (interactions.buyers() / max(int(active.sum()), 1)).astype(np.float32)
        self.group_share_ = None
        if groups is not None:
            groups = np.asarray(groups, dtype=np.int64)
            n_groups = int(groups.max()) + 1 if len(groups) else 0
            member = np.where(active & (groups >= 0))[0]
            indicator = _group_indicator(groups[member], n_groups)
            buyers = (indicator @ bought[member]).toarray()
            sizes = np.bincount(groups[member], minlength=n_groups)[:, None]
            self.group_share_ = ((buyers + self.shrinkage * self.share_) /
                                 np.maximum(sizes + self.shrinkage, 1)).astype(np.float32)
        return self

    def score(self, interactions: Interactions, rows, groups=None) -> np.ndarray:
        """Scores of every product for the customers at ``rows``: their group's shares where ``groups`` gives a
        group (>= 0) and the model was fitted with groups, else the shop's."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.broadcast_to(self.share_, (len(rows), len(self.share_))).copy()
        if groups is not None and self.group_share_ is not None:
            group = np.asarray(groups, dtype=np.int64)[rows]
            known = group >= 0
            out[known] = self.group_share_[group[known]]
        return out


def _group_indicator(groups: np.ndarray, n_groups: int):
    from scipy import sparse

    return sparse.csr_matrix((np.ones(len(groups), np.float32), (groups, np.arange(len(groups)))),
                             shape=(n_groups, len(groups)))
