"""Product taste learned from what customers bought: a truncated SVD of the TF-IDF customer x product matrix.

A category column says little when it is missing (UCI Online Retail has 3,684 products and no category) or
too coarse or too fine for the fixed category slots (8 slots for 24 categories put most of them in ``other``).
The purchase matrix itself carries the taste: customers who buy the same products, or products bought by the
same customers, end up close. Latent semantic analysis of that matrix (scikit-learn's
:class:`~sklearn.feature_extraction.text.TfidfTransformer` then
:class:`~sklearn.decomposition.TruncatedSVD`, both sparse, so 1M customers x 20k products fit in memory)
gives each customer a few ``taste_NN`` coordinates that the segmentation uses as its ``taste`` block.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils.validation import check_is_fitted

__all__ = ["TASTE_PREFIX", "TasteModel", "taste_columns"]

TASTE_PREFIX = "taste_"


def taste_columns(n):
    """Names of ``n`` taste components: ``taste_01``, ``taste_02``, ...

    Examples
    --------
    >>> taste_columns(3)
    ['taste_01', 'taste_02', 'taste_03']
    """
    return [f"{TASTE_PREFIX}{j + 1:02d}" for j in range(n)]


def _is_categorical(pairs):
    return isinstance(pairs["item"].dtype, pd.CategoricalDtype)


def _categories(pairs):
    """The item labels to look up: the categories of a categorical column (one lookup per item, not per row)."""
    missing = {"row", "item", "count"} - set(pairs.columns)
    if missing:
        raise ValueError(f"pairs is missing column(s) {sorted(missing)}.")
    if _is_categorical(pairs):
        return pairs["item"].cat.categories.astype(str)
    return pairs["item"].astype(str)


class TasteModel(TransformerMixin, BaseEstimator):
    """Customer taste coordinates from purchase counts (TF-IDF + truncated SVD).

    Input is the purchase matrix in long form, one row per customer and
    item: ``row`` (the customer's position, ``0 .. n_customers - 1``),
    ``item`` (product id, or category where products are unknown; a
    categorical column is looked up once per item, not once per row) and
    ``count`` (orders of that item). Items bought by fewer than
    ``min_customers`` customers are dropped: they say nothing about a group.
    Counts are dampened (``1 + log(count)``), weighted by inverse document
    frequency (an item everybody buys says little), every customer's row is
    scaled to unit length (a customer's taste, not their volume, which the
    behaviour block already has), and the randomized truncated SVD keeps
    ``n_components`` directions.

    Parameters
    ----------
    n_components : int, default=8
        Taste coordinates kept (at most the number of kept items minus 1).
    min_customers : int, default=5
        Items bought by fewer customers are ignored.
    random_state : int, default=0
        Seed of the randomized SVD.

    Attributes
    ----------
    items_ : Index
        Items kept, in column order.
    n_components_ : int
        Taste coordinates actually produced (0 when fewer than 3 items are
        kept: then there is no taste to learn).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Share of the TF-IDF matrix's variance of each coordinate.
    top_items_ : DataFrame
        For each component, the items with the largest loadings:
        ``component``, ``rank``, ``item``, ``loading``.

    Examples
    --------
    Two groups of customers with their own products:

    >>> pairs = pd.DataFrame({
    ...     "row":   [0, 0, 1, 1, 2, 2, 3, 3, 4, 5],
    ...     "item":  ["a", "b", "a", "b", "c", "d", "c", "d", "a", "c"],
    ...     "count": [3, 1, 1, 2, 2, 2, 1, 1, 1, 5],
    ... })
    >>> model = TasteModel(n_components=2, min_customers=1).fit(pairs, n_rows=6)
    >>> taste = model.transform(pairs, n_rows=6)
    >>> taste.shape
    (6, 2)
    >>> bool(np.sign(taste[0, 1]) == np.sign(taste[4, 1]) != np.sign(taste[2, 1]))
    True
    """

    def __init__(self, n_components=8, min_customers=5, random_state=0):
        self.n_components = n_components
        self.min_customers = min_customers
        self.random_state = random_state

    def _matrix(self, pairs, n_rows):
        cols = self.items_.get_indexer(_categories(pairs)).astype(np.int64)
        if _is_categorical(pairs):
            codes = pairs["item"].cat.codes.to_numpy()
            cols = np.where(codes >= 0, cols[codes], -1)  # code -1: a missing item
        keep = cols >= 0
        rows = pairs["row"].to_numpy(np.int64)[keep]
        if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
            raise ValueError(f"pairs has a row outside 0 .. {n_rows - 1}.")
        counts = pairs["count"].to_numpy(np.float64)[keep]
        return sparse.csr_matrix((counts, (rows, cols[keep])), shape=(n_rows, len(self.items_)))

    def fit(self, pairs, n_rows, y=None):
        """Learn the item vocabulary, the IDF weights and the taste directions.

        Parameters
        ----------
        pairs : DataFrame
            Columns ``row``, ``item``, ``count`` (see the class docstring).
        n_rows : int
            Number of customers (rows without pairs have no taste: all 0).
        y : None
            Ignored.

        Returns
        -------
        self : TasteModel
        """
        self._fit(pairs, n_rows)
        return self

    def _fit(self, pairs, n_rows):
        """Fit; return the weighted purchase matrix (None without taste), so fit_transform builds it once."""
        # one row per customer and item, so an item's buyers are its rows with a positive count
        bought = pairs["count"].to_numpy() > 0
        if _is_categorical(pairs):
            labels = pairs["item"].cat.categories.astype(str)
            codes = pairs["item"].cat.codes.to_numpy()
            buyers = np.bincount(codes[bought & (codes >= 0)], minlength=len(labels))
        else:
            labels, codes = np.unique(pairs["item"].astype(str).to_numpy()[bought], return_inverse=True)
            buyers = np.bincount(codes, minlength=len(labels))
        self.items_ = pd.Index(np.sort(np.asarray(labels)[buyers >= self.min_customers]))
        if not isinstance(self.n_components, numbers.Integral) or self.n_components < 0:
            raise ValueError(f"n_components must be an integer >= 0, got {self.n_components!r}.")
        # the SVD gives at most min(customers, items) - 1 directions
        n_keep = min(int(self.n_components), len(self.items_) - 1, int(n_rows) - 1)
        self.n_components_ = n_keep if len(self.items_) >= 3 and n_keep > 0 else 0
        if self.n_components_ == 0:
            self.explained_variance_ratio_ = np.zeros(0)
            self.top_items_ = pd.DataFrame(columns=["component", "rank", "item", "loading"])
            return None
        counts = self._matrix(pairs, n_rows)
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        weighted = self.tfidf_.transform(counts)
        self.svd_ = TruncatedSVD(n_components=self.n_components_, algorithm="randomized",
                                 random_state=self.random_state).fit(weighted)
        self.explained_variance_ratio_ = self.svd_.explained_variance_ratio_
        self.top_items_ = self._top_items()
        return weighted

    def transform(self, pairs, n_rows):
        """Taste coordinates of every customer (rows without known items: 0).

        Parameters
        ----------
        pairs : DataFrame
            Columns ``row``, ``item``, ``count``; items not seen at fit time
            are ignored.
        n_rows : int
            Number of customers.

        Returns
        -------
        ndarray of shape (n_rows, n_components_)
        """
        check_is_fitted(self, "items_")
        if self.n_components_ == 0:
            return np.zeros((n_rows, 0))
        return self.svd_.transform(self.tfidf_.transform(self._matrix(pairs, n_rows)))

    def fit_transform(self, pairs, n_rows, y=None):
        """:meth:`fit`, then :meth:`transform` of the same pairs, building the matrix once."""
        weighted = self._fit(pairs, n_rows)
        return np.zeros((n_rows, 0)) if weighted is None else self.svd_.transform(weighted)

    def get_feature_names_out(self, input_features=None):
        """``taste_01 .. taste_NN``."""
        check_is_fitted(self, "items_")
        return np.asarray(taste_columns(self.n_components_), dtype=object)

    def _top_items(self, n_top=5):
        rows = []
        for j, loadings in enumerate(self.svd_.components_):
            order = np.argsort(-np.abs(loadings), kind="stable")[:n_top]
            rows += [{"component": j + 1, "rank": r + 1, "item": self.items_[i], "loading": float(loadings[i])}
                     for r, i in enumerate(order)]
        return pd.DataFrame(rows)
