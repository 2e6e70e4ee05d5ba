"""First-order MAML and Reptile for behaviour per task: buying in the next horizon, and next-horizon spend.

One small two-headed MLP (:class:`~.networks.BehaviourNet`) predicts the logit of buying and ``log1p`` of the
spend. Meta-training (``fit(tasks)``) looks for initial weights from which a few plain gradient steps on a task's
support set fit that task: first-order MAML (Finn et al., 2017) steps the initial weights along the query loss's
gradient at the adapted weights; Reptile (Nichol et al., 2018) moves them towards the adapted weights. The inner
loop is ``torch.func.functional_call`` on a dict of weights, vectorised with ``torch.func.vmap`` over the tasks
of a meta-batch (and over episodes when evaluating), so adapting a hundred episodes is one batched computation.
``adapt(support)`` returns a :class:`BehaviourPredictor`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch.func import functional_call, grad, vmap

from ..deep.runtime import seeded
from .networks import BehaviourNet

__all__ = ["ALGORITHMS", "BehaviourMetaLearner", "BehaviourPredictor", "BehaviourTask", "adapt_many",
           "predict_many"]

ALGORITHMS = ("fomaml", "reptile")
#: The spend head's loss weight (log1p spend is on a larger scale than the buy logit's loss).
SPEND_WEIGHT = 0.25


class BehaviourTask:
    """One slice of customers with what each did next: bought (0/1) and spend (in the shop's currency)."""

    def __init__(self, name: str, X: np.ndarray, bought: np.ndarray, spend: np.ndarray):
        self.name = name
        self.X = np.asarray(X, dtype=np.float32)
        self.bought = np.asarray(bought, dtype=np.float32)
        self.spend = np.asarray(spend, dtype=np.float64)
        self.log_spend = np.log1p(np.maximum(self.spend, 0)).astype(np.float32)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.bought.astype(np.int64), minlength=2)


def _loss(params, net, X, bought, log_spend):
    out = functional_call(net, params, (X,))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out[..., 0], bought)
    return bce + SPEND_WEIGHT * torch.mean((out[..., 1] - log_spend) ** 2)


def adapt_many(net: torch.nn.Module, params: dict, X, bought, log_spend, steps: int, lr: float,
               per_task: bool = False) -> dict:
    """Plain gradient steps from ``params`` on each of a batch of support sets ``X [tasks, rows, features]``;
    returns the adapted weights, one set per task. ``params`` is one set of weights for every task, or with
    ``per_task`` one set per task (a leading dimension)."""
    n = X.shape[0]
    batched = params if per_task else {k: v.expand(n, *v.shape) for k, v in params.items()}
    step = vmap(grad(_loss), in_dims=(0, None, 0, 0, 0))
    for _ in range(steps):
        g = step(batched, net, X, bought, log_spend)
        batched = {k: v - lr * g[k] for k, v in batched.items()}
    return batched


def predict_many(net: torch.nn.Module, params: dict, X: torch.Tensor) -> torch.Tensor:
    """Outputs ``[tasks, rows, 2]`` of each task's weights on the same rows ``X``."""
    return vmap(lambda p: functional_call(net, p, (X,)))(params)


class BehaviourPredictor:
    """A task's adapted network: probability of buying, and expected spend, in the next horizon."""

    def __init__(self, net: BehaviourNet, params: dict):
        self.net, self.params = net, params

    def _out(self, X) -> np.ndarray:
        with torch.no_grad():
            return functional_call(self.net, self.params, (torch.as_tensor(np.asarray(X, np.float32)),)).numpy()

    def predict_proba(self, X) -> np.ndarray:
        return 1 / (1 + np.exp(-self._out(X)[:, 0].astype(np.float64)))

    def predict_spend(self, X) -> np.ndarray:
        return np.expm1(np.maximum(self._out(X)[:, 1].astype(np.float64), 0))


class BehaviourMetaLearner(BaseEstimator):
    """Meta-learned initial weights of the behaviour MLP; ``adapt`` fits a new task in ``inner_steps`` steps.

    Parameters
    ----------
    algorithm : {"fomaml", "reptile"}
    hidden_dim : int
    k_shot, n_query : int
        Training episodes: ``k_shot`` support and ``n_query`` query customers of each outcome (bought or not).
    meta_batch, meta_steps : int
        Tasks per meta-step, and meta-steps.
    inner_steps, inner_lr : int, float
        The adaptation: plain gradient steps on the support set.
    meta_lr : float
        Adam's learning rate on the initial weights (FOMAML), or Reptile's step towards the adapted weights.
    random_state : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> def task(sign):
    ...     X = rng.normal(size=(300, 3)).astype(np.float32)
    ...     bought = (sign * X[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(float)
    ...     return BehaviourTask("t", X, bought, bought * 10)
    >>> learner = BehaviourMetaLearner(meta_steps=60).fit([task(1), task(-1)])
    >>> new = task(-1)
    >>> predictor = learner.adapt(new.X[:20], new.bought[:20], new.spend[:20])
    >>> p = predictor.predict_proba(new.X[20:])
    >>> float(((p > 0.5) == new.bought[20:]).mean()) > 0.7
    True
    """

    def __init__(self, algorithm: str = "fomaml", hidden_dim: int = 64, k_shot: int = 5, n_query: int = 32,
                 meta_batch: int = 8, meta_steps: int = 200, inner_steps: int = 5, inner_lr: float = 0.03,
                 meta_lr: float = 3e-3, random_state: int = 0):
        self.algorithm = algorithm
        self.hidden_dim = hidden_dim
        self.k_shot = k_shot
        self.n_query = n_query
        self.meta_batch = meta_batch
        self.meta_steps = meta_steps
        self.inner_steps = inner_steps
        self.inner_lr = inner_lr
        self.meta_lr = meta_lr
        self.random_state = random_state

    def new_network(self, n_features: int) -> BehaviourNet:
        return BehaviourNet(n_features, self.hidden_dim)

    def _episode_batch(self, tasks, tensors, rng, k: int, q: int):
        """Support and query tensors of ``meta_batch`` tasks: ``k`` and ``q`` customers of each outcome."""
        parts = {"Xs": [], "bs": [], "ss": [], "Xq": [], "bq": [], "sq": []}
        for i in rng.integers(len(tasks), size=self.meta_batch):
            task, (X, b, s) = tasks[i], tensors[i]
            rows = [rng.permutation(np.flatnonzero(task.bought == c)) for c in (0, 1)]
            sup = np.concatenate([r[:k] for r in rows])
            qry = np.concatenate([r[k:][rng.integers(len(r) - k, size=q)] for r in rows])
            for key, src, idx in (("Xs", X, sup), ("bs", b, sup), ("ss", s, sup), ("Xq", X, qry), ("bq", b, qry),
                                  ("sq", s, qry)):
                parts[key].append(src[idx])
        return {k_: torch.stack(v) for k_, v in parts.items()}

    def fit(self, tasks: list[BehaviourTask], log=None, init: dict | None = None) -> BehaviourMetaLearner:
        """Meta-train on ``tasks`` (each needs more than ``k_shot`` customers who bought and who did not).

        ``init``: weights to start from (e.g. the pooled model's, so meta-training refines a pretrained network,
        as is usual for MAML on small data); default: fresh seeded weights."""
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        usable = [t for t in tasks if t.class_counts().min() > self.k_shot]
        if not usable:
            raise ValueError(f"no task has more than {self.k_shot} customers who bought and who did not")
        started = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        with seeded(self.random_state):
            self.n_features_in_ = usable[0].X.shape[1]
            self.network_ = self.new_network(self.n_features_in_)
            if init is not None:
                self.network_.load_state_dict(init)
            params = {k: v.detach().clone().requires_grad_(True) for k, v in self.network_.named_parameters()}
            optimizer = torch.optim.Adam(params.values(), lr=self.meta_lr)
            tensors = [(torch.as_tensor(t.X), torch.as_tensor(t.bought), torch.as_tensor(t.log_spend))
                       for t in usable]
            query_grad = vmap(grad(_loss), in_dims=(0, None, 0, 0, 0))
            query_loss = vmap(_loss, in_dims=(0, None, 0, 0, 0))
            losses = []
            for step in range(self.meta_steps):
                k = int(rng.integers(1, self.k_shot + 1))  # varied shots, so adaptation works for any of them
                e = self._episode_batch(usable, tensors, rng, k, self.n_query)
                start = {name: v.detach() for name, v in params.items()}
                if self.algorithm == "fomaml":
                    adapted = adapt_many(self.network_, start, e["Xs"], e["bs"], e["ss"], self.inner_steps,
                                         self.inner_lr)
                    g = query_grad(adapted, self.network_, e["Xq"], e["bq"], e["sq"])
                    optimizer.zero_grad(set_to_none=True)
                    for name, p in params.items():
                        p.grad = g[name].mean(0)
                    optimizer.step()
                    loss = query_loss(adapted, self.network_, e["Xq"], e["bq"], e["sq"]).mean()
                else:  # Reptile: adapt on support and query together, then move towards the adapted weights
                    X = torch.cat([e["Xs"], e["Xq"]], 1)
                    b, s = torch.cat([e["bs"], e["bq"]], 1), torch.cat([e["ss"], e["sq"]], 1)
                    adapted = adapt_many(self.network_, start, X, b, s, self.inner_steps, self.inner_lr)
                    with torch.no_grad():
                        for name, p in params.items():
                            p += self.meta_lr * 10 * (adapted[name].mean(0) - p)
                    loss = query_loss(adapted, self.network_, X, b, s).mean()
                losses.append(float(loss.detach()))
                if log is not None and (step + 1) % 100 == 0:
                    log(f"{self.algorithm}: meta-step {step + 1}/{self.meta_steps}, adapted query loss "
                        f"{np.mean(losses[-100:]):.4f}")
            self.params_ = {k: v.detach().clone() for k, v in params.items()}
            self.network_.load_state_dict(self.params_)
            self.network_.eval()
        self.training_ = {"meta_steps": self.meta_steps, "tasks": len(usable),
                          "final_loss": float(np.mean(losses[-50:])),
                          "seconds": round(time.perf_counter() - started, 3)}
        return self

    def adapt(self, X_support, bought, spend, steps: int | None = None) -> BehaviourPredictor:
        """The predictor of a new task from its support customers (features, bought 0/1, spend)."""
        task = BehaviourTask("support", X_support, bought, spend)
        with torch.enable_grad():
            adapted = adapt_many(self.network_, self.params_, torch.as_tensor(task.X)[None],
                                 torch.as_tensor(task.bought)[None], torch.as_tensor(task.log_spend)[None],
                                 self.inner_steps if steps is None else steps, self.inner_lr)
        return BehaviourPredictor(self.network_, {k: v[0].detach() for k, v in adapted.items()})
