"""What meta-learning is compared with: models trained on all past tasks pooled.

- :class:`GlobalClassifier`: one network trained on the labels of every past task pooled (no episodes). On a new
  task it predicts a past label, which the support set translates into the new task's labels (each past label
  to the new label most of the support customers it is given to carry), its only contact with the new task; its
  penultimate layer is the embedding the ``finetune`` baseline trains a new head on.
- :func:`fit_global_behaviour`: the behaviour MLP trained on every past task's customers pooled.
- ``knn_support`` and ``logreg_support``, trained on the support set alone, are fitted to every episode at once
  (:mod:`.linear`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..deep.runtime import seeded
from .maml import BehaviourTask, _loss
from .networks import BehaviourNet, Encoder
from .tasks import Task

__all__ = ["GlobalClassifier", "fit_global_behaviour"]


class GlobalClassifier:
    """An encoder with a softmax head over every past task's labels pooled, trained with Adam on minibatches.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 300)
    >>> X = (np.eye(3)[y] * 4 + rng.normal(size=(300, 3))).astype(np.float32)
    >>> g = GlobalClassifier(steps=200).fit([Task("past", X, y)])
    >>> float((g.predict_past(X) == y.astype(str)).mean()) > 0.9
    True
    """

    def __init__(self, hidden_dim: int = 64, embedding_dim: int = 32, steps: int = 400, batch_size: int = 256,
                 learning_rate: float = 3e-3, random_state: int = 0):
        self.hidden_dim, self.embedding_dim, self.steps = hidden_dim, embedding_dim, steps
        self.batch_size, self.learning_rate, self.random_state = batch_size, learning_rate, random_state

    def fit(self, tasks: list[Task]) -> GlobalClassifier:
        X = np.concatenate([t.X for t in tasks]).astype(np.float32)
        labels = np.concatenate([np.asarray(t.labels).astype(str) for t in tasks])
        self.classes_, codes = np.unique(labels, return_inverse=True)
        rng = np.random.default_rng(self.random_state)
        with seeded(self.random_state):
            self.encoder_ = Encoder(X.shape[1], self.hidden_dim, self.embedding_dim)
            self.head_ = torch.nn.Linear(self.embedding_dim, len(self.classes_))
            params = [*self.encoder_.parameters(), *self.head_.parameters()]
            optimizer = torch.optim.Adam(params, lr=self.learning_rate)
            Xt, yt = torch.as_tensor(X), torch.as_tensor(codes)
            for _ in range(self.steps):
                rows = torch.as_tensor(rng.integers(len(X), size=min(self.batch_size, len(X))))
                loss = torch.nn.functional.cross_entropy(self.head_(self.encoder_(Xt[rows])), yt[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return self

    def embed(self, X) -> np.ndarray:
        with torch.no_grad():
            return self.encoder_(torch.as_tensor(np.asarray(X, np.float32))).numpy().astype(np.float64)

    def past_codes(self, X) -> np.ndarray:
        with torch.no_grad():
            return self.head_(self.encoder_(torch.as_tensor(np.asarray(X, np.float32)))).argmax(1).numpy()

    def predict_past(self, X) -> np.ndarray:
        return self.classes_[self.past_codes(X)]

    @staticmethod
    def translate(past_support: np.ndarray, y_support: np.ndarray, past_query: np.ndarray) -> np.ndarray:
        """New labels of query customers from their past labels, by the support's majority per past label (the
        support's most common label where a past label never occurs in the support)."""
        labels, codes = np.unique(y_support, return_inverse=True)
        n_past = int(max(past_support.max(initial=0), past_query.max(initial=0))) + 1
        votes = np.zeros((n_past, len(labels)))
        np.add.at(votes, (past_support, codes), 1)
        fallback = np.bincount(codes, minlength=len(labels)).argmax()
        mapping = np.where(votes.sum(1) > 0, votes.argmax(1), fallback)
        return labels[mapping[past_query]]


def fit_global_behaviour(tasks: list[BehaviourTask], hidden_dim: int, steps: int = 600, batch_size: int = 256,
                         learning_rate: float = 3e-3, random_state: int = 0) -> tuple[BehaviourNet, dict]:
    """The behaviour MLP trained on every past task's customers pooled; returns the network and its weights."""
    X = torch.as_tensor(np.concatenate([t.X for t in tasks]))
    b = torch.as_tensor(np.concatenate([t.bought for t in tasks]))
    s = torch.as_tensor(np.concatenate([t.log_spend for t in tasks]))
    rng = np.random.default_rng(random_state)
    with seeded(random_state):
        net = BehaviourNet(X.shape[1], hidden_dim)
        params = dict(net.named_parameters())
        optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
        for _ in range(steps):
            rows = torch.as_tensor(rng.integers(len(X), size=min(batch_size, len(X))))
            loss = _loss(params, net, X[rows], b[rows], s[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    net.eval()
    return net, {k: v.detach().clone() for k, v in net.named_parameters()}
