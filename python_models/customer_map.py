"""2-D coordinates of customers for BI scatter plots.

:func:`customer_map` projects the clustering space (the transformed feature
matrix K-Means was fitted on) to two dimensions in two ways:

- ``"pca"``: the first two principal components, for *every* customer. Linear,
  so distances and directions keep a meaning, and cheap at any size;
- ``"tsne"``: t-SNE on a seeded sample. Non-linear, it shows the local
  neighbourhood structure (which segments touch, which are islands) much
  better, but costs O(n log n) per iteration, so it is only run on a few
  thousand customers. Axes of a t-SNE map carry no meaning; only proximity
  does.

Pure numpy / pandas / scikit-learn: arrays in, a long DataFrame out.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

__all__ = ["MAP_COLUMNS", "customer_map"]

MAP_COLUMNS = ["customer_id", "method", "x", "y"]
#: t-SNE runs on at most this many principal components (standard practice: denoises and bounds the
#: neighbour search cost when the clustering space is wide).
TSNE_MAX_DIMENSIONS = 50


def customer_map(
    X_transformed,
    customer_ids,
    sample_size=5000,
    random_state=0,
    method_sample="tsne",
    *,
    segment_ids=None,
    perplexity=30.0,
    max_iter=500,
    n_threads=1,
):
    """PCA coordinates of all customers plus t-SNE coordinates of a sample.

    Parameters
    ----------
    X_transformed : array-like of shape (n_customers, n_features)
        The matrix the segments were clustered on (e.g. the output of
        ``CustomerFeatureTransformer``), not the raw features.
    customer_ids : array-like of shape (n_customers,)
        Customer id of each row.
    sample_size : int, default=5000
        Customers embedded by t-SNE (all of them when there are fewer). The
        sample is drawn without replacement with ``random_state`` and kept in
        input order.
    random_state : int, default=0
        Seeds the sample and t-SNE.
    method_sample : {"tsne", None}, default="tsne"
        Method for the sample; ``None`` returns the PCA rows only.
    segment_ids : array-like of shape (n_customers,), default=None
        When given, copied to a ``segment_id`` column (what
        :func:`python_models.report.segment_report` colours by).
    perplexity : float, default=30.0
        t-SNE perplexity (lowered automatically for tiny samples).
    max_iter : int, default=500
        t-SNE iterations (the first 250 are early exaggeration). Half of
        scikit-learn's default: the map is for a scatter plot, and 500
        iterations keep 5000 points at about 13-15 s on one core, where
        1000 took twice as long.
    n_threads : int or None, default=1
        Threads for BLAS (PCA) and OpenMP (t-SNE's gradient) during the call
        (``None``: the libraries' defaults, one per core). One on purpose: on
        2 shared cores the multi-threaded kernels were erratic and often
        slower, from threads spinning while the other core was busy (t-SNE of
        5000 points: 8 s idle but 19-36 s under load, against 13-15 s for
        one thread; PCA of 1M x 40: 1.9-6.4 s against 0.6 s; a 40-point
        t-SNE: 0.07 s to 12 s). Keep it fixed for bit-identical output
        (BLAS sums in a thread-dependent order).

    Returns
    -------
    DataFrame
        Columns ``customer_id, method, x, y`` (and ``segment_id`` when
        given): ``n_customers`` rows with ``method="pca"`` in input order,
        then ``min(sample_size, n_customers)`` rows with ``method="tsne"``.
        PCA components are centred, with the sign fixed by scikit-learn's
        deterministic convention.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (60, 5)), rng.normal(6, 1, (60, 5))])
    >>> m = customer_map(X, np.arange(120), sample_size=40)
    >>> m.groupby("method").size().to_dict()
    {'pca': 120, 'tsne': 40}
    >>> list(m.columns)
    ['customer_id', 'method', 'x', 'y']
    """
    X = np.asarray(X_transformed, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X_transformed must be 2-D, got shape {X.shape}")
    n, d = X.shape
    if n == 0:
        raise ValueError("X_transformed has no rows")
    if not np.isfinite(X).all():
        raise ValueError("X_transformed contains NaN or infinite values")
    ids = np.asarray(customer_ids).reshape(-1)
    if len(ids) != n:
        raise ValueError(f"customer_ids has {len(ids)} entries but X_transformed has {n} rows")
    segments = None if segment_ids is None else np.asarray(segment_ids).reshape(-1)
    if segments is not None and len(segments) != n:
        raise ValueError(f"segment_ids has {len(segments)} entries but X_transformed has {n} rows")
    if method_sample not in ("tsne", None):
        raise ValueError(f"method_sample must be 'tsne' or None, got {method_sample!r}")
    if not (isinstance(sample_size, numbers.Integral) and sample_size >= 0):
        raise ValueError(f"sample_size must be a non-negative integer, got {sample_size!r}")

    # One PCA serves both maps: its first two components are the PCA map, its first (up to) 50 the t-SNE
    # input. covariance_eigh works on the d x d covariance: one pass over the rows, exact and seed-free.
    n_components = max(1, min(d, n, TSNE_MAX_DIMENSIONS))
    with threadpool_limits(limits=n_threads):
        scores = PCA(n_components=n_components, svd_solver="covariance_eigh").fit_transform(X)
        if n_components < 2:  # a single feature or row: pad so that y exists
            scores = np.hstack([scores, np.zeros((n, 2 - n_components))])

        frames = [_frame(ids, "pca", scores[:, 0], scores[:, 1], segments)]
        m = min(sample_size, n)
        if method_sample == "tsne" and m > 0:
            rng = np.random.default_rng(random_state)
            rows = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
            x, y = _tsne(scores[rows], perplexity, max_iter, random_state)
            frames.append(_frame(ids[rows], "tsne", x, y, None if segments is None else segments[rows]))
    return pd.concat(frames, ignore_index=True)


def _tsne(X, perplexity, max_iter, random_state):
    m = len(X)
    if m < 3 or np.ptp(X, axis=0).max() == 0:
        # t-SNE needs a few distinct points; put degenerate samples at the origin rather than fail.
        return np.zeros(m), np.zeros(m)
    # scikit-learn requires perplexity < n_samples; about a third keeps enough neighbours on each side.
    perplexity = float(min(perplexity, max(1.0, (m - 1) / 3)))
    emb = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=random_state,
    ).fit_transform(X)
    return emb[:, 0], emb[:, 1]


def _frame(ids, method, x, y, segments):
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "method": method,
            "x": np.asarray(x, dtype=float),
            "y": np.asarray(y, dtype=float),
        }
    )
    if segments is not None:
        frame["segment_id"] = segments
    return frame
