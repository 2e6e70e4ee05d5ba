"""Prototypical network (Snell et al., 2017) for segment assignment from a few labelled customers.

``fit(tasks)`` trains an encoder episodically: each step draws a task, ``n_way`` of its classes, ``k_shot``
support and ``n_query`` query customers per class; the support's mean embedding per class is the class's
prototype, and the query customers are classified by a softmax over negative squared distances to the prototypes.
``adapt(X_support, y_support)`` returns a :class:`PrototypePredictor` for a new task: its prototypes come from
the support alone (no gradient step), and every customer gets the nearest prototype's label with a confidence.

``adapt(X_support, y_support, X_unlabelled)`` is **transductive**: it also reads the task's unlabelled customers
(those it will assign) and refines the prototypes by a few soft k-means steps over their embeddings, as in Ren et
al. (2018), "Meta-Learning for Semi-Supervised Few-Shot Classification" (the distractor-free variant): each support
customer counts with weight 1 for its own class, each unlabelled one with its soft assignment (the same softmax
over negative squared distances that classifies), and each prototype becomes the weighted mean. Five labels then
borrow the shape of the thousands of customers around them; without ``X_unlabelled`` (or with ``refine_steps=0``)
the prototypes are the support's means, the inductive prototypical network that STUNT's figures are for.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..deep.runtime import seeded
from .networks import Encoder
from .tasks import Task, sample_episode

__all__ = ["PrototypePredictor", "PrototypicalNetwork", "prototype_scores", "refine_prototypes", "sq_distances"]


def sq_distances(Z: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared distances ``[E, n, C]`` of rows ``Z [n, d]`` to each of ``E`` sets of centres ``[E, C, d]``."""
    return ((Z * Z).sum(1)[None, :, None] - 2 * torch.einsum("nd,ecd->enc", Z, centres)
            + (centres * centres).sum(2)[:, None, :])


def refine_prototypes(Z_support: torch.Tensor, y_support: torch.Tensor, n_classes: int, Z_unlabelled: torch.Tensor,
                      steps: int, mask: torch.Tensor | None = None,
                      guard: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Prototypes refined by soft k-means over unlabelled embeddings (Ren et al., 2018, without distractors),
    kept only where every support customer stays nearest its own label's prototype.

    Each step assigns every unlabelled customer softly to the prototypes (softmax over negative squared distances,
    as the classifier does), then makes each prototype the mean of its support customers (weight 1 each) and of the
    unlabelled ones (weight: their soft assignment). Where the task's labels are not its natural clusters the
    prototypes drift towards those clusters, away from the labels: an episode whose refined prototypes give some
    support customer another label than its own keeps the support's means (the guard is this module's, not Ren et
    al.'s: without it the refinement cost 3 to 5 accuracy points at 5 shots on generated shops whose personas are
    not the embedding's clusters, README).

    Parameters
    ----------
    Z_support : Tensor ``[E, S, d]``
        Per episode, the support customers' embeddings.
    y_support : Tensor ``[E, S]``
        Their label codes, each of ``0 .. n_classes - 1`` present in every episode.
    n_classes : int
    Z_unlabelled : Tensor ``[m, d]``
        Embeddings of the unlabelled customers, shared by the episodes.
    steps : int
        Soft k-means steps (a fixed number: the result is a deterministic function of the inputs).
    mask : Tensor ``[E, m]``, optional
        1 where an unlabelled row belongs to the episode's unlabelled set, 0 where not (e.g. it is that episode's
        support); default: every row in every episode.
    guard : bool
        Keep the support's means where the refined prototypes misclassify a support customer (False: Ren et al.'s
        refinement as is, for comparison).

    Returns
    -------
    prototypes : Tensor ``[E, C, d]``
        The refined prototypes, or the support's means where the guard refused them (and with ``steps=0``).
    refined : Tensor ``[E]`` of bool
        Whether the episode kept its refined prototypes.

    Examples
    --------
    Two labels, one labelled customer each (at 1 and 9), unlabelled customers around 0 and 10: the prototypes move
    towards the clusters' centres (each support customer still weighs 1 of 4).

    >>> Zs, ys = torch.tensor([[[1.0], [9.0]]]), torch.tensor([[0, 1]])
    >>> Zu = torch.tensor([[-0.5], [0.0], [0.5], [9.5], [10.0], [10.5]])
    >>> prototypes, refined = refine_prototypes(Zs, ys, 2, Zu, steps=3)
    >>> prototypes[0, :, 0].round(decimals=2).tolist(), refined.tolist()
    ([0.25, 9.75], [True])

    Labelled at 0 and 2, both by the first cluster: the second label's prototype is pulled to the cluster around 10
    and the customer labelled at 2 would be nearer the first label's: the guard keeps the support's means.

    >>> refine_prototypes(torch.tensor([[[0.0], [2.0]]]), ys, 2, Zu, steps=3)
    (tensor([[[0.],
             [2.]]]), tensor([False]))
    """
    onehot = torch.nn.functional.one_hot(y_support, n_classes).to(Z_support.dtype)  # [E, S, C]
    sums, counts = torch.einsum("esc,esd->ecd", onehot, Z_support), onehot.sum(1)
    means = sums / counts[..., None]
    prototypes = means
    for _ in range(steps):
        weight = torch.softmax(-sq_distances(Z_unlabelled, prototypes), dim=2)  # [E, m, C]
        if mask is not None:
            weight = weight * mask[..., None]
        prototypes = ((sums + torch.einsum("emc,md->ecd", weight, Z_unlabelled))
                      / (counts + weight.sum(1))[..., None])
    nearest = torch.cdist(Z_support, prototypes).argmin(2)  # [E, S]
    refined = ((nearest == y_support).all(1) | (not guard)) & (steps > 0)
    return torch.where(refined[:, None, None], prototypes, means), refined


def prototype_scores(Z: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Class probabilities: softmax over negative squared distances of each row of ``Z`` to each prototype."""
    d = (Z * Z).sum(1)[:, None] - 2 * Z @ prototypes.T + (prototypes * prototypes).sum(1)[None, :]
    logits = -d - (-d).max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


class PrototypePredictor:
    """A new task's classifier: its labels' prototypes in the encoder's space."""

    def __init__(self, network: PrototypicalNetwork, classes: np.ndarray, prototypes: np.ndarray,
                 refined: bool = False):
        self.network, self.classes_, self.prototypes_ = network, classes, prototypes
        self.refined_ = refined  # whether the prototypes are the transductive ones (see refine_prototypes)

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
    refine_steps : int
        Soft k-means steps over the unlabelled customers ``adapt`` is given (0: the support's means only).
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
    >>> refined = net.adapt(X[300:320], y[300:320], X_unlabelled=X[320:])  # transductive: reads X[320:]
    >>> float((refined.predict(X[320:]) == y[320:]).mean()) > 0.8
    True
    """

    def __init__(self, hidden_dim: int = 64, embedding_dim: int = 32, n_way: int = 5, k_shot: int = 5,
                 n_query: int = 10, steps: int = 500, learning_rate: float = 1e-3, refine_steps: int = 3,
                 random_state: int = 0):
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.steps = steps
        self.learning_rate = learning_rate
        self.refine_steps = refine_steps
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

    def adapt(self, X_support, y_support, X_unlabelled=None) -> PrototypePredictor:
        """The predictor of a new task from its labelled support customers (any number per label).

        Parameters
        ----------
        X_support, y_support : array-like
            The labelled customers' features and labels.
        X_unlabelled : array-like, optional
            The task's unlabelled customers (typically all those to be assigned, less the support). Given, the
            adaptation is **transductive**: the prototypes are refined by ``refine_steps`` soft k-means steps over
            these customers, unless that leaves a support customer nearer another label's prototype
            (:func:`refine_prototypes`; ``refined_`` on the predictor says which). Omitted, the prototypes are the
            support's means.

        Returns
        -------
        PrototypePredictor
        """
        classes, codes = np.unique(np.asarray(y_support), return_inverse=True)
        unlabelled = np.zeros((0, self.n_features_in_)) if X_unlabelled is None else X_unlabelled
        prototypes, refined = refine_prototypes(
            torch.as_tensor(self.embed(X_support))[None], torch.as_tensor(codes)[None], len(classes),
            torch.as_tensor(self.embed(unlabelled)), self.refine_steps if len(unlabelled) else 0)
        return PrototypePredictor(self, classes, prototypes[0].numpy(), refined=bool(refined[0]))
