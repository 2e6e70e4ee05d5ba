"""The five recommenders fitted on one window, and the blend's candidates with their features.

A customer's candidates are the top products of every recommender (own products by the repeat score, item
k-NN, EASE^R, ALS, popularity). Each candidate gets the features the ranker learns from: how often and how
recently the customer bought it, every recommender's score (raw and relative to the customer's best), the
product's popularity and trend, and how much history the customer has. Scores are dense per batch of
customers, never for all customers at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .als import ImplicitALS
from .ease import EASE, gram_matrix, most_bought
from .history import Interactions, PurchaseHistory
from .item_knn import ItemKNN, top_per_row
from .popularity import Popularity
from .repeat import RepeatPurchases
from .settings import RecommendSettings

__all__ = ["FEATURES", "MONOTONE", "SOURCES", "CandidateBatch", "Recommenders", "fit_recommenders"]

# the recommenders in the order a tie between their ranks goes (own products first)
SOURCES = ("repeat", "item_knn", "ease", "als", "popularity")
# the recommenders whose scores are dense rows (every product); own products and popularity stay sparse
DENSE_SOURCES = ("item_knn", "ease", "als")

FEATURES = (
    "own_days", "days_since_last", "days_since_first", "repurchase_interval", "due_ratio",
    "repeat_score", "repeat_relative", "item_knn_score", "item_knn_relative", "ease_score", "ease_relative",
    "als_score", "als_relative", "popularity", "popularity_recent", "popularity_trend",
    "customer_products", "customer_purchase_days", "customer_days_since_last", "is_repeat",
)
# features whose increase can only make a purchase more likely: the ranker is held to that (monotone constraint),
# which keeps it from learning shapes that do not carry over from the validation window to the test window
MONOTONE = tuple(int(name in {"own_days", "repeat_score", "repeat_relative", "item_knn_score", "item_knn_relative",
                              "ease_score", "ease_relative", "als_score", "als_relative", "popularity",
                              "popularity_recent"}) for name in FEATURES)

NOT_LISTED = np.iinfo(np.int16).max  # the rank of a product outside a recommender's top


@dataclass
class Recommenders:
    """Recommenders fitted on the purchases before ``end``, and those purchases."""

    interactions: Interactions
    popularity: Popularity
    repeat: RepeatPurchases
    item_knn: ItemKNN
    ease: EASE
    als: ImplicitALS
    recent_share: np.ndarray  # share of the customers active in the last trend_days who bought each product
    end: int

    def dense_scores(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Scores (rows x products) of item k-NN, EASE^R and ALS."""
        x = self.interactions
        return {"item_knn": self.item_knn.score(x, rows), "ease": self.ease.score(x, rows),
                "als": self.als.score(x, rows)}

    def scores(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Scores (rows x products) of every recommender, for measuring them one by one."""
        x = self.interactions
        return {"repeat": self.repeat.score(x, rows), **self.dense_scores(rows),
                "popularity": self.popularity.score(x, rows)}


def fit_recommenders(history: PurchaseHistory, end: int, settings: RecommendSettings, l2: float,
                     ease: EASE | None = None, gram: np.ndarray | None = None, groups: np.ndarray | None = None,
                     log=None) -> Recommenders:
    """Fit every recommender on the purchases before day ``end`` (``ease``: one already fitted there, with the
    Gram matrix ``gram`` it was fitted on)."""
    log = log or (lambda message: None)
    interactions = history.window(end)
    popularity = Popularity(shrinkage=settings.segment_shrinkage).fit(interactions, groups)
    repeat = RepeatPurchases(half_life_days=settings.half_life_days).fit(interactions)
    if ease is None:
        gram = gram_matrix(interactions, most_bought(interactions, settings.ease_max_products))
        ease = EASE(l2=l2, max_products=settings.ease_max_products).fit(interactions, gram=gram)
    if len(ease.products_) < interactions.shape[1]:
        gram = None  # X'X of only some products: item k-NN computes its own
    log(f"EASE^R: {len(ease.products_):,} products, l2 = {ease.l2:g}")
    item_knn = ItemKNN(min_support=settings.min_support, neighbours=settings.neighbours).fit(interactions, gram)
    log(f"item k-NN: {item_knn.similarity_.nnz:,} product pairs")
    als = ImplicitALS(factors=settings.als_factors, regularization=settings.als_regularization,
                      iterations=settings.als_iterations, random_state=settings.random_state,
                      num_threads=settings.num_threads).fit(interactions)
    log(f"ALS: {settings.als_factors} factors over {interactions.shape[0]:,} customers")
    recent = history.bought_between(end - settings.trend_days, end)
    recent_buyers = np.bincount(recent.indices, minlength=recent.shape[1])
    recent_share = (recent_buyers / max(int((np.diff(recent.indptr) > 0).sum()), 1)).astype(np.float32)
    return Recommenders(interactions, popularity, repeat, item_knn, ease, als, recent_share, end)


@dataclass
class CandidateBatch:
    """Candidates of a batch of customers: one row per (customer, product) pair, sorted by customer then product.

    ``row`` is the position in the batch, ``item`` the product's; ``features`` follow ``FEATURES``;
    ``ranks[:, j]`` is the pair's rank (0 = best) in the top of ``SOURCES[j]`` (``NOT_LISTED`` outside it).
    """

    rows: np.ndarray  # the batch's customers (positions in the history)
    row: np.ndarray
    item: np.ndarray
    features: np.ndarray
    ranks: np.ndarray

    @property
    def is_repeat(self) -> np.ndarray:
        return self.features[:, FEATURES.index("is_repeat")] > 0

    @classmethod
    def build(cls, fitted: Recommenders, rows: np.ndarray, settings: RecommendSettings,
              groups: np.ndarray | None = None, allowed: np.ndarray | None = None,
              dense: dict[str, np.ndarray] | None = None) -> CandidateBatch:
        """The candidates of the customers at ``rows``.

        ``allowed`` (bool per product) limits them, e.g. to the products seen in training; ``groups`` gives
        segment popularity to the rows with a group; ``dense`` reuses item k-NN, EASE^R and ALS scores already
        computed for these rows. Only those three are dense (rows x products); own products and popularity stay
        sparse.
        """
        rows = np.asarray(rows, dtype=np.int64)
        x = fitted.interactions
        n_products = x.shape[1]
        n = settings.candidates_per_source
        if dense is None:
            dense = fitted.dense_scores(rows)
        if allowed is not None:
            dense = {name: np.where(allowed, score, -np.inf) for name, score in dense.items()}
        own = _Own(fitted, rows)
        keep = own.item_allowed(allowed)
        lists = [_top_sparse(own.row[keep], own.item[keep], own.repeat[keep], n)]
        lists += [_top_dense(dense[name], n) for name in DENSE_SOURCES]
        group = None
        if groups is not None and fitted.popularity.group_share_ is not None:
            group = np.asarray(groups, dtype=np.int64)[rows]
        lists.append(_top_popular(fitted, group, len(rows), n, allowed))

        keys = np.unique(np.concatenate([row * n_products + item for row, item, _ in lists]))
        row, item = np.divmod(keys, n_products)
        ranks = np.full((len(keys), len(SOURCES)), NOT_LISTED, dtype=np.int16)
        for j, (list_row, list_item, rank) in enumerate(lists):
            ranks[np.searchsorted(keys, list_row * n_products + list_item), j] = rank

        found, at = own.find(row, item)
        own_days = np.where(found, own.days[at], 0.0)
        days_since_last = np.where(found, own.last[at], np.nan)
        days_since_first = np.where(found, own.first[at], np.nan)
        interval = np.where(own_days > 1, (days_since_first - days_since_last) / np.maximum(own_days - 1, 1), np.nan)
        customer_last = np.full(len(rows), np.nan)
        customer_last[own.rows_with_purchases] = np.minimum.reduceat(own.last, own.starts)
        columns = {
            "own_days": own_days,
            "days_since_last": days_since_last,
            "days_since_first": days_since_first,
            "repurchase_interval": interval,
            "due_ratio": days_since_last / interval,
            "repeat_score": np.where(found, own.repeat[at], 0.0),
            "repeat_relative": np.where(found, own.repeat[at], 0.0) / own.best[row],
            "popularity": _popularity_at(fitted, group, row, item),
            "popularity_recent": fitted.recent_share[item],
            "popularity_trend": fitted.recent_share[item] / np.maximum(fitted.popularity.share_[item], 1e-6),
            "customer_products": own.products[row],
            "customer_purchase_days": x.purchase_days[rows][row],
            "customer_days_since_last": customer_last[row],
            "is_repeat": found,
        }
        for name in DENSE_SOURCES:
            score = dense[name][row, item]
            best = dense[name].max(axis=1)
            columns[f"{name}_score"] = score
            columns[f"{name}_relative"] = score / np.where(best > 0, best, 1.0)[row]
        features = np.column_stack([np.asarray(columns[name], dtype=np.float32) for name in FEATURES])
        return cls(rows, row, item, features, ranks)


class _Own:
    """The batch's own purchases, sparse: one entry per (customer, product) bought, in csr order."""

    def __init__(self, fitted: Recommenders, rows: np.ndarray):
        x = fitted.interactions
        days = x.days[rows]
        counts = np.diff(days.indptr)
        self.n_products = x.shape[1]
        self.row = np.repeat(np.arange(len(rows)), counts)
        self.item = days.indices.astype(np.int64)
        self.days = days.data
        self.last = x.last_age[rows].data
        self.first = x.first_age[rows].data
        self.repeat = fitted.repeat.own_scores(x)[rows].data
        self.products = counts
        self.rows_with_purchases = np.flatnonzero(counts > 0)
        self.starts = days.indptr[:-1][self.rows_with_purchases]
        self.best = np.ones(len(rows))
        if len(self.starts):
            self.best[self.rows_with_purchases] = np.maximum.reduceat(self.repeat, self.starts)
        self.keys = self.row * self.n_products + self.item  # sorted: csr rows, sorted columns

    def item_allowed(self, allowed: np.ndarray | None) -> np.ndarray:
        return np.ones(len(self.item), dtype=bool) if allowed is None else allowed[self.item]

    def find(self, row: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each pair was bought, and where (positions into the arrays above)."""
        keys = row * self.n_products + item
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        found = (self.keys[at] == keys) if len(self.keys) else np.zeros(len(keys), dtype=bool)
        return found, at


def _popularity_at(fitted: Recommenders, group: np.ndarray | None, row: np.ndarray, item: np.ndarray):
    """Each pair's popularity: its customer's segment's where ``group`` gives one (>= 0), else the shop's."""
    if group is None:
        return fitted.popularity.share_[item]
    g = group[row]
    return np.where(g >= 0, fitted.popularity.group_share_[np.maximum(g, 0), item], fitted.popularity.share_[item])


def _top_sparse(row, item, score, n):
    """(row, item, rank) of each row's n best entries (ties: smaller item)."""
    chosen = top_per_row(row, item, score, n)
    row, item, score = row[chosen], item[chosen], score[chosen]
    order = np.lexsort((item, -score, row))
    row, item = row[order], item[order]
    return row, item, (np.arange(len(row)) - np.searchsorted(row, row)).astype(np.int16)


def _top_dense(score: np.ndarray, n: int):
    """(row, item, rank) of each row's n best finite scores (ties: smaller item)."""
    n = min(n, score.shape[1])
    top = np.argpartition(-score, n - 1, axis=1)[:, :n] if n < score.shape[1] else \
        np.broadcast_to(np.arange(score.shape[1]), score.shape).copy()
    chosen = np.take_along_axis(score, top, axis=1)
    order = np.lexsort((top, -chosen), axis=1)
    top, chosen = np.take_along_axis(top, order, axis=1), np.take_along_axis(chosen, order, axis=1)
    finite = np.isfinite(chosen)
    row = np.broadcast_to(np.arange(score.shape[0])[:, None], top.shape)
    rank = np.broadcast_to(np.arange(n, dtype=np.int16), top.shape)
    return row[finite], top[finite], rank[finite]


def _top_popular(fitted: Recommenders, group: np.ndarray | None, n_rows: int, n: int,
                 allowed: np.ndarray | None):
    """(row, item, rank) of popularity's top n: the shop's list, or the row's segment's (``group`` >= 0)."""
    by_row = np.full(n_rows, -1, dtype=np.int64) if group is None else group
    rows, items, ranks = [], [], []
    for g in np.unique(by_row):  # a handful of segments, not one pass per customer
        share = fitted.popularity.share_ if g < 0 else fitted.popularity.group_share_[g]
        scored = share if allowed is None else np.where(allowed, share, -np.inf)
        top = np.lexsort((np.arange(len(scored)), -scored))[:n]
        top = top[np.isfinite(scored[top])]
        members = np.flatnonzero(by_row == g)
        rows.append(np.repeat(members, len(top)))
        items.append(np.tile(top, len(members)))
        ranks.append(np.tile(np.arange(len(top), dtype=np.int16), len(members)))
    return np.concatenate(rows), np.concatenate(items), np.concatenate(ranks)
