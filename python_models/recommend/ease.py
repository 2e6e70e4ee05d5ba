"""EASE^R (Steck 2019): a closed-form item-item model, one regularised inverse of the Gram matrix."""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from .history import Interactions

__all__ = ["EASE", "gram_matrix"]


def gram_matrix(interactions: Interactions, products: np.ndarray) -> np.ndarray:
    """``X'X`` of the binary purchase matrix over ``products`` (dense float32): co-buying customers."""
    bought = interactions.bought[:, products]
    return (bought.T @ bought).toarray().astype(np.float32)


def most_bought(interactions: Interactions, limit: int) -> np.ndarray:
    """Positions of the ``limit`` products with the most buyers (ties: the smaller position), in position order."""
    buyers = interactions.buyers()
    if len(buyers) <= limit:
        return np.arange(len(buyers))
    return np.sort(np.lexsort((np.arange(len(buyers)), -buyers))[:limit])


class EASE(BaseEstimator):
    """Embarrassingly shallow autoencoder: ``B = I - P / diag(P)`` with ``P = (X'X + l2 I)^-1``, ``diag(B) = 0``.

    A customer's scores are ``x B`` (x: the products they bought, 0/1). The inverse is a Cholesky factorisation
    and inversion in float32 (LAPACK ``spotrf``/``spotri``, one thread): seconds for a few thousand products. It
    grows with the cube of the products, so only the ``max_products`` most bought take part; the others score 0.

    Parameters
    ----------
    l2 : float, default=200
        The one regularisation parameter (chosen on a validation split by the holdout).
    max_products : int, default=5000

    Attributes
    ----------
    products_ : ndarray of int
        Positions of the products in the model.
    weights_ : ndarray of shape (len(products_), len(products_)), float32

    Examples
    --------
    >>> from python_models.recommend import PurchaseHistory
    >>> history = PurchaseHistory(["1", "2", "3"], ["a", "b", "c"], [0, 0, 1, 1, 2], [0, 1, 0, 1, 2],
    ...                           [0, 0, 0, 0, 0])
    >>> model = EASE(l2=1.0).fit(history.window(end=1))
    >>> (model.weights_.astype(float).round(3) + 0.0).tolist()   # a and b go together, c with nothing
    [[0.0, 0.667, 0.0], [0.667, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, l2=200.0, max_products=5000):
        self.l2 = l2
        self.max_products = max_products

    def fit(self, interactions: Interactions, gram: np.ndarray | None = None):
        """Fit; ``gram`` (``gram_matrix`` over ``most_bought(interactions, max_products)``) saves recomputing it
        when several ``l2`` are tried on one window."""
        self.products_ = most_bought(interactions, self.max_products)
        gram = gram_matrix(interactions, self.products_) if gram is None else gram
        self.weights_ = _ease_weights(gram, self.l2)
        return self

    def score(self, interactions: Interactions, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), interactions.shape[1]), dtype=np.float32)
        out[:, self.products_] = interactions.bought[rows][:, self.products_] @ self.weights_
        return out


def _ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    regularised = gram.copy()
    regularised[np.diag_indices_from(regularised)] += np.float32(l2)
    # one BLAS thread: on a shared 2-core machine a threaded factorisation was 20x slower, not faster
    with threadpool_limits(1, "blas"):
        factor, info = lapack.spotrf(regularised, lower=True, overwrite_a=True)
        if info == 0:
            inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"X'X + {l2} I is not positive definite (LAPACK info {info})")
    # spotri fills the lower triangle only: mirror it (np.where is 10x faster than adding two trils)
    inverse = np.where(np.tri(len(inverse), dtype=bool), inverse, inverse.T)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)
