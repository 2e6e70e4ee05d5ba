"""Item-to-item co-purchase (item k-NN): cosine similarity of the products' buyer sets.

The same definition as the dbt model ``item_similarity`` (published for BI), which a test checks row for row;
this one scores customers in memory and is refitted on each window of the temporal holdout.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

from .history import Interactions

__all__ = ["ItemKNN", "top_per_row"]

# Products per block of the co-purchase count X'X: bounds its memory to about block x products entries.
BLOCK_ENTRIES = 20_000_000
# a block whose co-purchase counts fill more than this share is handled dense (faster than sorting its entries)
DENSE_SHARE = 0.1


class ItemKNN(BaseEstimator):
    """Products bought by the same customers: ``score(a, b) = support / sqrt(buyers(a) * buyers(b))``.

    ``support`` is the number of customers who bought both. Pairs with less than ``min_support`` are dropped
    (two customers who happen to buy the same two things say little), and each product keeps its
    ``neighbours`` most similar products (ties: the smaller product position, i.e. id, first). A customer's
    score for a product is the sum of its similarities to the products the customer bought.

    Parameters
    ----------
    min_support : int, default=2
    neighbours : int, default=50

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_products, n_products)
        Row ``a`` holds the neighbours of ``a`` with their scores.
    support_ : csr_matrix
        The co-buying customers of the same pairs.

    Examples
    --------
    Customers 1 and 2 buy a and b, customer 3 buys a and c: cos(a, b) = 2 / sqrt(3 * 2) = 0.816.

    >>> from python_models.recommend import PurchaseHistory
    >>> history = PurchaseHistory(["1", "2", "3"], ["a", "b", "c"], [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 2],
    ...                           [0, 0, 0, 0, 0, 0])
    >>> model = ItemKNN(min_support=1).fit(history.window(end=1))
    >>> model.similarity_.toarray().astype(float).round(3).tolist()
    [[0.0, 0.816, 0.577], [0.816, 0.0, 0.0], [0.577, 0.0, 0.0]]
    >>> ItemKNN(min_support=2).fit(history.window(end=1)).similarity_.nnz   # a-c has support 1
    2
    """

    def __init__(self, min_support=2, neighbours=50):
        self.min_support = min_support
        self.neighbours = neighbours

    def fit(self, interactions: Interactions, cooccurrence: np.ndarray | None = None):
        """Fit; ``cooccurrence``, the whole ``X'X`` when it is at hand (EASE^R's Gram matrix over every product),
        saves computing it again."""
        bought = interactions.bought
        n_products = bought.shape[1]
        buyers = interactions.buyers().astype(np.float64)
        by_product = bought.T.tocsr()
        block = n_products if cooccurrence is not None else max(1, BLOCK_ENTRIES // max(n_products, 1))
        parts = []
        for start in range(0, n_products, block):
            stop = min(start + block, n_products)
            # customers who bought both: dense where most pairs co-occur (a small catalogue), else sparse
            co = cooccurrence if cooccurrence is not None else by_product[start:stop] @ bought
            if not sparse.issparse(co) or co.nnz > DENSE_SHARE * co.shape[0] * co.shape[1]:
                parts.append(self._dense_block(np.asarray(co.toarray() if sparse.issparse(co) else co), start,
                                               buyers))
            else:
                parts.append(self._sparse_block(co.tocoo(), start, buyers))
        row, col, score, support = (np.concatenate(p) for p in zip(*parts))
        shape = (n_products, n_products)
        self.similarity_ = sparse.csr_matrix((score.astype(np.float32), (row, col)), shape=shape)
        self.support_ = sparse.csr_matrix((support, (row, col)), shape=shape)
        return self

    def _sparse_block(self, co, start, buyers):
        keep = (co.data >= self.min_support) & (co.row + start != co.col)
        row, col, support = co.row[keep] + start, co.col[keep], co.data[keep]
        score = support / np.sqrt(buyers[row] * buyers[col])
        chosen = top_per_row(row, col, score, self.neighbours)
        return row[chosen], col[chosen], score[chosen], support[chosen]

    def _dense_block(self, co, start, buyers):
        n_rows, n_products = co.shape
        co = co.astype(np.float64)
        co[np.arange(n_rows), np.arange(start, start + n_rows)] = 0
        norm = np.sqrt(np.outer(buyers[start:start + n_rows], buyers))  # 0 only where a product has no buyer
        score = np.divide(co, norm, out=np.zeros_like(co), where=co >= self.min_support)
        # each row's neighbours: the scores at or above its n-th largest (ties kept), then ranked exactly
        n = min(self.neighbours, n_products)
        floor = np.partition(score, n_products - n, axis=1)[:, n_products - n] if n else np.full(n_rows, np.inf)
        row, col = np.nonzero((score >= np.maximum(floor, 1e-12)[:, None]) & (score > 0))
        value = score[row, col]
        chosen = top_per_row(row, col, value, self.neighbours)
        row, col = row[chosen], col[chosen]
        return row + start, col, value[chosen], co[row, col]

    def score(self, interactions: Interactions, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return (interactions.bought[rows] @ self.similarity_).toarray()


def top_per_row(row: np.ndarray, col: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest scores of each row (ties: the smaller column first), as a mask.

    Examples
    --------
    >>> top_per_row(np.array([0, 0, 0, 1]), np.array([2, 1, 0, 0]), np.array([0.5, 0.9, 0.5, 0.1]), 2)
    array([False,  True,  True,  True])
    """
    order = np.lexsort((col, -score, row))
    sorted_rows = row[order]
    first = np.r_[0, np.flatnonzero(sorted_rows[1:] != sorted_rows[:-1]) + 1] if len(row) else np.zeros(0, int)
    rank = np.arange(len(row)) - np.repeat(first, np.diff(np.r_[first, len(row)]))
    keep = np.zeros(len(row), dtype=bool)
    keep[order[rank < n]] = True
    return keep
