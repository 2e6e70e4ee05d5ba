"""K-Means with automatic, deterministic choice of the number of clusters.

:class:`AutoKMeans` fits one K-Means model per candidate ``k``, scores every
candidate on the same seeded sample (silhouette, Davies-Bouldin,
Calinski-Harabasz) plus the full-data inertia, and keeps the model chosen by a
documented rule. Cluster labels are renumbered by descending size so that the
output is reproducible and label 0 is always the largest segment.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

__all__ = ["AutoKMeans", "DEFAULT_K_RANGE", "choose_k", "silhouette_scores"]

#: Cap on MiniBatchKMeans passes over the data (early stopping on the
#: smoothed batch inertia normally ends the fit after about one pass; the cap
#: bounds the worst case).
MINIBATCH_MAX_EPOCHS = 3

#: Up to this many rows the K-Means fits and scores run single-threaded
#: (OpenMP and BLAS). Each Lloyd iteration is then too short for threads to
#: pay off, and on a busy machine thread synchronisation dominates: on a
#: loaded 2-core box a 4 800-row fit over k = 2..10 took 7 s with 2 threads
#: and 0.45 s with 1.
SINGLE_THREAD_MAX_ROWS = 50_000

#: Candidate numbers of clusters used when ``k_range=None``.
DEFAULT_K_RANGE = tuple(range(2, 11))

METRIC_COLUMNS = [
    "k",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "inertia",
    "n_nonempty",
    "chosen",
]


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


def choose_k(metrics, silhouette_tol=0.01):
    """Apply the k-selection rule to a metrics table.

    Rule (deterministic):

    1. keep candidates whose silhouette is defined (at least two non-empty
       clusters);
    2. among them, keep every ``k`` whose silhouette is within
       ``silhouette_tol`` of the best silhouette (differences that small are
       within the sampling noise of a 10 000-row sample);
    3. pick the one with the lowest Davies-Bouldin index (compact,
       well-separated clusters); remaining ties go to the smaller ``k``.

    If no candidate has a defined silhouette the smallest ``k`` is returned.

    Parameters
    ----------
    metrics : DataFrame
        Columns ``k``, ``silhouette`` and ``davies_bouldin``.
    silhouette_tol : float, default=0.01
        Tolerance of step 2.

    Returns
    -------
    int
        The chosen ``k``.

    Examples
    --------
    >>> m = pd.DataFrame({"k": [2, 3, 4], "silhouette": [0.50, 0.495, 0.30],
    ...                   "davies_bouldin": [0.9, 0.7, 1.2]})
    >>> choose_k(m)
    3
    """
    m = metrics.sort_values("k", kind="stable")
    sil = m["silhouette"].to_numpy(dtype=float)
    valid = ~np.isnan(sil)
    if not valid.any():
        return int(m["k"].iloc[0])
    best = np.nanmax(sil)
    cand = m[valid & (sil >= best - silhouette_tol)]
    db = cand["davies_bouldin"].to_numpy(dtype=float)
    db = np.where(np.isnan(db), np.inf, db)
    return int(cand["k"].to_numpy()[np.argmin(db)])


class AutoKMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """K-Means that chooses its own number of clusters, reproducibly.

    For every ``k`` in ``k_range`` a K-Means model is fitted with a seed
    derived from ``random_state``: :class:`~sklearn.cluster.KMeans`
    (k-means++, Lloyd) on all rows up to ``minibatch_threshold`` rows.
    Beyond that, where full Lloyd passes with restarts become the
    bottleneck, ``large_n_strategy`` decides: ``KMeans`` on a seeded sample
    of ``minibatch_threshold`` rows and a nearest-centre assignment of every
    row (default), or :class:`~sklearn.cluster.MiniBatchKMeans` on all rows.
    Each candidate is scored on the same seeded sample of ``sample_size``
    rows (silhouette, Davies-Bouldin, Calinski-Harabasz) and by its
    full-data inertia.

    **Choice of k** (see :func:`choose_k`): among the candidates whose sample
    silhouette is within ``silhouette_tol`` (default 0.01) of the best, take
    the lowest Davies-Bouldin index; remaining ties go to the smaller ``k``.
    Silhouette is the primary, scale-free criterion; the tolerance absorbs
    sampling noise and Davies-Bouldin breaks near-ties in favour of the more
    compact and separated solution.

    **Labels** are renumbered by descending cluster size (ties broken by the
    lexicographic order of the centres), so label 0 is the largest segment
    and the same input always gives the same labels. Empty clusters (possible
    on data with fewer distinct points than ``k``) are dropped.

    **Threads.** Up to 50 000 rows (``SINGLE_THREAD_MAX_ROWS``) the fits run
    with one OpenMP/BLAS thread: the work per Lloyd iteration is too small
    for threads to help and they slow down badly on a busy machine. Larger
    inputs use the default thread pools (limit them with
    ``threadpoolctl.threadpool_limits`` if needed).

    Parameters
    ----------
    k_range : iterable of int, default=None
        Candidate numbers of clusters (each >= 2). ``None`` means
        ``2, 3, ..., 10``. Candidates with ``k >= n_samples`` are skipped.
    random_state : int, RandomState instance or None, default=0
        Seeds the scoring sample and every K-Means fit. Keep an int for
        reproducible segments.
    n_init : int, default=3
        k-means++ initialisations per ``k``. Small on purpose: the cost is
        paid nine times (once per ``k``) and, on segmentation data, extra
        restarts rarely change the chosen solution; 3 guards against an
        unlucky start distorting the silhouette curve. For
        ``MiniBatchKMeans`` the initialisations are compared on a subsample
        and only the best one is run.
    sample_size : int, default=10_000
        Rows (drawn once, without replacement) on which silhouette,
        Davies-Bouldin and Calinski-Harabasz are computed. All rows are used
        when there are fewer.
    minibatch_threshold : int, default=200_000
        Above this many rows the ``large_n_strategy`` is used; it is also
        the size of the fitting sample of the ``"subsample"`` strategy.
    batch_size : int, default=4096
        Mini-batch size of ``MiniBatchKMeans`` (``large_n_strategy=
        "minibatch"`` only). Larger than scikit-learn's default so that far
        fewer steps are needed on millions of rows.
    silhouette_tol : float, default=0.01
        Tolerance of the k-selection rule.
    large_n_strategy : {"subsample", "minibatch"}, default="subsample"
        Algorithm above ``minibatch_threshold`` rows.

        * ``"subsample"``: ``KMeans`` with ``n_init`` restarts on a seeded
          sample of ``minibatch_threshold`` rows, then every row goes to its
          nearest centre (one pass, which also gives the full-data inertia).
          The cost is bounded by the sample size, not by the data.
        * ``"minibatch"``: ``MiniBatchKMeans(batch_size=batch_size,
          n_init=n_init, max_iter=3)`` on all rows, stopped early on the
          smoothed batch inertia, so its run time depends on the data; in
          scikit-learn 1.9 each step also draws its batch with an
          O(n_samples) weighted sampler (about 10 ms per step at 1M rows).

        On 1M x 41 synthetic rows, 2 cores, k = 2..10: ``"subsample"``
        8 s, ``"minibatch"`` 20 s (90 s on a busy machine), same labels
        and equal or lower inertia for ``"subsample"``.

    Attributes
    ----------
    n_clusters_ : int
        Number of clusters of the chosen model.
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training row, ``0`` = largest cluster.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Centres, in label order.
    inertia_ : float
        Sum of squared distances of the training rows to their centre.
    metrics_ : DataFrame
        One row per candidate ``k``: ``k``, ``silhouette``,
        ``davies_bouldin``, ``calinski_harabasz`` (all on the sample),
        ``inertia`` (full data), ``n_nonempty`` (non-empty clusters) and
        ``chosen``.
    sample_indices_ : ndarray
        Rows of the training data used for scoring.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Feature names seen during fit (only when X has string column names).

    See Also
    --------
    CustomerFeatureTransformer : builds the input matrix.
    sklearn.cluster.KMeans : the underlying algorithm.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=300, centers=4, random_state=0)
    >>> model = AutoKMeans(k_range=range(2, 7)).fit(X)
    >>> model.n_clusters_
    4
    >>> model.metrics_.loc[model.metrics_["chosen"], "k"].item()
    4
    >>> bool((np.bincount(model.labels_)[:-1] >= np.bincount(model.labels_)[1:]).all())
    True
    """

    def __init__(
        self,
        k_range=None,
        random_state=0,
        n_init=3,
        sample_size=10_000,
        minibatch_threshold=200_000,
        batch_size=4096,
        silhouette_tol=0.01,
        large_n_strategy="subsample",
    ):
        self.k_range = k_range
        self.random_state = random_state
        self.n_init = n_init
        self.sample_size = sample_size
        self.minibatch_threshold = minibatch_threshold
        self.batch_size = batch_size
        self.silhouette_tol = silhouette_tol
        self.large_n_strategy = large_n_strategy

    def _candidate_ks(self):
        ks = DEFAULT_K_RANGE if self.k_range is None else self.k_range
        try:
            ks = sorted({int(k) for k in ks})
        except TypeError as exc:
            raise TypeError(
                f"k_range must be an iterable of ints, got {self.k_range!r}."
            ) from exc
        if not ks or ks[0] < 2:
            raise ValueError(f"k_range must contain ints >= 2, got {self.k_range!r}.")
        return ks

    def _check_params(self):
        for name in ("n_init", "sample_size", "minibatch_threshold", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        if self.sample_size < 3:
            raise ValueError(f"sample_size must be >= 3, got {self.sample_size}.")
        tol = self.silhouette_tol
        if not isinstance(tol, numbers.Real) or not tol >= 0:
            raise ValueError(f"silhouette_tol must be a number >= 0, got {tol!r}.")
        if self.large_n_strategy not in ("minibatch", "subsample"):
            raise ValueError(
                "large_n_strategy must be 'minibatch' or 'subsample', "
                f"got {self.large_n_strategy!r}."
            )
        return self._candidate_ks()

    def _fit_one(self, X, k, seed, large, fit_rows):
        """Fit K-Means with ``k`` clusters; return (centers, labels, inertia)."""
        with warnings.catch_warnings():
            # duplicate points -> fewer distinct clusters than k; handled by
            # dropping empty clusters and by the silhouette being undefined.
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not large:
                model = KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)
                model.fit(X)
                return model.cluster_centers_, model.labels_, model.inertia_
            if self.large_n_strategy == "minibatch":
                model = MiniBatchKMeans(
                    n_clusters=k,
                    batch_size=self.batch_size,
                    n_init=self.n_init,
                    max_iter=MINIBATCH_MAX_EPOCHS,
                    random_state=seed,
                )
                model.fit(X)
                return model.cluster_centers_, model.labels_, model.inertia_
            model = KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)
            model.fit(X[fit_rows])
            return model.cluster_centers_, model.predict(X), -model.score(X)

    def _fit_candidates(self, X, ks, seeds, sample, fit_rows):
        """Fit every candidate k; return ({k: (centers, labels, inertia)}, metrics)."""
        large = X.shape[0] > self.minibatch_threshold
        Xs = X[sample]
        fits, sample_labels, rows = {}, [], []
        for k, seed in zip(ks, seeds):
            centers, lab, inertia = self._fit_one(X, k, int(seed), large, fit_rows)
            lab = np.asarray(lab, dtype=np.intp)
            fits[k] = (centers, lab, inertia)
            n_nonempty = int(np.count_nonzero(np.bincount(lab, minlength=k)))
            slab = lab[sample]
            sample_labels.append(slab)
            ok = n_nonempty == k and 2 <= np.unique(slab).size < sample.size
            rows.append(
                {
                    "k": k,
                    "davies_bouldin": davies_bouldin_score(Xs, slab) if ok else np.nan,
                    "calinski_harabasz": (
                        calinski_harabasz_score(Xs, slab) if ok else np.nan
                    ),
                    "inertia": float(inertia),
                    "n_nonempty": n_nonempty,
                    "_ok": ok,
                }
            )
        sil = silhouette_scores(Xs, sample_labels)
        metrics = pd.DataFrame(rows)
        metrics["silhouette"] = np.where(metrics.pop("_ok"), sil, np.nan)
        return fits, metrics

    def fit(self, X, y=None):
        """Fit one K-Means per candidate ``k`` and keep the chosen one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (e.g. the output of
            :class:`CustomerFeatureTransformer`).
        y : None
            Ignored.

        Returns
        -------
        self : AutoKMeans
            Fitted estimator.
        """
        ks = self._check_params()
        X = validate_data(self, X, reset=True, dtype=np.float64, order="C")
        n = X.shape[0]
        if n < 3:
            raise ValueError(
                f"n_samples={n} is too few: AutoKMeans needs at least 3 samples "
                "to compare numbers of clusters."
            )
        rng = check_random_state(self.random_state)
        if n > self.sample_size:
            sample = np.sort(rng.choice(n, size=self.sample_size, replace=False))
        else:
            sample = np.arange(n)
        self.sample_indices_ = sample
        n_sample = sample.size
        ks = [k for k in ks if k < min(n, n_sample)]
        if not ks:
            raise ValueError(
                f"No candidate k in k_range={self.k_range!r} is smaller than "
                f"the number of (sampled) rows ({min(n, n_sample)})."
            )
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(ks))
        fit_rows = None
        if n > self.minibatch_threshold and self.large_n_strategy == "subsample":
            fit_rows = np.sort(
                rng.choice(n, size=self.minibatch_threshold, replace=False)
            )
        with threadpool_limits(limits=1 if n <= SINGLE_THREAD_MAX_ROWS else None):
            fits, metrics = self._fit_candidates(X, ks, seeds, sample, fit_rows)
        chosen = choose_k(metrics, self.silhouette_tol)
        metrics["chosen"] = metrics["k"] == chosen
        self.metrics_ = metrics[METRIC_COLUMNS].reset_index(drop=True)

        centers, lab, inertia = fits[chosen]
        self._set_relabelled(centers, lab)
        self.inertia_ = float(inertia)
        return self

    def _set_relabelled(self, centers, labels):
        labels = np.asarray(labels, dtype=np.intp)
        counts = np.bincount(labels, minlength=centers.shape[0])
        keep = np.flatnonzero(counts > 0)
        centers, counts = centers[keep], counts[keep]
        keys = [centers[:, j] for j in range(centers.shape[1] - 1, -1, -1)]
        order = np.lexsort(keys + [-counts])
        mapping = np.full(keep.max() + 1, -1, dtype=np.intp)
        mapping[keep[order]] = np.arange(order.size)
        self.cluster_centers_ = np.ascontiguousarray(centers[order])
        self.labels_ = mapping[labels].astype(np.int64)
        self.n_clusters_ = int(order.size)
        self._n_features_out = self.n_clusters_

    def predict(self, X):
        """Assign each row to its nearest centre.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the training feature space.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels (same numbering as ``labels_``).
        """
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._sq_distances(X).argmin(axis=1).astype(np.int64)

    def transform(self, X):
        """Euclidean distance of each row to every centre.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the training feature space.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters_)
            Column ``j`` is the distance to centre ``j``.
        """
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.sqrt(self._sq_distances(X))

    def _sq_distances(self, X):
        """Squared Euclidean distances to the centres, shape (n, n_clusters_)."""
        centers = self.cluster_centers_
        if X.shape[0] * centers.size <= 1_000_000:
            # small inputs: exact, and no thread-pool start-up (which costs
            # tens of milliseconds per call on a busy machine)
            diff = X[:, None, :] - centers[None, :, :]
            return np.einsum("ijk,ijk->ij", diff, diff)
        return euclidean_distances(X, centers, squared=True)
