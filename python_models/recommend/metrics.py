"""Ranking metrics at k with binary relevance, per customer and per item scope, and catalogue coverage.

Conventions (those of the temporal-holdout protocol in the README): a recommended product is relevant when the
customer bought it in the test window; NDCG and MAP are normalised by ``min(relevant, k)``, the best a list of
``k`` could do; recall divides by all relevant products. Customers without a relevant product are left out by
the caller (their metrics are undefined).
"""

from __future__ import annotations

import numpy as np

__all__ = ["METRICS", "SCOPES", "ScopedMetrics", "hits_at", "ranking_metrics", "top_k"]

METRICS = ("recall", "ndcg", "map", "hit_rate")
SCOPES = ("all", "repeat", "new")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column positions of each row's ``k`` highest scores, best first; ``-inf`` marks what may not be
    recommended and comes out as -1. Ties go to the smaller position.

    Examples
    --------
    >>> top_k(np.array([[0.1, 0.9, 0.5, -np.inf], [1.0, 1.0, -np.inf, -np.inf]]), 3).tolist()
    [[1, 2, 0], [0, 1, -1]]
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k < n_cols:
        part = np.argpartition(scores, n_cols - k, axis=1)[:, n_cols - k:]  # no negated copy: twice as fast
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols)).copy()
    chosen = np.take_along_axis(scores, part, axis=1)
    # best first, ties by position (argpartition's order among equal scores is arbitrary)
    order = np.lexsort((part, -chosen), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(scores, top, axis=1))] = -1
    return top


def hits_at(top: np.ndarray, relevant) -> np.ndarray:
    """``hits[i, j]``: whether the j-th recommendation of customer i is relevant (``relevant``: a dense boolean
    or sparse 0/1 matrix of customers x products; -1 in ``top`` is never a hit)."""
    rows = np.broadcast_to(np.arange(top.shape[0])[:, None], top.shape)
    safe = np.where(top >= 0, top, 0)
    found = relevant[rows, safe]
    found = np.asarray(found.todense() if hasattr(found, "todense") else found).astype(bool)
    return found & (top >= 0)


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Recall, NDCG, MAP (average precision) and hit rate at ``k = hits.shape[1]``, per customer.

    Parameters
    ----------
    hits : bool array of shape (n_customers, k)
        Whether each recommendation, best first, is relevant.
    n_relevant : int array of shape (n_customers,)
        Relevant products of each customer (at least 1).

    Examples
    --------
    Relevant {a, c, d}; recommended a, b, c: DCG = 1 + 1/log2(4) = 1.5, ideal (3 hits possible at k = 3)
    1 + 1/log2(3) + 1/2 = 2.131; AP = (1/1 + 2/3) / 3.

    >>> m = ranking_metrics(np.array([[True, False, True]]), np.array([3]))
    >>> {name: round(float(v[0]), 4) for name, v in m.items()}
    {'recall': 0.6667, 'ndcg': 0.7039, 'map': 0.5556, 'hit_rate': 1.0}
    """
    hits = np.asarray(hits, dtype=bool)
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    k = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.clip(n_relevant, 1, k).astype(np.int64) - 1]
    found = np.cumsum(hits, axis=1)
    precision = found / np.arange(1, k + 1)
    return {
        "recall": found[:, -1] / n_relevant,
        "ndcg": (hits * discount).sum(axis=1) / ideal,
        "map": (precision * hits).sum(axis=1) / np.minimum(n_relevant, k),
        "hit_rate": (found[:, -1] > 0).astype(np.float64),
    }


class ScopedMetrics:
    """Per recommender, item scope and k: the mean of each metric over the customers, and catalogue coverage,
    accumulated over batches of customers.

    Scopes: ``all``; ``repeat``, lists and relevance limited to the products the customer bought before;
    ``new``, both limited to those they did not. A customer counts in a scope when it holds a relevant product.
    The hand-computed check is ``tests/fixtures/recommend/README.md``.

    Parameters
    ----------
    n_products : int
    catalogue : int
        The products that could be recommended (coverage's denominator).
    recommenders : sequence of str
    ks : sequence of int

    Examples
    --------
    >>> m = ScopedMetrics(3, 3, ["r"], [2])
    >>> m.add("r", np.array([[0.9, 0.5, 0.1]]), np.array([[False, False, True]]), np.array([[True, False, False]]))
    >>> [(scope, metric, round(v, 3)) for _, metric, k, scope, v, n in m.rows() if metric == "recall"]
    [('all', 'recall', 0.0), ('new', 'recall', 1.0)]
    """

    def __init__(self, n_products, catalogue, recommenders, ks):
        self.catalogue = catalogue
        self.ks = tuple(ks)
        self.sums: dict[tuple, float] = {}
        self.counts: dict[tuple, int] = {}
        self.shown = {(name, scope, k): np.zeros(n_products, dtype=bool)
                      for name in recommenders for scope in SCOPES for k in self.ks}

    def add(self, name: str, scores: np.ndarray, truth: np.ndarray, bought: np.ndarray) -> None:
        """One batch: ``scores`` of the recommender (-inf: not recommendable), ``truth`` (bought in the test
        window) and ``bought`` (bought before), all customers x products."""
        for scope in SCOPES:
            if scope == "all":
                scoped, relevant = scores, truth
            elif scope == "repeat":
                scoped, relevant = np.where(bought, scores, -np.inf), truth & bought
            else:
                scoped, relevant = np.where(bought, -np.inf, scores), truth & ~bought
            n_relevant = relevant.sum(axis=1)
            keep = n_relevant > 0
            if not keep.any():
                continue
            top = top_k(scoped[keep], max(self.ks))
            hits = hits_at(top, relevant[keep])
            for k in self.ks:
                key = (name, scope, k)
                for metric, values in ranking_metrics(hits[:, :k], n_relevant[keep]).items():
                    self.sums[key + (metric,)] = self.sums.get(key + (metric,), 0.0) + float(values.sum())
                self.counts[key] = self.counts.get(key, 0) + int(keep.sum())
                shown = top[:, :k]
                self.shown[key][shown[shown >= 0]] = True

    def rows(self) -> list[tuple]:
        """(recommender, metric, k, scope, value, customers) for every scope with customers."""
        out = []
        for (name, scope, k), count in self.counts.items():
            for metric in METRICS:
                out.append((name, metric, k, scope, self.sums[(name, scope, k, metric)] / count, count))
            coverage = self.shown[(name, scope, k)].sum() / self.catalogue if self.catalogue else float("nan")
            out.append((name, "coverage", k, scope, float(coverage), count))
        return out
