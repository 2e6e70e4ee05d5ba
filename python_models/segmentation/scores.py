"""Scores shared by the model choice: a silhouette for many labelings at once, and threading limits."""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_K_RANGE", "SINGLE_THREAD_MAX_ROWS", "silhouette_scores"]

#: Up to this many rows the K-Means fits and scores run single-threaded
#: (OpenMP and BLAS). Each Lloyd iteration is then too short for threads to
#: pay off, and on a busy machine thread synchronisation dominates: on a
#: loaded 2-core box a 4 800-row fit over k = 2..10 took 7 s with 2 threads
#: and 0.45 s with 1.
SINGLE_THREAD_MAX_ROWS = 50_000

#: Candidate numbers of clusters used when ``k_range=None``: 4 to 10. Segments are for acting on, and a two- or
#: three-way split rarely is a segmentation to act on; the silhouette also favours a first coarse split (on a
#: shop of three personas, two of them alike, k = 2 scores 0.275 and the true k = 3 only 0.187), and on UCI Online
#: Retail, where customers form a continuum rather than groups, 2 and 3 are the silhouette's best. A shop with
#: fewer real groups then gets one of them split in two similar halves; pass a wider range to let the data decide.
DEFAULT_K_RANGE = tuple(range(4, 11))


def silhouette_scores(X, label_sets, *, chunk_size=1024):
    """Mean silhouette coefficient of several labelings of the same points.

    Equivalent to calling :func:`sklearn.metrics.silhouette_score` (Euclidean)
    once per labeling, but the pairwise distances are computed only once:
    each chunk of the distance matrix is multiplied by the stacked one-hot
    matrices of all labelings, which gives every point's summed distance to
    every cluster of every labeling in one pass. Fitting ``k = 2..10`` on a
    10 000-row sample therefore costs about one silhouette evaluation
    instead of nine.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Points (float64).
    label_sets : list of ndarray of shape (n_samples,)
        Integer labelings, each with values in ``0 .. n_labels - 1`` (gaps,
        i.e. empty labels, are allowed) and ``-1`` for noise: a noise point
        belongs to no cluster, is left out of the other points' distances
        and scores 0 itself; the mean is over all points.
    chunk_size : int, default=1024
        Rows of the distance matrix held in memory at once.

    Returns
    -------
    scores : ndarray of shape (len(label_sets),)
        Mean silhouette per labeling; NaN where a labeling has fewer than 2
        non-empty clusters or as many clusters as points. Points alone in
        their cluster score 0, as in scikit-learn.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> silhouette_scores(X, [np.array([0, 0, 1, 1])]).round(3)
    array([0.98])
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    label_sets = [np.asarray(lab, dtype=np.intp) for lab in label_sets]
    widths = [int(lab.max()) + 1 if lab.size and lab.max() >= 0 else 0 for lab in label_sets]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.intp)
    onehot = np.zeros((n, offsets[-1]))
    rows = np.arange(n)
    for lab, off in zip(label_sets, offsets[:-1]):
        own = lab >= 0
        onehot[rows[own], off + lab[own]] = 1.0

    sq = np.einsum("ij,ij->i", X, X)
    dist_sums = np.empty((n, offsets[-1]))
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        d2 = X[start:stop] @ X.T
        d2 *= -2.0
        d2 += sq[start:stop, None]
        d2 += sq[None, :]
        np.maximum(d2, 0.0, out=d2)
        np.sqrt(d2, out=d2)
        d2[np.arange(stop - start), np.arange(start, stop)] = 0.0
        dist_sums[start:stop] = d2 @ onehot

    scores = np.full(len(label_sets), np.nan)
    for j, (lab, off, width) in enumerate(zip(label_sets, offsets[:-1], widths)):
        own = lab >= 0
        lab_own = lab[own]
        counts = np.bincount(lab_own, minlength=width).astype(np.float64)
        n_labels = np.count_nonzero(counts)
        if not 2 <= n_labels <= lab_own.size - 1:
            continue
        r = rows[own]
        sums = dist_sums[r, off : off + width]
        own_count = counts[lab_own]
        a = sums[np.arange(r.size), lab_own] / np.maximum(own_count - 1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_to = sums / counts
        mean_to[:, counts == 0] = np.inf
        mean_to[np.arange(r.size), lab_own] = np.inf
        b = mean_to.min(axis=1)
        denom = np.maximum(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(denom > 0, (b - a) / denom, 0.0)
        s[own_count <= 1] = 0.0
        scores[j] = float(s.sum() / n)
    return scores
