"""The temporal holdout: every recommender and the blend trained before a test window and measured on it.

Windows, for a test window ``[test_start, end)`` of N days::

    ... validation history ... | validation window (N days) | test window (N days)
                          val_start                     test_start                end

* On the validation split (history before ``val_start``, labels in the validation window) EASE^R's ``l2`` is
  chosen from the grid by NDCG@10, and the blend's ranker learns which candidates get bought.
* Every recommender is refitted on all history before ``test_start`` and measured on the test window.
* The ranker that scores today's customers learns from the test window (the latest labelled one), the way it
  was measured to work one window earlier.

Protocol (the README's, so figures compare with published ones): customers who buy in both the history and the
test window, products seen in the history, binary relevance, NDCG normalised by ``min(relevant, k)``. Item
scopes: ``all``; ``repeat``, lists and relevance limited to products the customer bought before; ``new``, both
limited to products they did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .blend import BlendRanker, rank_fusion
from .candidates import CandidateBatch, Recommenders, fit_recommenders
from .ease import EASE, gram_matrix, most_bought
from .history import PurchaseHistory
from .metrics import METRICS, SCOPES, ScopedMetrics, hits_at, ranking_metrics, top_k
from .settings import RecommendSettings

__all__ = ["HoldoutResult", "KS", "RECOMMENDERS", "temporal_holdout", "with_targets"]

RECOMMENDERS = ("popularity", "repeat", "item_knn", "ease", "als", "blend")
KS = (10, 20)


@dataclass
class HoldoutResult:
    """What the holdout measured and what today's run takes from it."""

    metrics: pd.DataFrame  # recommender, metric, k, item_scope, value, customers
    l2: float
    ranker: BlendRanker | None  # learned on the test window, for today's customers
    repeat_share: float  # of the test window's purchases (customer x product), the repurchases
    notes: list[str] = field(default_factory=list)


def temporal_holdout(history: PurchaseHistory, test_start: int, end: int, settings: RecommendSettings,
                     log=None) -> HoldoutResult:
    """Measure every recommender and the blend on ``[test_start, end)`` (day numbers), trained before it."""
    log = log or (lambda message: None)
    rng = np.random.default_rng(settings.random_state)
    notes: list[str] = []
    val_start = test_start - (end - test_start)
    l2, val_ranker = _validate(history, val_start, test_start, settings, rng, notes, log)

    fitted = fit_recommenders(history, test_start, settings, l2, log=log)
    seen = fitted.interactions.buyers() > 0
    relevant = _only(history.bought_between(test_start, end), seen)
    customers = _customers_with_labels(fitted, relevant)
    if len(customers) == 0:
        notes.append("no customer bought in both the history and the test window: no metrics")
        return HoldoutResult(_metric_frame([]), l2, val_ranker, float("nan"), notes)
    evaluated = _sample(customers, settings.max_eval_customers, rng)
    log(f"holdout: measuring {len(evaluated):,} customers on {int(seen.sum()):,} products")
    accumulator = ScopedMetrics(relevant.shape[1], int(seen.sum()), RECOMMENDERS, KS)
    training = _TrainingRows()
    trains_on = _sample(evaluated, settings.max_train_customers, rng)
    repeat_pairs = total_pairs = 0
    for rows in _batches(evaluated, settings.batch_size(relevant.shape[1])):
        truth = relevant[rows].toarray() > 0
        bought = fitted.interactions.days[rows].toarray() > 0
        repeat_pairs += int((truth & bought).sum())
        total_pairs += int(truth.sum())
        scores = {name: np.where(seen, score, -np.inf) for name, score in fitted.scores(rows).items()}
        batch = CandidateBatch.build(fitted, rows, settings, allowed=seen, dense=scores)
        blend = val_ranker.predict_score(batch.features) if val_ranker else rank_fusion(batch.ranks)
        scores["blend"] = np.full(truth.shape, -np.inf, dtype=np.float32)
        scores["blend"][batch.row, batch.item] = blend
        for name in RECOMMENDERS:
            accumulator.add(name, scores[name], truth, bought)
        chosen = np.isin(rows, trains_on)
        training.add(batch, truth, chosen)
    metrics = _metric_frame(accumulator.rows())
    _log_summary(metrics, log)

    # today's blend is the one measured here: a ranker (relearned on the test window) only where one was measured
    ranker = (training.fit(settings) or val_ranker) if val_ranker is not None else None
    return HoldoutResult(metrics, l2, ranker, repeat_pairs / max(total_pairs, 1), notes)


def _validate(history, val_start, test_start, settings, rng, notes, log):
    """Choose l2 and learn the ranker on the validation split; (middle of the grid, None) without one."""
    default = sorted(settings.l2_grid)[len(settings.l2_grid) // 2]
    interactions = history.window(val_start)
    seen = interactions.buyers() > 0
    labels = _only(history.bought_between(val_start, test_start), seen)
    active = np.diff(interactions.days.indptr) > 0
    customers = np.flatnonzero(active & (np.diff(labels.indptr) > 0))
    if len(customers) < 2 or seen.sum() < 2:
        notes.append(f"too little history before the validation window ({len(customers)} customers buy in both): "
                     f"l2 = {default:g} without validation, the blend is rank fusion")
        return default, None
    sample = _sample(customers, settings.max_eval_customers, rng)
    products = most_bought(interactions, settings.ease_max_products)
    gram = gram_matrix(interactions, products)
    chosen, best_ndcg, best_model = default, -1.0, None
    for l2 in settings.l2_grid:
        model = EASE(l2=l2, max_products=settings.ease_max_products).fit(interactions, gram=gram)
        ndcg = _mean_ndcg(model, interactions, sample, labels, seen, settings)
        log(f"validation: EASE^R l2 = {l2:g}, NDCG@10 {ndcg:.4f}")
        if ndcg > best_ndcg:
            chosen, best_ndcg, best_model = l2, ndcg, model
    fitted = fit_recommenders(history, val_start, settings, chosen, ease=best_model, gram=gram, log=log)
    training = _TrainingRows()
    for rows in _batches(_sample(customers, settings.max_train_customers, rng), settings.batch_size(len(seen))):
        dense = {name: np.where(seen, score, -np.inf) for name, score in fitted.dense_scores(rows).items()}
        batch = CandidateBatch.build(fitted, rows, settings, allowed=seen, dense=dense)
        training.add(batch, labels[rows].toarray() > 0, np.ones(len(rows), dtype=bool))
    ranker = training.fit(settings)
    if ranker is None:
        notes.append("the validation window's candidates hold only one class: the blend is rank fusion")
    return chosen, ranker


def _mean_ndcg(model, interactions, customers, labels, seen, settings) -> float:
    total = 0.0
    for rows in _batches(customers, settings.batch_size(len(seen))):
        truth = labels[rows].toarray() > 0
        top = top_k(np.where(seen, model.score(interactions, rows), -np.inf), 10)
        total += ranking_metrics(hits_at(top, truth), truth.sum(axis=1))["ndcg"].sum()
    return total / len(customers)


def _only(labels, products: np.ndarray):
    """The labels on ``products`` (bool per product) only, without stored zeros (rows count their labels)."""
    kept = labels.multiply(products[None, :]).tocsr()
    kept.eliminate_zeros()
    return kept


def _customers_with_labels(fitted: Recommenders, relevant) -> np.ndarray:
    active = np.diff(fitted.interactions.days.indptr) > 0
    return np.flatnonzero(active & (np.diff(relevant.indptr) > 0))


def _sample(customers: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(customers) <= limit:
        return customers
    return np.sort(rng.choice(customers, size=limit, replace=False))


def _batches(rows: np.ndarray, size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


class _TrainingRows:
    """Candidate features and labels gathered over batches, for the ranker."""

    def __init__(self):
        self.features, self.labels = [], []

    def add(self, batch: CandidateBatch, truth: np.ndarray, chosen: np.ndarray) -> None:
        keep = chosen[batch.row]
        self.features.append(batch.features[keep])
        self.labels.append(truth[batch.row[keep], batch.item[keep]])

    def fit(self, settings: RecommendSettings) -> BlendRanker | None:
        if not self.labels:
            return None
        labels = np.concatenate(self.labels)
        if labels.all() or not labels.any():
            return None
        return BlendRanker(random_state=settings.random_state).fit(np.vstack(self.features), labels)


def _metric_frame(rows) -> pd.DataFrame:
    """The metric rows in a fixed order: recommender, scope, k, metric."""
    frame = pd.DataFrame(rows, columns=["recommender", "metric", "k", "item_scope", "value", "customers"])
    for column, order in (("recommender", RECOMMENDERS), ("item_scope", SCOPES), ("metric", METRICS + ("coverage",))):
        frame[column] = pd.Categorical(frame[column], categories=order, ordered=True)
    frame = frame.sort_values(["recommender", "item_scope", "k", "metric"]).reset_index(drop=True)
    return frame.astype({"recommender": str, "item_scope": str, "metric": str, "k": "int64", "value": "float64",
                         "customers": "int64"})


def _log_summary(metrics: pd.DataFrame, log) -> None:
    ndcg = metrics[(metrics["metric"] == "ndcg") & (metrics["k"] == 10)]
    for scope, group in ndcg.groupby("item_scope", sort=False):
        log(f"holdout NDCG@10 ({scope} items): " + ", ".join(f"{r.recommender} {r.value:.3f}"
                                                               for r in group.itertuples()))


def with_targets(metrics: pd.DataFrame) -> pd.DataFrame:
    """The metrics with the blend's targets on its NDCG@10 rows (``target``, ``target_value``, ``target_met``).

    All items: at least 1.05 x the better of popularity and repeat. New items: at least 1.25 x item k-NN's and
    2 x popularity's. Null elsewhere, and where a baseline was not measured.

    Examples
    --------
    >>> m = pd.DataFrame({"recommender": ["popularity", "repeat", "blend"], "metric": "ndcg", "k": 10,
    ...                   "item_scope": "all", "value": [0.1, 0.38, 0.40], "customers": 5})
    >>> row = with_targets(m).loc[2]
    >>> float(row["target_value"]), row["target_met"]
    (0.399, True)
    """
    out = metrics.assign(target=None, target_value=np.nan, target_met=None)
    ndcg = metrics[(metrics["metric"] == "ndcg") & (metrics["k"] == 10)]
    value = ndcg.set_index(["recommender", "item_scope"])["value"]
    rules = {
        "all": ("blend >= 1.05 x max(popularity, repeat)", lambda s: 1.05 * max(value[("popularity", s)],
                                                                                  value[("repeat", s)])),
        "new": ("blend >= 1.25 x item_knn and >= 2 x popularity", lambda s: max(1.25 * value[("item_knn", s)],
                                                                              2 * value[("popularity", s)])),
    }
    for scope, (text, threshold) in rules.items():
        row = ndcg.index[(ndcg["recommender"] == "blend") & (ndcg["item_scope"] == scope)]
        try:
            bar = round(float(threshold(scope)), 6)
        except KeyError:
            continue
        for i in row:
            out.loc[i, ["target", "target_value", "target_met"]] = [text, bar, bool(metrics.loc[i, "value"] >= bar)]
    return out.astype({"target_value": "float64"})
