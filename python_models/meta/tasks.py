"""Tasks and episodes: slices of customers with labels, and the few-shot splits sampled from them.

A :class:`Task` is one slice of customers (a region at one snapshot, say) with one label per customer: a segment
from the analysts' file, a past snapshot's segment, or a pseudo-label. :func:`stunt_tasks` makes the pseudo-label
tasks of STUNT (Nam et al., ICLR 2023): K-Means on a random subset of the feature columns of unlabelled customers,
so that meta-training sees many different ways of splitting customers, not the one the shop's segments happen to
use. An episode is just row indices: ``k_shot`` support rows per class and the task's other rows as the query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

__all__ = ["Task", "sample_episode", "stunt_tasks"]


@dataclass
class Task:
    """Customers of one slice (rows of ``X``) and their labels (any hashable values; encoded as ``codes``)."""

    name: str
    X: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        self.classes, self.codes = np.unique(np.asarray(self.labels), return_inverse=True)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=self.n_classes)


def sample_episode(codes: np.ndarray, k_shot: int, rng: np.random.Generator, classes=None,
                   n_query: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Support (``k_shot`` rows of each class in ``classes``, default all) and query rows (``n_query`` per class, or
    all the other rows of those classes).

    Examples
    --------
    >>> codes = np.array([0, 0, 0, 1, 1, 1, 2])
    >>> s, q = sample_episode(codes, 2, np.random.default_rng(0), classes=[0, 1])
    >>> sorted(codes[s].tolist()), sorted(codes[q].tolist())
    ([0, 0, 1, 1], [0, 1])
    """
    classes = np.unique(codes) if classes is None else classes
    support, query = [], []
    for c in classes:
        rows = rng.permutation(np.flatnonzero(codes == c))
        support.append(rows[:k_shot])
        query.append(rows[k_shot:] if n_query is None else rows[k_shot:k_shot + n_query])
    return np.concatenate(support), np.concatenate(query)


def stunt_tasks(X: np.ndarray, n_tasks: int, rng: np.random.Generator, max_rows: int = 3000,
                n_clusters: tuple[int, int] = (3, 8), column_share: tuple[float, float] = (0.3, 0.7)) -> list[Task]:
    """Pseudo-label tasks: each K-Means (``n_clusters`` drawn in the range) on a random share of the columns of at
    most ``max_rows`` random customers; clusters of fewer than 2 customers are dropped.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(200, 6))
    >>> tasks = stunt_tasks(X, 3, np.random.default_rng(1))
    >>> len(tasks), all(2 <= t.n_classes <= 8 for t in tasks)
    (3, True)
    """
    tasks = []
    d = X.shape[1]
    for i in range(n_tasks):
        rows = rng.choice(len(X), min(max_rows, len(X)), replace=False)
        cols = rng.choice(d, max(1, int(round(rng.uniform(*column_share) * d))), replace=False)
        k = int(min(rng.integers(n_clusters[0], n_clusters[1] + 1), len(rows) // 2))
        if k < 2:
            continue
        km = KMeans(k, n_init=1, max_iter=50, random_state=int(rng.integers(2**31))).fit(X[np.ix_(rows, cols)])
        counts = np.bincount(km.labels_, minlength=k)
        keep = counts[km.labels_] >= 2
        if len(np.unique(km.labels_[keep])) >= 2:
            tasks.append(Task(f"pseudo_{i}", X[rows[keep]], km.labels_[keep]))
    return tasks
