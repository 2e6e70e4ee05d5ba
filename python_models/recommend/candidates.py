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

__all__ = ["FEATURES", "MONOTONE", "SOURCES", "CandidateBatch", "Recommenders", "fit_recommenders", "scored"]

# the recommenders in the order a tie between their ranks goes (own products first)
SOURCES = ("repeat", "item_knn", "ease", "als", "popularity")
# the recommenders that score the catalogue for each customer (own products and popularity are lists)
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
DENSE_ABOVE = 0.05  # item k-NN scores filling more of the batch's matrix than this are handled dense
SMALL_CATALOGUE = 5000  # up to this many products, dense scores of every product are the fastest way


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

        ``allowed`` (bool per product) limits them, e.g. to the products seen in training (only with
        ``dense``); ``groups`` gives segment popularity to the rows with a group; ``dense`` gives item k-NN, EASE^R
        and ALS scores already computed for every product, -inf where not allowed (the holdout, which measures
        them too). Without it, on a
        catalogue of more than ``SMALL_CATALOGUE`` products, no rows x products matrix over the whole catalogue is
        made: item k-NN stays sparse, EASE^R covers its own products, ALS's top comes from implicit's top-k.
        """
        rows = np.asarray(rows, dtype=np.int64)
        x = fitted.interactions
        n_products = x.shape[1]
        n = settings.candidates_per_source
        if dense is None and n_products <= SMALL_CATALOGUE:
            dense = fitted.dense_scores(rows)
        if dense is None:
            scored = _scored_sources(fitted, rows, n, settings.num_threads)
        else:
            scored = {name: _Dense(dense[name]) for name in DENSE_SOURCES}
        own = _Own(fitted, rows)
        keep = own.item_allowed(allowed)
        lists = [_top_sparse(own.row[keep], own.item[keep], own.repeat[keep], n)]
        lists += [scored[name].top(n) for name in DENSE_SOURCES]
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
            score = scored[name].at(row, item)
            best = scored[name].best()
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


def _top_of_rows(score: np.ndarray, n: int, columns: np.ndarray | None = None):
    """(row, item, rank) of each row's n best finite scores (ties: smaller column); ``columns`` maps the
    matrix's columns to product positions."""
    n = min(n, score.shape[1])
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int16)
    # argpartition of the scores themselves, not of their negation: half the time on 20k-product rows
    top = np.argpartition(score, score.shape[1] - n, axis=1)[:, -n:] if n < score.shape[1] else \
        np.broadcast_to(np.arange(score.shape[1]), score.shape).copy()
    chosen = np.take_along_axis(score, top, axis=1)
    order = np.lexsort((top, -chosen), axis=1)
    top, chosen = np.take_along_axis(top, order, axis=1), np.take_along_axis(chosen, order, axis=1)
    finite = np.isfinite(chosen)
    row = np.broadcast_to(np.arange(score.shape[0])[:, None], top.shape)
    rank = np.broadcast_to(np.arange(n, dtype=np.int16), top.shape)
    item = top[finite] if columns is None else columns[top[finite]]
    return row[finite], item, rank[finite]


class _Dense:
    """A recommender's scores of every product (rows x products)."""

    def __init__(self, score: np.ndarray):
        self.score = score

    def top(self, n):
        return _top_of_rows(self.score, n)

    def at(self, row, item):
        return self.score[row, item]

    def best(self):
        return self.score.max(axis=1)


class _Sparse:
    """Item k-NN's scores: zero outside the neighbours of the customer's products, so kept sparse."""

    def __init__(self, score):
        self.score = score.tocsr()
        self.row = np.repeat(np.arange(self.score.shape[0]), np.diff(self.score.indptr))
        self.keys = self.row * self.score.shape[1] + self.score.indices

    def top(self, n):
        return _top_sparse(self.row, self.score.indices.astype(np.int64), self.score.data, n)

    def at(self, row, item):
        keys = row * self.score.shape[1] + item
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        return np.where(self.keys[at] == keys, self.score.data[at], 0.0) if len(self.keys) else np.zeros(len(keys))

    def best(self):
        best = np.zeros(self.score.shape[0])
        filled = np.diff(self.score.indptr) > 0
        if filled.any():
            best[filled] = np.maximum.reduceat(self.score.data, self.score.indptr[:-1][filled])
        return best


class _Partial(_Dense):
    """EASE^R's scores over its own products (the others score 0)."""

    def __init__(self, score: np.ndarray, products: np.ndarray, n_products: int):
        super().__init__(score)
        self.products = products
        self.position = np.full(n_products, -1, dtype=np.int64)
        self.position[products] = np.arange(len(products))

    def top(self, n):
        return _top_of_rows(self.score, n, self.products)

    def at(self, row, item):
        inside = self.position[item] >= 0
        return np.where(inside, self.score[row, np.maximum(self.position[item], 0)], 0.0)


class _Factors:
    """ALS's scores as factor dot products; the top from implicit's top-k (C++, no rows x products matrix)."""

    def __init__(self, users: np.ndarray, items: np.ndarray, n: int, num_threads: int):
        from implicit.cpu.topk import topk

        self.users, self.items = users, items
        self.ids, self.scores = topk(items, users, min(n, len(items)), num_threads=num_threads)

    def top(self, n):
        ids, scores = self.ids[:, :n], self.scores[:, :n]
        finite = (ids >= 0) & np.isfinite(scores)
        row = np.broadcast_to(np.arange(ids.shape[0])[:, None], ids.shape)
        rank = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int16), ids.shape)
        return row[finite], ids[finite].astype(np.int64), rank[finite]

    def at(self, row, item):
        return np.einsum("ij,ij->i", self.users[row], self.items[item])

    def best(self):
        return self.scores[:, 0] if self.scores.shape[1] else np.zeros(len(self.users))


def scored(model, interactions: Interactions, rows: np.ndarray, n: int, num_threads: int = 1):
    """An item k-NN, EASE^R or ALS model's scores of the customers at ``rows``, with ``top(n)`` (row, item, rank)
    found without a rows x catalogue matrix where the model allows (the bench times each model this way)."""
    if isinstance(model, ImplicitALS):
        return _Factors(model.user_factors_[rows], model.item_factors_, n, num_threads)
    bought = interactions.bought[rows]
    if isinstance(model, EASE):
        return _Partial(np.asarray(bought[:, model.products_] @ model.weights_), model.products_,
                        interactions.shape[1])
    knn = bought @ model.similarity_
    # a small catalogue bought broadly (UCI Online Retail) fills most of the matrix: then dense is the faster
    return _Dense(knn.toarray()) if knn.nnz > DENSE_ABOVE * knn.shape[0] * knn.shape[1] else _Sparse(knn)


def _scored_sources(fitted: Recommenders, rows: np.ndarray, n: int, num_threads: int) -> dict:
    return {name: scored(getattr(fitted, name), fitted.interactions, rows, n, num_threads) for name in DENSE_SOURCES}


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
