"""Which recommender a recommended product comes from, and a reason a customer would understand.

* own products (``repeat``): "you buy this every 3 weeks", or "you bought this on 2011-06-02" after one purchase;
* ``item_knn``: "often bought with 85123A" (the customer's product most similar to it);
* ``ease``: "goes with 85123A, which you bought" (the customer's product that weighs most in its EASE^R score);
* ``als``: "customers with tastes like yours buy this";
* ``popularity``: "popular with Champions" (the customer's segment, for customers with one purchase day) or
  "a best seller".

Strings are built with Arrow compute, not one Python string per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from .candidates import FEATURES, NOT_LISTED, SOURCES

__all__ = ["best_source", "interval_text", "strongest_anchor", "reason_text"]


def best_source(ranks: np.ndarray, is_repeat: np.ndarray) -> np.ndarray:
    """Index into ``SOURCES`` per candidate: ``repeat`` for own products, else the recommender that ranks it
    highest (ties: the order of ``SOURCES``).

    Examples
    --------
    >>> best_source(np.array([[NOT_LISTED, 4, 1, 9, NOT_LISTED], [0, 3, 3, 5, 0]]), np.array([False, True]))
    array([2, 0])
    """
    ranks = ranks.astype(np.int64).copy()
    ranks[:, 0] = NOT_LISTED + 1  # own products are told apart by is_repeat, not by their rank
    return np.where(is_repeat, 0, np.argmin(ranks, axis=1))


def strongest_anchor(bought: sparse.csr_matrix, row: np.ndarray, item: np.ndarray, weight) -> np.ndarray:
    """Per (row, item) pair, the product of ``bought[row]`` with the largest positive ``weight(product, item)``
    (ties: the smaller position), -1 when none.

    Examples
    --------
    >>> bought = sparse.csr_matrix(np.array([[1, 1, 0], [0, 0, 1]], dtype=np.float32))
    >>> w = np.array([[0, 0, 0.2], [0, 0, 0.7], [0.1, 0, 0]])
    >>> strongest_anchor(bought, np.array([0, 1, 1]), np.array([2, 0, 1]), lambda a, b: w[a, b]).tolist()
    [1, 2, -1]
    """
    counts = np.diff(bought.indptr)[row]
    pair = np.repeat(np.arange(len(row)), counts)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    own = bought.indices[np.repeat(bought.indptr[row], counts) + offset]
    value = np.asarray(weight(own, item[pair]), dtype=np.float64).ravel() if len(pair) else np.zeros(0)
    order = np.lexsort((own, -value, pair))
    first = order[np.r_[True, pair[order][1:] != pair[order][:-1]]] if len(pair) else order
    anchor = np.full(len(row), -1, dtype=np.int64)
    best = first[value[first] > 0]
    anchor[pair[best]] = own[best]
    return anchor


def interval_text(days: np.ndarray) -> pa.Array:
    """"every 5 days", "every 3 weeks", "every 2 months" (singular for 1) from intervals in days.

    Examples
    --------
    >>> interval_text(np.array([1.2, 5, 20, 75])).to_pylist()
    ['every day', 'every 5 days', 'every 3 weeks', 'every 2 months']
    """
    days = np.asarray(days, dtype=np.float64)
    unit = np.select([days < 13.5, days < 59.5], [1.0, 7.0], 30.4)
    count = np.maximum(np.rint(days / unit), 1).astype(np.int64)
    names = np.select([days < 13.5, days < 59.5], [0, 1], 2)
    singular = pa.array(np.array(["day", "week", "month"])[names])
    plural = pc.binary_join_element_wise(pc.cast(pa.array(count), pa.string()), " ",
                                         pa.array(np.array(["days", "weeks", "months"])[names]), "")
    return pc.binary_join_element_wise("every ", pc.if_else(pa.array(count == 1), singular, plural), "")


def reason_text(source: np.ndarray, features: np.ndarray, anchor: np.ndarray, product_ids: pa.Array,
                end_day: int, segment: pa.Array) -> pa.Array:
    """The reason per recommended row.

    ``source`` indexes ``SOURCES``; ``features`` are the rows' candidate features; ``anchor`` the product behind
    an item k-NN or EASE^R row (-1: none); ``end_day`` the day after the history (ages count to it);
    ``segment`` the segment name where popularity was the segment's, else null.
    """
    column = {name: features[:, i] for i, name in enumerate(FEATURES)}
    interval = column["repurchase_interval"]
    regular = np.isfinite(interval)
    last_date = pa.array((end_day - np.nan_to_num(column["days_since_last"], nan=0)).astype("int32"),
                         type=pa.int32()).cast(pa.date32())
    own = pc.if_else(pa.array(regular),
                     pc.binary_join_element_wise("you buy this ", interval_text(np.where(regular, interval, 1)), ""),
                     pc.binary_join_element_wise("you bought this on ", pc.strftime(last_date, "%Y-%m-%d"), ""))
    anchor_id = product_ids.take(pa.array(np.where(anchor >= 0, anchor, 0))).cast(pa.string())
    has_anchor = pa.array(anchor >= 0)
    knn = pc.if_else(has_anchor, pc.binary_join_element_wise("often bought with ", anchor_id, ""),
                     "often bought with what you buy")
    ease = pc.if_else(has_anchor, pc.binary_join_element_wise("goes with ", anchor_id, ", which you bought", ""),
                      "goes with what you buy")
    popular = pc.if_else(pc.is_valid(segment), pc.binary_join_element_wise("popular with ", segment, ""),
                         "a best seller")
    texts = {"repeat": own, "item_knn": knn, "ease": ease,
             "als": pa.scalar("customers with tastes like yours buy this"), "popularity": popular}
    out = texts["popularity"]
    for i, name in enumerate(SOURCES[:-1]):
        out = pc.if_else(pa.array(source == i), texts[name], out)
    return out
