"""Episodic evaluation on held-out tasks: every method on the same support and query splits, with 95% intervals.

An episode draws ``k_shot`` support customers of each class of a held-out task (for behaviour: of those who
bought and those who did not); the task's other customers are the query. Every method sees the same episodes.
Each metric's value is its mean over the episodes, with a normal 95% interval of that mean
(``mean ± 1.96 · sd / sqrt(episodes)``). A shot count that leaves some class without a query customer is not
evaluated; the reason is returned beside the rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from scipy.stats import rankdata
from sklearn.metrics import f1_score

from ..deep.runtime import seeded
from .baselines import GlobalClassifier, support_classifier, support_regressor
from .maml import BehaviourMetaLearner, BehaviourTask, adapt_many, predict_many
from .networks import BehaviourNet
from .protonet import PrototypicalNetwork, prototype_scores
from .tasks import Task, sample_episode

__all__ = ["ASSIGNMENT_METHODS", "BEHAVIOUR_METHODS", "K_SHOTS", "METRIC_COLUMNS", "auc", "evaluate_assignment",
           "evaluate_behaviour", "interval"]

K_SHOTS = (1, 5, 10, 50)
ASSIGNMENT_METHODS = ("protonet", "knn_support", "logreg_support", "global", "finetune")
BEHAVIOUR_METHODS = ("maml", "reptile", "global", "finetune", "scratch", "knn_support", "logreg_support")
METRIC_COLUMNS = ("method", "task", "k_shot", "metric", "value", "ci_low", "ci_high", "episodes")
#: Gradient steps of the network trained from scratch on the support set (the meta-learners take a handful).
SCRATCH_STEPS = 50


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


def evaluate_assignment(task: Task, protonet: PrototypicalNetwork, global_model: GlobalClassifier | None,
                        k_shots=K_SHOTS, episodes: int = 100, random_state: int = 0):
    """Accuracy and macro F1 of segment assignment on ``task``'s query customers.

    Returns ``(rows, skipped)``: a frame with ``METRIC_COLUMNS`` and a list of ``(k_shot, reason)``.
    Without ``global_model`` the ``global`` and ``finetune`` rows are left out.
    """
    rng = np.random.default_rng(random_state)
    Z = protonet.embed(task.X)
    past = global_model.past_codes(task.X) if global_model is not None else None
    G = global_model.embed(task.X) if global_model is not None else None
    labels = np.arange(task.n_classes)
    rows, skipped = [], []
    for k in k_shots:
        smallest = int(task.class_counts().min())
        if smallest <= k:
            skipped.append((k, f"{task.name}: its smallest class has {smallest} labelled customers, {k}-shot "
                               f"leaves none to test on"))
            continue
        scores: dict = {}
        for _ in range(episodes):
            s, q = sample_episode(task.codes, k, rng)
            ys, yq = task.codes[s], task.codes[q]
            predicted = {"protonet": prototype_scores(Z[q], np.stack([Z[s][ys == c].mean(0) for c in labels]))
                         .argmax(1)}
            for method in ("knn_support", "logreg_support"):
                predicted[method] = support_classifier(method, k).fit(task.X[s], ys).predict(task.X[q])
            if global_model is not None:
                predicted["global"] = GlobalClassifier.translate(past[s], ys, past[q])
                predicted["finetune"] = LogisticRegression(max_iter=200).fit(G[s], ys).predict(G[q])
            for method, p in predicted.items():
                scores.setdefault((method, "accuracy"), []).append(float((p == yq).mean()))
                scores.setdefault((method, "macro_f1"), []).append(
                    float(f1_score(yq, p, labels=labels, average="macro", zero_division=0)))
        rows += _rows(scores, task.name, k)
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


def _score(scores: dict, method: str, task: BehaviourTask, support: np.ndarray, proba: np.ndarray,
           spend: np.ndarray) -> None:
    query = np.ones(len(task.X), dtype=bool)
    query[support] = False
    scores.setdefault((method, "auc"), []).append(auc(task.bought[query], proba[query]))
    scores.setdefault((method, "mae"), []).append(float(np.abs(spend[query] - task.spend[query]).mean()))


#: Largest log1p spend a prediction may reach (about 5e8): a network trained on a handful of customers can
#: diverge, and its predictions must still be numbers for the metrics to say how badly it did.
MAX_LOG_SPEND = 20.0


def _from_outputs(out: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    out = np.nan_to_num(out.detach().numpy().astype(np.float64), nan=0.0, posinf=1e6, neginf=-1e6)
    return out[..., 0], np.expm1(np.clip(out[..., 1], 0, MAX_LOG_SPEND))  # logits rank like probabilities


def evaluate_behaviour(tasks: list[BehaviourTask], learners: dict[str, BehaviourMetaLearner],
                       global_model: tuple[BehaviourNet, dict], name: str, k_shots=K_SHOTS, episodes: int = 100,
                       random_state: int = 0):
    """AUC of buying in the next horizon and MAE of next-horizon spend, on held-out ``tasks`` pooled as ``name``.

    ``learners`` maps a method name (``maml``, ``reptile``) to a fitted :class:`BehaviourMetaLearner`; the
    ``finetune`` baseline takes the same steps from the global weights, ``scratch`` takes ``SCRATCH_STEPS`` from
    fresh weights. Episodes are spread evenly over the tasks that have more than ``k_shot`` customers of each
    outcome. Returns ``(rows, skipped)`` like :func:`evaluate_assignment`.
    """
    rng = np.random.default_rng(random_state)
    net, global_params = global_model
    some = next(iter(learners.values()))
    steps, lr = some.inner_steps, some.inner_lr
    with seeded(random_state):
        scratch = {k: v.detach() for k, v in BehaviourNet(net.body[0].in_features, some.hidden_dim)
                   .named_parameters()}
    rows, skipped = [], []
    for k in k_shots:
        eligible = [t for t in tasks if t.class_counts().min() > k]
        if not eligible:
            skipped.append((k, f"{name}: no task has more than {k} customers who bought and who did not"))
            continue
        per_task = math.ceil(episodes / len(eligible))
        scores: dict = {}
        for task in eligible:
            support, e = _episode_tensors(task, k, per_task, rng)
            X = torch.as_tensor(task.X)
            with torch.no_grad():
                global_logit, global_spend = _from_outputs(net(X))
            starts = {**{m: (learner.network_, learner.params_, steps) for m, learner in learners.items()},
                      "finetune": (net, global_params, steps), "scratch": (net, scratch, SCRATCH_STEPS)}
            outputs = {}
            for method, (network, params, n_steps) in starts.items():
                adapted = adapt_many(network, params, e["X"], e["b"], e["s"], n_steps, lr)
                with torch.no_grad():
                    outputs[method] = _from_outputs(predict_many(network, adapted, X))
            for i, s in enumerate(support):
                _score(scores, "global", task, s, global_logit, global_spend)
                for method, (logit, spend) in outputs.items():
                    _score(scores, method, task, s, logit[i], spend[i])
                for method in ("knn_support", "logreg_support"):
                    clf = support_classifier(method, 2 * k).fit(task.X[s], task.bought[s])
                    reg = support_regressor(method, 2 * k).fit(task.X[s], task.log_spend[s])
                    _score(scores, method, task, s, clf.predict_proba(task.X)[:, 1],
                           np.expm1(np.clip(reg.predict(task.X), 0, MAX_LOG_SPEND)))
        rows += _rows(scores, name, k)
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS)), skipped
