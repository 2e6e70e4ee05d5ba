"""Purchase history as sparse customer x product matrices, cut at any date.

The warehouse gives one row per customer, product and purchase day (``int_customer_product_days``). The
temporal holdout needs the same history cut at three dates (validation, test, today), so the rows are sorted once
by (customer, product, day) and each window is a mask over them: no Python loop, no re-sorting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["Interactions", "PurchaseHistory", "day_number"]

EPOCH = np.datetime64("1970-01-01", "D")


def day_number(value) -> int:
    """Days since 1970-01-01 of a date (a ``datetime.date``, ``numpy.datetime64`` or ISO string).

    Examples
    --------
    >>> day_number("1970-01-11")
    10
    """
    return int((np.datetime64(value, "D") - EPOCH).astype(np.int64))


@dataclass(frozen=True)
class Interactions:
    """What each customer bought before a cutoff, as customer x product matrices sharing one sparsity pattern.

    Attributes
    ----------
    days : csr_matrix of float32
        Purchase days of the product by the customer (same-day orders count once).
    first_age, last_age : csr_matrix of float32
        Days from the first / last of those purchase days to the cutoff (at least 1, so no stored zero).
    purchase_days : ndarray of int64
        Distinct purchase days of each customer (any product).
    """

    days: sparse.csr_matrix
    first_age: sparse.csr_matrix
    last_age: sparse.csr_matrix
    purchase_days: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.days.shape

    @property
    def bought(self) -> sparse.csr_matrix:
        """1 where the customer bought the product (float32)."""
        return self.with_values(np.ones_like(self.days.data))

    def active_customers(self) -> np.ndarray:
        """Row numbers of the customers with at least one purchase in the window."""
        return np.flatnonzero(np.diff(self.days.indptr) > 0)

    def buyers(self) -> np.ndarray:
        """Customers who bought each product (int64, one per product)."""
        return np.bincount(self.days.indices, minlength=self.shape[1]).astype(np.int64)

    def with_values(self, data: np.ndarray) -> sparse.csr_matrix:
        """A matrix of the same pattern with other values (one per stored entry, in csr order)."""
        return sparse.csr_matrix((data, self.days.indices, self.days.indptr), shape=self.shape)


class PurchaseHistory:
    """Every purchase day of every customer and product, cut into windows on demand.

    Parameters
    ----------
    customers, products : array-like of str
        The ids; a row's customer and product are positions in them. Products are kept in the given order
        (sorted ids give ties broken the way SQL's ``order by product_id`` breaks them).
    customer, product : array-like of int
        Per purchase-day row: position of its customer and product.
    day : array-like of int
        Per row: the purchase day as a day number (``day_number``).

    Examples
    --------
    >>> history = PurchaseHistory(["c1", "c2"], ["a", "b"], [0, 0, 0, 1], [0, 0, 1, 1], [1, 5, 5, 9])
    >>> window = history.window(end=8)          # purchases before day 8
    >>> window.days.toarray().tolist()
    [[2.0, 1.0], [0.0, 0.0]]
    >>> window.last_age.toarray().tolist()       # day 5 is 3 days before day 8
    [[3.0, 3.0], [0.0, 0.0]]
    >>> history.bought_between(8, 10).toarray().tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, customers, products, customer, product, day):
        self.customers = np.asarray(customers, dtype=object)
        self.products = np.asarray(products, dtype=object)
        customer = np.asarray(customer, dtype=np.int64)
        product = np.asarray(product, dtype=np.int64)
        day = np.asarray(day, dtype=np.int64)
        self._key = customer * len(self.products) + product
        order = np.lexsort((day, self._key))
        key, day = self._key[order], day[order]
        first = np.r_[True, (key[1:] != key[:-1]) | (day[1:] != day[:-1])]  # a repeated row is one purchase day
        self._key, self._day = key[first], day[first]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, customers=None) -> PurchaseHistory:
        """From rows ``customer_id, product_id, purchase_date`` (one per customer, product and day).

        Categorical id columns are used as they are (one string per distinct id); products are put in sorted
        order of their ids. ``customers``: every customer to keep a row for, also those without a purchase
        here (the rows' customers must be among them); default: the rows' customers.
        """
        customer = frame["customer_id"].astype("category")
        if customers is not None:
            customer = customer.cat.set_categories(pd.Index(customers, dtype=object).unique())
            if customer.isna().any():
                raise ValueError("purchase rows name customers that are not in `customers`")
        product = frame["product_id"].astype("category")
        product = product.cat.reorder_categories(sorted(product.cat.categories))
        dates = pd.to_datetime(frame["purchase_date"]).to_numpy().astype("datetime64[D]")
        return cls(customer.cat.categories.to_numpy(), product.cat.categories.to_numpy(),
                   customer.cat.codes.to_numpy(), product.cat.codes.to_numpy(),
                   (dates - EPOCH).astype(np.int64))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.customers), len(self.products)

    @property
    def first_day(self) -> int | None:
        return int(self._day.min()) if len(self._day) else None

    @property
    def last_day(self) -> int | None:
        return int(self._day.max()) if len(self._day) else None

    def window(self, end: int) -> Interactions:
        """Purchases on days before ``end``, with ages counted to ``end``."""
        keep = self._day < end
        key, day = self._key[keep], self._day[keep]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        stops = np.r_[starts[1:], len(key)] if len(key) else starts  # a window before the first purchase: empty
        pairs = key[starts]
        rows, cols = np.divmod(pairs, len(self.products))
        indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=len(self.customers)))]

        def matrix(values):
            return sparse.csr_matrix((values.astype(np.float32), cols, indptr), shape=self.shape)

        owner_days = np.unique(key // len(self.products) * (end + 1) + day) // (end + 1)
        # rows are sorted by day within a pair: the first row is the first day, the last the last
        return Interactions(days=matrix(stops - starts), first_age=matrix(end - day[starts]),
                            last_age=matrix(end - day[stops - 1]),
                            purchase_days=np.bincount(owner_days, minlength=len(self.customers)))

    def bought_between(self, start: int, end: int) -> sparse.csr_matrix:
        """1 where the customer bought the product on a day in ``[start, end)`` (float32 csr)."""
        keep = (self._day >= start) & (self._day < end)
        pairs = np.unique(self._key[keep])
        rows, cols = np.divmod(pairs, len(self.products))
        return sparse.csr_matrix((np.ones(len(pairs), np.float32), (rows, cols)), shape=self.shape)
