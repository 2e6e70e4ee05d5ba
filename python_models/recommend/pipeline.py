"""A whole run: the temporal holdout, then every customer's list from recommenders refitted on all history.

``recommend(history, end, test_start, settings)`` returns the ``customer_recommendations`` rows (Arrow) and the
``recommendation_metrics`` rows. Customers are scored in batches: the customer x product score matrix is never
held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .blend import BlendRanker, rank_fusion
from .candidates import FEATURES, SOURCES, CandidateBatch, Recommenders, fit_recommenders
from .history import PurchaseHistory
from .holdout import HoldoutResult, temporal_holdout
from .item_knn import top_per_row
from .reasons import best_source, reason_text, strongest_anchor
from .settings import RecommendSettings

__all__ = ["RECOMMENDATION_SCHEMA", "RecommendationRun", "recommend"]

RECOMMENDATION_SCHEMA = pa.schema([
    ("customer_id", pa.string()), ("rank", pa.int32()), ("product_id", pa.string()), ("score", pa.float64()),
    ("source", pa.string()), ("reason", pa.string()), ("is_repeat", pa.bool_()),
])


@dataclass
class RecommendationRun:
    recommendations: pa.Table
    holdout: HoldoutResult | None
    l2: float
    exclude_purchased: bool
    blend: str  # "ranker" or "rank fusion"
    notes: list[str] = field(default_factory=list)


def recommend(history: PurchaseHistory, end: int, test_start: int | None, settings: RecommendSettings,
              groups: np.ndarray | None = None, group_names: np.ndarray | None = None, log=None
              ) -> RecommendationRun:
    """Lists for every customer of ``history`` from its purchases before day ``end``.

    ``test_start``: the first day of the holdout's test window (None: no holdout, e.g. too short a history).
    ``groups``: a segment number per customer (-1: none) and ``group_names`` their names; customers with one
    purchase day get their segment's popularity (cold start).
    """
    log = log or (lambda message: None)
    notes: list[str] = []
    holdout = None
    if test_start is not None:
        holdout = temporal_holdout(history, test_start, end, settings, log)
        notes += holdout.notes
    l2 = holdout.l2 if holdout else sorted(settings.l2_grid)[len(settings.l2_grid) // 2]
    ranker = holdout.ranker if holdout else None
    exclude = _exclude_purchased(settings, holdout, notes)

    fitted = fit_recommenders(history, end, settings, l2, groups=groups, log=log)
    cold = None
    if groups is not None:
        cold = np.where(fitted.interactions.purchase_days <= 1, np.asarray(groups, dtype=np.int64), -1)
    customer_ids = pa.array(history.customers.astype(str))
    product_ids = pa.array(history.products.astype(str))
    names = pa.array(np.asarray(group_names, dtype=object).astype(str)) if group_names is not None else None
    tables = []
    rows_all = np.arange(history.shape[0])
    size = settings.batch_size(history.shape[1])
    for number, start in enumerate(range(0, len(rows_all), size)):
        rows = rows_all[start:start + size]
        tables.append(_lists(fitted, rows, settings, ranker, exclude, cold, customer_ids, product_ids, names))
        if (number + 1) % 50 == 0:
            log(f"scored {start + len(rows):,} of {len(rows_all):,} customers")
    table = pa.concat_tables(tables) if tables else RECOMMENDATION_SCHEMA.empty_table()
    return RecommendationRun(table, holdout, l2, exclude, "ranker" if ranker else "rank fusion", notes)


def _exclude_purchased(settings: RecommendSettings, holdout: HoldoutResult | None, notes: list[str]) -> bool:
    if settings.exclude_purchased != "auto":
        return settings.exclude_purchased == "always"
    share = holdout.repeat_share if holdout else float("nan")
    if not np.isfinite(share):
        notes.append("exclude_purchased=auto: no holdout purchases to measure the repeat rate, products already "
                     "bought stay in the lists")
        return False
    exclude = share < settings.repeat_share_threshold
    notes.append(f"exclude_purchased=auto: {share:.0%} of the holdout's purchases were repurchases, so products "
                 f"already bought are {'left out' if exclude else 'kept'} (threshold "
                 f"{settings.repeat_share_threshold:.0%})")
    return exclude


def _lists(fitted: Recommenders, rows: np.ndarray, settings: RecommendSettings, ranker: BlendRanker | None,
           exclude: bool, cold: np.ndarray | None, customer_ids: pa.Array, product_ids: pa.Array,
           names: pa.Array | None) -> pa.Table:
    batch = CandidateBatch.build(fitted, rows, settings, groups=cold)
    keep = ~batch.is_repeat if exclude else np.ones(len(batch.row), dtype=bool)
    score = ranker.predict_score(batch.features[keep]) if ranker else rank_fusion(batch.ranks[keep])
    row, item, features, ranks = batch.row[keep], batch.item[keep], batch.features[keep], batch.ranks[keep]
    chosen = top_per_row(row, item, score, settings.k)
    order = np.flatnonzero(chosen)[np.lexsort((item[chosen], -score[chosen], row[chosen]))]
    row, item, score, features, ranks = row[order], item[order], score[order], features[order], ranks[order]
    rank = np.arange(len(row)) - np.searchsorted(row, row)  # 0-based position within the customer's list

    is_repeat = features[:, FEATURES.index("is_repeat")] > 0
    source = best_source(ranks, is_repeat)
    anchor = np.full(len(row), -1, dtype=np.int64)
    bought = fitted.interactions.bought[rows]
    for name, weight in (("item_knn", _knn_weight(fitted)), ("ease", _ease_weight(fitted))):
        mine = source == SOURCES.index(name)
        anchor[mine] = strongest_anchor(bought, row[mine], item[mine], weight)
    segment = pa.nulls(len(row), pa.string())
    if cold is not None and names is not None:
        group = cold[rows][row]
        named = names.take(pa.array(np.where(group >= 0, group, 0))).cast(pa.string())
        segment = pc.if_else(pa.array(group >= 0), named, pa.scalar(None, pa.string()))
    reasons = reason_text(source, features, anchor, product_ids, fitted.end, segment)
    return pa.table({
        "customer_id": customer_ids.take(pa.array(rows[row])),
        "rank": pa.array(rank + 1, type=pa.int32()),
        "product_id": product_ids.take(pa.array(item)),
        "score": pa.array(score, type=pa.float64()),
        "source": pa.array(np.array(SOURCES)[source]),
        "reason": reasons,
        "is_repeat": pa.array(is_repeat),
    }, schema=RECOMMENDATION_SCHEMA)


def _knn_weight(fitted: Recommenders):
    similarity = fitted.item_knn.similarity_
    return lambda own, item: similarity[own, item]


def _ease_weight(fitted: Recommenders):
    position = np.full(fitted.interactions.shape[1], -1, dtype=np.int64)
    position[fitted.ease.products_] = np.arange(len(fitted.ease.products_))
    weights = fitted.ease.weights_

    def weight(own, item):
        a, b = position[own], position[item]
        inside = (a >= 0) & (b >= 0)
        return np.where(inside, weights[np.maximum(a, 0), np.maximum(b, 0)], 0.0)

    return weight

