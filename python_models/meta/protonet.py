"""Prototypical network (Snell et al., 2017) for segment assignment from a few labelled customers.

``fit(tasks)`` trains an encoder episodically: each step draws a task, ``n_way`` of its classes, ``k_shot``
support and ``n_query`` query customers per class; the support's mean embedding per class is the class's
prototype, and the query customers are classified by a softmax over negative squared distances to the prototypes.
``adapt(X_support, y_support)`` returns a :class:`PrototypePredictor` for a new task: its prototypes come from
the support alone (no gradient step), and every customer gets the nearest prototype's label with a confidence.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..deep.runtime import seeded
from .networks import Encoder
from .tasks import Task, sample_episode

__all__ = ["PrototypePredictor", "PrototypicalNetwork", "prototype_scores"]


def prototype_scores(Z: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Class probabilities: softmax over negative squared distances of each row of ``Z`` to each prototype."""
    d = (Z * Z).sum(1)[:, None] - 2 * Z @ prototypes.T + (prototypes * prototypes).sum(1)[None, :]
    logits = -d - (-d).max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


class PrototypePredictor:
    """A new task's classifier: its labels' prototypes in the encoder's space."""

    def __init__(self, network: PrototypicalNetwork, classes: np.ndarray, prototypes: np.ndarray):
        self.network, self.classes_, self.prototypes_ = network, classes, prototypes

    def predict_proba(self, X) -> np.ndarray:
        return prototype_scores(self.network.embed(X), self.prototypes_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class PrototypicalNetwork(BaseEstimator):
    """Episodically trained encoder; a new task is learned from its support set's prototypes.

    Parameters
    ----------
    hidden_dim, embedding_dim : int
        Encoder sizes.
    n_way, k_shot, n_query : int
        Training episodes: at most ``n_way`` classes, ``k_shot`` support and ``n_query`` query customers each.
    steps : int
        Training episodes (one Adam step each).
    learning_rate : float
    random_state : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(scale=3, size=(4, 5))
    >>> y = rng.integers(0, 4, 400)
    >>> X = (centres[y] + rng.normal(size=(400, 5))).astype(np.float32)
    >>> net = PrototypicalNetwork(steps=100).fit([Task("a", X[:300], y[:300])])
    >>> predictor = net.adapt(X[300:320], y[300:320])
    >>> float((predictor.predict(X[320:]) == y[320:]).mean()) > 0.8
    True
    """

    def __init__(self, hidden_dim: int = 64, embedding_dim: int = 32, n_way: int = 5, k_shot: int = 5,
                 n_query: int = 10, steps: int = 500, learning_rate: float = 1e-3, random_state: int = 0):
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.steps = steps
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _network(self, n_features: int) -> Encoder:
        return Encoder(n_features, self.hidden_dim, self.embedding_dim)

    def fit(self, tasks: list[Task], log=None) -> PrototypicalNetwork:
        """Train on episodes drawn from ``tasks`` (each a :class:`Task` with at least two classes)."""
        usable = [t for t in tasks if (t.class_counts() >= self.k_shot + 1).sum() >= 2]
        if not usable:
            raise ValueError(f"no task has two classes of at least {self.k_shot + 1} customers to train on")
        started = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        with seeded(self.random_state):
            self.n_features_in_ = usable[0].X.shape[1]
            self.encoder_ = self._network(self.n_features_in_)
            optimizer = torch.optim.Adam(self.encoder_.parameters(), lr=self.learning_rate)
            tensors = [torch.as_tensor(t.X) for t in usable]  # built once
            losses = []
            for step in range(self.steps):
                i = int(rng.integers(len(usable)))
                task = usable[i]
                eligible = np.flatnonzero(task.class_counts() >= self.k_shot + 1)
                classes = rng.choice(eligible, min(self.n_way, len(eligible)), replace=False)
                support, query = sample_episode(task.codes, self.k_shot, rng, classes, self.n_query)
                n_way = len(classes)
                z = self.encoder_(tensors[i][np.concatenate([support, query])])
                prototypes = z[:len(support)].reshape(n_way, self.k_shot, -1).mean(1)
                zq = z[len(support):]
                target = torch.as_tensor(np.searchsorted(np.sort(classes), task.codes[query]))
                order = torch.as_tensor(np.argsort(classes))
                loss = torch.nn.functional.cross_entropy(-torch.cdist(zq, prototypes[order]) ** 2, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                if log is not None and (step + 1) % 250 == 0:
                    log(f"protonet: episode {step + 1}/{self.steps}, loss {np.mean(losses[-250:]):.4f}")
            self.encoder_.eval()
        self.training_ = {"episodes": self.steps, "tasks": len(usable), "final_loss": float(np.mean(losses[-50:])),
                          "seconds": round(time.perf_counter() - started, 3)}
        return self

    def embed(self, X) -> np.ndarray:
        with torch.no_grad():
            return self.encoder_(torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy().astype(np.float64)

    def adapt(self, X_support, y_support) -> PrototypePredictor:
        """The predictor of a new task from its labelled support customers (any number per label)."""
        classes, codes = np.unique(np.asarray(y_support), return_inverse=True)
        Z = self.embed(X_support)
        prototypes = np.stack([Z[codes == c].mean(axis=0) for c in range(len(classes))])
        return PrototypePredictor(self, classes, prototypes)
