"""Episodic evaluation on held-out tasks: every method on the same support and query splits, with 95% intervals.

An episode draws ``k_shot`` support customers of each class of a held-out task (for behaviour: of those who
bought and those who did not); the task's other customers are the query. Every method sees the same episodes.
Each metric's value is its mean over the episodes, with a normal 95% interval of that mean
(``mean ± 1.96 · sd / sqrt(episodes)``). The query is at most ``MAX_QUERY`` customers of the task, the same
seeded sample for every episode and method (less the episode's support). A shot count that leaves some class
without a query customer is not evaluated; the reason is returned beside the rows.

Assignment methods: ``protonet`` is the prototypical network as ``adapted_segments`` uses it, **transductive**:
its prototypes are refined by soft k-means over the episode's unlabelled customers, which are its query customers
(the scored sample less the support) plus, where given, the task's customers who are not in the task
(``X_unlabelled``: a held-out region's unlabelled customers when the task is its few labelled ones). It reads the
query's features, never its labels; the baselines read neither. ``protonet_inductive`` is the same network with the
support's means as prototypes (STUNT's setting, comparable to the baselines, which see the support alone).
Besides ``accuracy`` and ``macro_f1``, ``protonet`` has ``refined_share``: the share of episodes whose refined
prototypes passed the guard of :func:`~.protonet.refine_prototypes` (the others used the support's means).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from ..deep.runtime import seeded
from .baselines import GlobalClassifier
from .linear import batched_knn, batched_logistic, batched_ridge
from .maml import BehaviourMetaLearner, BehaviourTask, adapt_many, predict_many
from .networks import BehaviourNet
from .protonet import PrototypicalNetwork, refine_prototypes, sq_distances
from .tasks import Task, sample_episode

__all__ = ["ASSIGNMENT_METHODS", "K_SHOTS", "METRIC_COLUMNS", "auc", "behaviour_episode_scores",
           "evaluate_assignment", "evaluate_behaviour", "interval", "macro_f1"]

K_SHOTS = (1, 5, 10, 50)
ASSIGNMENT_METHODS = ("protonet", "protonet_inductive", "knn_support", "logreg_support", "global", "finetune")
METRIC_COLUMNS = ("method", "task", "k_shot", "metric", "value", "ci_low", "ci_high", "episodes")
#: Query customers scored per task: a fixed seeded sample of its customers (less each episode's support), so an
#: episode costs the same in a region of 3,000 customers as in one of 300,000.
MAX_QUERY = 1000
#: Gradient steps of the network trained from scratch on the support set (the meta-learners take a handful).
SCRATCH_STEPS = 30


def interval(values) -> tuple[float, float, float]:
    """Mean and its normal 95% interval.

    Examples
    --------
    >>> interval([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0)
    >>> m, lo, hi = interval([0.0, 1.0] * 50)
    >>> round(m, 2), round(hi - lo, 3)
    (0.5, 0.197)
    """
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    half = 1.96 * float(v.std(ddof=1)) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return m, m - half, m + half


def _rows(scores: dict, task: str, k: int) -> list[dict]:
    out = []
    for (method, metric), values in scores.items():
        m, lo, hi = interval(values)
        out.append(dict(method=method, task=task, k_shot=k, metric=metric, value=m, ci_low=lo, ci_high=hi,
                        episodes=len(values)))
    return out


def macro_f1(y: np.ndarray, p: np.ndarray, n_classes: int) -> float:
    """Macro-averaged F1 over ``n_classes`` codes (a class never predicted nor present scores 0, as sklearn's
    ``zero_division=0``).

    Examples
    --------
    >>> macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
    0.7333333333333334
    """
    tp = np.bincount(y[p == y], minlength=n_classes)
    denominator = np.bincount(y, minlength=n_classes) + np.bincount(p, minlength=n_classes)
    return float(np.mean(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)))


def _pool(n: int, rng) -> np.ndarray:
    """The rows scored: all of them, or a seeded sample of ``MAX_QUERY``."""
    return np.arange(n) if n <= MAX_QUERY else np.sort(rng.choice(n, MAX_QUERY, replace=False))


def _episodes(codes: np.ndarray, k: int, n: int, rng) -> np.ndarray:
    """``n`` support sets of ``k`` rows per class, class by class: ``[n, classes * k]`` row indices."""
    return np.stack([sample_episode(codes, k, rng, n_query=0)[0] for _ in range(n)])


def evaluate_assignment(task: Task, protonet: PrototypicalNetwork, global_model: GlobalClassifier | None,
                        k_shots=K_SHOTS, episodes: int = 100, random_state: int = 0, X_unlabelled=None):
    """Accuracy and macro F1 of segment assignment on ``task``'s query customers.

    Parameters
    ----------
    task : Task
        The held-out task: its customers and their labels.
    protonet : PrototypicalNetwork
    global_model : GlobalClassifier, optional
        Without it the ``global`` and ``finetune`` rows are left out.
    k_shots : sequence of int
    episodes : int
        Sampled episodes per shot count, the same for every method.
    random_state : int
    X_unlabelled : array-like, optional
        More unlabelled customers of the task, beside its own (a seeded sample of at most ``MAX_QUERY`` is
        used): only the transductive ``protonet`` reads them.

    Returns
    -------
    rows : DataFrame
        ``METRIC_COLUMNS``, one row per (method, k_shot, metric).
    skipped : list of (int, str)
        The shot counts not evaluated, and why.
    """
    rng = np.random.default_rng(random_state)
    n_classes = task.n_classes
    pool = _pool(len(task.X), rng)
    X = torch.as_tensor(task.X)
    embedded = torch.as_tensor(protonet.embed(task.X), dtype=torch.float32)
    spaces = {"protonet": embedded, "protonet_inductive": embedded, "logreg_support": X, "knn_support": X}
    extra = (torch.zeros(0, embedded.shape[1]) if X_unlabelled is None or len(X_unlabelled) == 0 else
             torch.as_tensor(protonet.embed(np.asarray(X_unlabelled)[_pool(len(X_unlabelled), rng)]),
                             dtype=torch.float32))
    if global_model is not None:
        past = global_model.past_codes(task.X)
        spaces["finetune"] = torch.as_tensor(global_model.embed(task.X), dtype=torch.float32)
    rows, skipped = [], []
    for k in k_shots:
        smallest = int(task.class_counts().min())
        if smallest <= k:
            skipped.append((k, f"{task.name}: its smallest class has {smallest} labelled customers, {k}-shot "
                               f"leaves none to test on"))
            continue
        support = _episodes(task.codes, k, episodes, rng)
        ys = torch.as_tensor(task.codes[support])
        scores = {}
        for method, Z in spaces.items():
            Zs, Zq = Z[torch.as_tensor(support)], Z[torch.as_tensor(pool)]
            if method == "protonet":  # each episode's unlabelled set: its query, and the task's other customers
                mask = torch.cat([torch.as_tensor(~(pool[None, :, None] == support[:, None, :]).any(2)),
                                  torch.ones(episodes, len(extra), dtype=torch.bool)], 1).to(Z.dtype)
                prototypes, refined = refine_prototypes(Zs, ys, n_classes, torch.cat([Zq, extra]),
                                                        protonet.refine_steps, mask)
                kept = refined.double().tolist()
                scores[method] = -sq_distances(Zq, prototypes)
            elif method == "protonet_inductive":
                scores[method] = -sq_distances(Zq, Zs.reshape(episodes, n_classes, k, -1).mean(2))
            elif method == "knn_support":
                onehot = torch.nn.functional.one_hot(ys, n_classes).to(Z.dtype)
                scores[method] = batched_knn(Zs, onehot, Zq, min(5, k))
            else:  # logreg_support on the features, finetune on the pooled classifier's embedding
                W, b = batched_logistic(Zs, ys, n_classes)
                scores[method] = torch.einsum("nd,edc->enc", Zq, W) + b[:, None]
        predicted = {m: v.argmax(-1).numpy() for m, v in scores.items()}
        if global_model is not None:
            predicted["global"] = np.stack([GlobalClassifier.translate(past[s], task.codes[s], past[pool])
                                            for s in support])
        results: dict = {}
        for e, s in enumerate(support):
            query = ~np.isin(pool, s)
            yq = task.codes[pool][query]
            for method in ASSIGNMENT_METHODS:
                if method in predicted:
                    p = predicted[method][e][query]
                    results.setdefault((method, "accuracy"), []).append(float((p == yq).mean()))
                    results.setdefault((method, "macro_f1"), []).append(macro_f1(yq, p, n_classes))
        results[("protonet", "refined_share")] = kept  # how often the transductive prototypes passed the guard
        rows += _rows(results, task.name, k)
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS)), skipped


def _episode_tensors(task: BehaviourTask, k: int, n: int, rng) -> tuple[np.ndarray, dict]:
    """``n`` support sets of ``k`` buyers and ``k`` non-buyers: row indices ``[n, 2k]`` and their tensors."""
    rows = np.stack([sample_episode(task.bought.astype(np.int64), k, rng, n_query=0)[0] for _ in range(n)])
    return rows, {"X": torch.as_tensor(task.X[rows]), "b": torch.as_tensor(task.bought[rows]),
                  "s": torch.as_tensor(task.log_spend[rows])}


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve from average ranks (Mann-Whitney), as sklearn's roc_auc_score but without its
    input checks, which cost more than the AUC itself over thousands of episodes.

    Examples
    --------
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    ranks = rankdata(score)
    positive = y > 0.5
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _score(scores: dict, method: str, task: BehaviourTask, pool: np.ndarray, support: np.ndarray,
           proba: np.ndarray, spend: np.ndarray, capped: bool = True) -> None:
    """One episode's AUC and MAE on its query rows (``proba`` and ``spend`` are of the ``pool`` rows). A model
    fitted to the support set has its spend capped at ``e`` times (in log1p) the support's largest, so one
    extrapolation of a linear model cannot make the mean."""
    query = ~np.isin(pool, support)
    if capped:
        spend = np.minimum(spend, np.expm1(task.log_spend[support].max() + 1.0))
    rows = pool[query]
    scores.setdefault((method, "auc"), []).append(auc(task.bought[rows], proba[query]))
    scores.setdefault((method, "mae"), []).append(float(np.abs(spend[query] - task.spend[rows]).mean()))


#: Largest log1p spend a prediction may reach (about 5e8): a network trained on a handful of customers can
#: diverge, and its predictions must still be numbers for the metrics to say how badly it did.
MAX_LOG_SPEND = 20.0


def _from_outputs(out: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    out = np.nan_to_num(out.detach().numpy().astype(np.float64), nan=0.0, posinf=1e6, neginf=-1e6)
    return out[..., 0], np.expm1(np.clip(out[..., 1], 0, MAX_LOG_SPEND))  # logits rank like probabilities


def _support_baselines(task: BehaviourTask, pool: np.ndarray, support: np.ndarray, k: int) -> dict:
    """``knn_support`` and ``logreg_support`` (logistic and ridge regression) fitted to every episode's support
    set: ``{method: (buying score [E, n], log1p spend [E, n])}`` on the ``pool`` rows."""
    Xs = torch.as_tensor(task.X[support], dtype=torch.float64)
    X = torch.as_tensor(task.X[pool], dtype=torch.float64)
    bought = torch.as_tensor(task.bought[support]).long()
    log_spend = torch.as_tensor(task.log_spend[support], dtype=torch.float64)
    W, b = batched_logistic(Xs, bought, 2)
    logit = torch.einsum("nd,edc->enc", X, W) + b[:, None]
    w, c = batched_ridge(Xs, log_spend)
    neighbours = min(5, 2 * k)
    return {
        "knn_support": (batched_knn(Xs, bought.to(X.dtype), X, neighbours).numpy(),
                        batched_knn(Xs, log_spend, X, neighbours).numpy()),
        "logreg_support": ((logit[..., 1] - logit[..., 0]).numpy(), (torch.einsum("nd,ed->en", X, w) + c[:, None])
                           .numpy()),
    }


def evaluate_behaviour(tasks: list[BehaviourTask], learners: dict[str, BehaviourMetaLearner],
                       global_model: tuple[BehaviourNet, dict], name: str, k_shots=K_SHOTS, episodes: int = 100,
                       random_state: int = 0):
    """AUC of buying in the next horizon and MAE of next-horizon spend, on held-out ``tasks`` pooled as ``name``.

    ``learners`` maps a method name (``maml``, ``reptile``) to a fitted :class:`BehaviourMetaLearner`; the
    ``finetune`` baseline takes the same steps from the global weights, ``scratch`` takes ``SCRATCH_STEPS`` from
    fresh weights. Episodes are spread evenly over the tasks that have more than ``k_shot`` customers of each
    outcome. Returns ``(rows, skipped)`` like :func:`evaluate_assignment`: the means and intervals of
    :func:`behaviour_episode_scores`.
    """
    scores, skipped = behaviour_episode_scores(tasks, learners, global_model, name, k_shots, episodes,
                                               random_state)
    rows = [row for k, per_k in scores.items() for row in _rows(per_k, name, k)]
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS)), skipped


def behaviour_episode_scores(tasks: list[BehaviourTask], learners: dict[str, BehaviourMetaLearner],
                             global_model: tuple[BehaviourNet, dict], name: str, k_shots=K_SHOTS,
                             episodes: int = 100, random_state: int = 0) -> tuple[dict, list]:
    """Every episode's AUC and MAE, per method, as :func:`evaluate_behaviour` aggregates them.

    Methods see the same episodes in the same order, so differences between two methods' lists are paired:
    their mean and interval (``interval(np.subtract(a, b))``) say whether one beats the other beyond the
    episodes' noise, which the methods' separate intervals (wide: the tasks' own AUCs differ) cannot.

    Returns
    -------
    scores : dict
        ``{k_shot: {(method, metric): [value per episode]}}``.
    skipped : list of (int, str)
    """
    rng = np.random.default_rng(random_state)
    net, global_params = global_model
    some = next(iter(learners.values()))
    steps, lr = some.inner_steps, some.inner_lr
    with seeded(random_state):
        scratch = {k: v.detach() for k, v in BehaviourNet(net.body[0].in_features, some.hidden_dim)
                   .named_parameters()}
    by_shot, skipped = {}, []
    for k in k_shots:
        eligible = [t for t in tasks if t.class_counts().min() > k]
        if not eligible:
            skipped.append((k, f"{name}: no task has more than {k} customers who bought and who did not"))
            continue
        per_task = math.ceil(episodes / len(eligible))
        scores: dict = {}
        for task in eligible:
            support, e = _episode_tensors(task, k, per_task, rng)
            pool = _pool(len(task.X), rng)
            X = torch.as_tensor(task.X[pool])
            with torch.no_grad():
                global_logit, global_spend = _from_outputs(net(X))
            starts = {**{m: (learner.network_, learner.params_, steps) for m, learner in learners.items()},
                      "finetune": (net, global_params, steps), "scratch": (net, scratch, SCRATCH_STEPS)}
            outputs = {}
            for method, (network, params, n_steps) in starts.items():
                adapted = adapt_many(network, params, e["X"], e["b"], e["s"], n_steps, lr)
                with torch.no_grad():
                    outputs[method] = _from_outputs(predict_many(network, adapted, X))
            baselines = _support_baselines(task, pool, support, k)
            for i, s in enumerate(support):
                _score(scores, "global", task, pool, s, global_logit, global_spend, capped=False)
                for method, (logit, spend) in outputs.items():
                    _score(scores, method, task, pool, s, logit[i], spend[i])
                for method, (proba, log_spend) in baselines.items():
                    _score(scores, method, task, pool, s, proba[i],
                           np.expm1(np.clip(log_spend[i], 0, MAX_LOG_SPEND)))
        by_shot[k] = scores
    return by_shot, skipped
