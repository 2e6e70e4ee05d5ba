"""Choice of clustering algorithm *and* number of segments, reproducibly.

:class:`ModelSelector` fits several clustering algorithms (K-Means, a
Gaussian mixture, Ward agglomerative clustering and HDBSCAN) for several
numbers of clusters on the already transformed customer matrix (the output
of :class:`~python_models.segmentation.CustomerFeatureTransformer`), scores
every candidate on one seeded evaluation sample (silhouette,
Davies-Bouldin, Calinski-Harabasz and bootstrap stability) and keeps the
candidate chosen by the documented rule of :func:`choose_candidate`.

Every algorithm is fitted on at most a bounded, seeded sample of rows and
then *extended* to all rows by a cheap assignment rule (nearest centre, or
the mixture's ``predict``), so the cost is bounded by the sample sizes plus
a few passes over the data: about 50 s for 1M customers (the demo shop's
``customer_features``, 46 columns after encoding) on two shared cores with
the full candidate set (30 candidates, 5 stability resamples), hardly more
than the 43 s for 100 000 customers, and under 400 MB of memory beyond the
data (``bench/bench_model_selection.py``).
"""

from __future__ import annotations

import numbers
import warnings
from collections import deque
from contextlib import nullcontext

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.cluster.hierarchy import linkage
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
)
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .embedding import (DEEP_ALGORITHMS, REPRESENTATIONS, EmbeddingRule, embedding_kmeans_from, fit_idec,
                        soft_confidence)
from .scores import DEFAULT_K_RANGE, SINGLE_THREAD_MAX_ROWS, silhouette_scores

__all__ = [
    "ALGORITHMS",
    "ALL_ALGORITHMS",
    "METRIC_COLUMNS",
    "NOISE_LABEL",
    "ModelSelector",
    "choose_candidate",
]

#: Feature-space candidate algorithms, in the "simpler first" order used to break ties.
ALGORITHMS = ("kmeans", "gmm", "ward", "hdbscan")

#: Every candidate algorithm, the embedding ones (which need an autoencoder) last: a tie goes to the classical one.
ALL_ALGORITHMS = ALGORITHMS + DEEP_ALGORITHMS

#: Label of the HDBSCAN noise segment (scikit-learn's convention).
NOISE_LABEL = -1

#: Columns of ``ModelSelector.metrics_``.
METRIC_COLUMNS = [
    "algorithm",
    "k",
    "min_cluster_size",
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "stability",
    "n_noise",
    "noise_share",
    "smallest_share",
    "chosen",
    "representation",
    "noise_flip_rate",
    "adversarial_flip_rate",
]

# Stream ids of the seed tree (see ``ModelSelector._seed``).
_EVAL, _FIT, _STABILITY, _MODEL, _ROBUSTNESS = 0, 1, 2, 3, 4
# Model stream id of IDEC (0-3: the feature-space algorithms, in ALGORITHMS order; ae_kmeans draws nothing).
_IDEC = 5

#: Share of the rows drawn for each stability resample when the data are
#: smaller than ``stability_sample_size / 0.8``: resamples of *all* rows
#: would be identical and measure nothing but the random initialisation.
STABILITY_FRACTION = 0.8

#: Rows per block when assigning rows to centres (bounds temporary memory).
_CHUNK_ROWS = 65_536


# --------------------------------------------------------------------------
# Assignment rules: how a fitted candidate labels any row
# --------------------------------------------------------------------------
class _CentroidRule:
    """Nearest centre; with ``radii``, rows farther than their centre's radius are noise."""

    def __init__(self, centers, radii=None):
        self.centers = np.ascontiguousarray(centers, dtype=np.float64)
        self.radii = None if radii is None else np.asarray(radii, dtype=np.float64)

    @property
    def n_components(self):
        return self.centers.shape[0]

    def __call__(self, X):
        n = X.shape[0]
        if self.n_components == 0:
            return np.full(n, NOISE_LABEL, dtype=np.intp)
        labels = np.empty(n, dtype=np.intp)
        half_sq = 0.5 * np.einsum("ij,ij->i", self.centers, self.centers)
        for start in range(0, n, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, n)
            # argmin_c ||x - c||^2 = argmin_c (||c||^2 / 2 - x.c)
            score = X[start:stop] @ self.centers.T
            np.subtract(half_sq, score, out=score)
            labels[start:stop] = score.argmin(axis=1)
        if self.radii is not None:
            for start in range(0, n, _CHUNK_ROWS):
                stop = min(start + _CHUNK_ROWS, n)
                lab = labels[start:stop]
                diff = X[start:stop] - self.centers[lab]
                dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
                lab[dist > self.radii[lab]] = NOISE_LABEL
        return labels

    def subset(self, components):
        """Rule restricted to ``components``, renumbered in that order."""
        radii = None if self.radii is None else self.radii[components]
        return _CentroidRule(self.centers[components], radii)


class _MixtureRule:
    """Most probable mixture component, among ``components`` (all by default)."""

    def __init__(self, mixture, components=None):
        self.mixture = mixture
        self.components = (
            None if components is None else np.asarray(components, dtype=np.intp)
        )

    @property
    def n_components(self):
        if self.components is None:
            return self.mixture.n_components
        return self.components.size

    def __call__(self, X):
        if self.components is None:
            return self.mixture.predict(X).astype(np.intp)
        proba = self.mixture.predict_proba(X)[:, self.components]
        return proba.argmax(axis=1).astype(np.intp)

    def subset(self, components):
        components = np.asarray(components, dtype=np.intp)
        if self.components is not None:
            components = self.components[components]
        return _MixtureRule(self.mixture, components)


def _group_means(X, labels, n_groups):
    """Mean row of every group ``0 .. n_groups - 1`` (rows labelled < 0 ignored)."""
    keep = labels >= 0
    rows = np.flatnonzero(keep)
    onehot = sparse.csr_matrix(
        (np.ones(rows.size), (labels[keep], rows)), shape=(n_groups, X.shape[0])
    )
    counts = np.bincount(labels[keep], minlength=n_groups).astype(np.float64)
    sums = np.asarray(onehot @ X)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


def _centroid_rule(Xs, labels, with_radii=False):
    """Centroid rule from the clusters ``labels >= 0`` of ``Xs``.

    With ``with_radii`` (HDBSCAN), every centroid also gets a noise radius
    calibrated on the sample: among the sample rows nearest to that
    centroid, the radius that reproduces the clusterer's own split into
    cluster members (inside) and noise (outside) with the fewest
    disagreements; the smallest such radius on ties. Without noise nearby
    this is the distance of the farthest row.
    """
    n_groups = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    if n_groups == 0:
        return _CentroidRule(np.empty((0, Xs.shape[1])), np.empty(0) if with_radii else None)
    centers, counts = _group_means(Xs, labels, n_groups)
    centers = centers[counts > 0]
    if not with_radii:
        return _CentroidRule(centers)
    nearest = _CentroidRule(centers)(Xs)
    diff = Xs - centers[nearest]
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    radii = np.zeros(centers.shape[0])
    for c in range(centers.shape[0]):
        mine = np.flatnonzero(nearest == c)
        if mine.size == 0:
            continue
        order = np.argsort(dist[mine], kind="stable")
        d = dist[mine][order]
        member = labels[mine][order] >= 0
        # agreement[i]: rows inside a radius of d[i - 1] (none for i = 0)
        inside_members = np.concatenate([[0], np.cumsum(member)])
        inside_noise = np.concatenate([[0], np.cumsum(~member)])
        agreement = inside_members + (inside_noise[-1] - inside_noise)
        best = int(np.argmax(agreement))
        radii[c] = d[best - 1] if best > 0 else 0.0
    return _CentroidRule(centers, radii)


def _cut_tree(tree, ks):
    """Flat clusterings of a linkage tree, one column per ``k`` in ``ks``.

    Same output as :func:`scipy.cluster.hierarchy.cut_tree` (the clusters
    left after the first ``n - k`` merges, taken in order of height with
    scipy's order among equal heights, numbered by their first row), in
    ``O(n log n)`` per ``k`` instead of a Python loop over every merge
    (5 000 rows: 5 ms instead of 0.5 s for ``k = 2..10``).
    """
    tree = np.asarray(tree, dtype=np.float64)
    n = tree.shape[0] + 1
    children = tree[:, :2].astype(np.intp)
    # scipy's merge order: by height; equal heights: the node inserted later
    # in a breadth-first walk from the root (right child first) comes first
    bfs = np.empty(n - 1, dtype=np.intp)
    queue, position = deque([n - 2]), 0
    while queue:
        node = queue.popleft()
        bfs[node] = position
        position += 1
        for child in (children[node, 1], children[node, 0]):
            if child >= n:
                queue.append(child - n)
    order = np.lexsort((-bfs, tree[:, 2]))
    rank = np.full(2 * n - 1, -1, dtype=np.intp)  # leaves: -1, merged from the start
    rank[n + order] = np.arange(n - 1)
    parent = np.arange(2 * n - 1)
    parent[children[:, 0]] = np.arange(n, 2 * n - 1)
    parent[children[:, 1]] = np.arange(n, 2 * n - 1)
    out = np.empty((n, len(ks)), dtype=np.intp)
    for j, k in enumerate(ks):
        merged = rank < n - k
        # pointer doubling up to the highest merged ancestor of every node
        jump = np.where(merged[parent], parent, np.arange(2 * n - 1))
        while True:
            nxt = jump[jump]
            if np.array_equal(nxt, jump):
                break
            jump = nxt
        _, first, inverse = np.unique(jump[:n], return_index=True, return_inverse=True)
        by_first = np.empty(first.size, dtype=np.intp)
        by_first[np.argsort(first, kind="stable")] = np.arange(first.size)
        out[:, j] = by_first[inverse]
    return out


def _centers_of(fits):
    """``k -> centres`` of successful K-Means fits."""
    return {k: rule.centers for k, (rule, _, _) in fits.items() if rule is not None}


def _mixture_init(Xs, labels, k, covariance_type, reg_covar):
    """GaussianMixture starting point (weights, means, precisions) of a partition.

    Returns ``{}`` (the mixture then runs its own k-means initialisation)
    when a part is empty.
    """
    means, counts = _group_means(Xs, labels, k)
    if (counts < 1).any():
        return {}
    n, d = Xs.shape
    weights = counts / n
    if covariance_type in ("diag", "spherical"):
        sq, _ = _group_means(Xs * Xs, labels, k)
        var = np.maximum(sq - means**2, 0.0) + reg_covar
        if covariance_type == "spherical":
            var = var.mean(axis=1)
        precisions = 1.0 / var
    elif covariance_type == "full":
        precisions = np.empty((k, d, d))
        for j in range(k):
            diff = Xs[labels == j] - means[j]
            cov = diff.T @ diff / counts[j]
            cov.flat[:: d + 1] += reg_covar
            precisions[j] = np.linalg.inv(cov)
    else:  # tied
        diff = Xs - means[labels]
        cov = diff.T @ diff / n
        cov.flat[:: d + 1] += reg_covar
        precisions = np.linalg.inv(cov)
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def _adjusted_rand(a, b):
    """:func:`sklearn.metrics.adjusted_rand_score` of two integer labelings (noise -1 is one more label).

    The same integer pair counts and final formula, hence the same value,
    from one :func:`numpy.bincount` instead of scikit-learn's input checks
    and sparse contingency table (which dominate for the few hundred
    comparisons of the stability score).
    """
    a = np.asarray(a, dtype=np.int64) + 1
    b = np.asarray(b, dtype=np.int64) + 1
    n = a.shape[0]
    nb = int(b.max()) + 1
    table = np.bincount(a * nb + b, minlength=(int(a.max()) + 1) * nb).reshape(-1, nb)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    sum_squares = int((table * table).sum())
    tp = sum_squares - n
    fp = int((table @ cols).sum()) - sum_squares
    fn = int((table.T @ rows).sum()) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def _canonical(labels):
    """Renumber labels by first appearance (noise stays -1).

    Identical partitions then get identical label arrays, hence bit-identical
    scores, so exact ties between algorithms are real ties.
    """
    labels = np.asarray(labels, dtype=np.intp)
    out = np.full_like(labels, NOISE_LABEL)
    own = labels >= 0
    if own.any():
        uniq, first, inverse = np.unique(
            labels[own], return_index=True, return_inverse=True
        )
        rank = np.empty(uniq.size, dtype=np.intp)
        rank[np.argsort(first, kind="stable")] = np.arange(uniq.size)
        out[own] = rank[inverse]
    return out


def _labels_and_confidence(rule, X):
    """Labels of ``X`` by ``rule`` and the confidence of each (see ``ModelSelector.assign_methods``)."""
    if isinstance(rule, _MixtureRule):
        proba = rule.mixture.predict_proba(X)
        if rule.components is not None:
            proba = proba[:, rule.components]
        proba = proba / proba.sum(axis=1, keepdims=True)
        return proba.argmax(axis=1).astype(np.int64), proba.max(axis=1)
    space = rule.autoencoder.transform(X) if isinstance(rule, EmbeddingRule) else X
    nearest = rule.nearest if isinstance(rule, EmbeddingRule) else rule
    labels = rule(X, Z=space) if isinstance(rule, EmbeddingRule) else rule(X)
    confidence = np.empty(X.shape[0])
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        block = space[start:start + _CHUNK_ROWS]
        confidence[start:start + _CHUNK_ROWS] = soft_confidence(euclidean_distances(block, nearest.centers))
    confidence[labels == NOISE_LABEL] = np.nan
    return labels.astype(np.int64), confidence


# --------------------------------------------------------------------------
# The choice rule
# --------------------------------------------------------------------------
def choose_candidate(
    metrics,
    *,
    stability_threshold=0.8,
    silhouette_tol=0.01,
    max_noise_share=0.02,
    min_segment_share=0.02,
    preferred=None,
):
    """Apply the model-selection rule to a metrics table.

    Rule (deterministic; every score is measured on the same evaluation
    sample):

    1. **eligible**: the silhouette is defined (at least two non-empty,
       non-noise clusters), the noise share (HDBSCAN only) is at most
       ``max_noise_share`` and the smallest segment holds at least
       ``min_segment_share`` of the rows (a segment of a handful of
       customers is an outlier group, not a segment to act on). If no
       candidate is eligible, a ``ValueError`` says why: a degenerate
       model is never returned;
    2. **stable**: keep eligible candidates whose bootstrap stability (mean
       adjusted Rand index between refits) is at least
       ``stability_threshold``; if none is, keep all eligible candidates
       (stability is then only reported);
    3. **embeddings must win**: an embedding candidate (``ae_kmeans``,
       ``idec``) stays only if its silhouette beats the best remaining
       feature-space candidate's by more than ``silhouette_tol``: a deep
       method becomes the choice where it wins, not on a tie within the
       sampling noise (where the silhouettes are flat, more candidates would
       otherwise only add chances for a noisy one to come first);
    4. **separated**: keep those whose silhouette is within
       ``silhouette_tol`` of the best remaining silhouette; if the
       ``preferred`` candidate (last snapshot's algorithm and ``k``) is
       among them, it is chosen, so that the model does not flip from
       month to month on differences within the sampling noise;
    5. **complete**: keep the smallest noise share, i.e. a segmentation
       that labels every customer beats one that leaves some as noise
       unless the latter's silhouette is better by more than
       ``silhouette_tol``;
    6. **compact**: keep the lowest Davies-Bouldin index;
    7. **simple**: remaining ties go to the simpler algorithm,
       ``kmeans < gmm < ward < hdbscan < ae_kmeans < idec``, then to the smaller ``k``, then
       to the smaller ``min_cluster_size``, then to the earlier row.

    Parameters
    ----------
    metrics : DataFrame
        Columns ``algorithm``, ``k``, ``silhouette``, ``davies_bouldin`` and
        ``stability``; optional ``noise_share`` (missing or NaN = 0) and
        ``min_cluster_size``.
    stability_threshold : float, default=0.8
        Minimum stability of step 2.
    silhouette_tol : float, default=0.01
        Tolerance of steps 3 and 4 (silhouette differences that small are within
        the sampling noise of a 10 000-row sample).
    max_noise_share : float, default=0.02
        Largest noise share of an eligible candidate (step 1).
    min_segment_share : float, default=0.02
        Smallest share of the rows in any segment of an eligible candidate
        (step 1; needs the optional ``smallest_share`` column).
    preferred : tuple of (str, int) or None, default=None
        ``(algorithm, k)`` to keep when it is still within tolerance
        (step 4).

    Returns
    -------
    label
        Index label of the chosen row of ``metrics``.

    Raises
    ------
    ValueError
        When no candidate is eligible; the message names the reason.

    Examples
    --------
    >>> m = pd.DataFrame({
    ...     "algorithm": ["kmeans", "kmeans", "gmm", "hdbscan", "hdbscan"],
    ...     "k": [3, 4, 4, 4, 4],
    ...     "silhouette": [0.52, 0.515, 0.515, 0.60, 0.518],
    ...     "davies_bouldin": [0.9, 0.7, 0.7, 0.5, 0.4],
    ...     "stability": [0.95, 0.92, 0.90, 0.60, 0.90],
    ...     "noise_share": [0, 0, 0, 0.05, 0.05],
    ... })
    >>> # row 3 is unstable; rows 0, 1, 2, 4 are within 0.01 of 0.52; row 4
    >>> # leaves customers as noise; k=4 has the lower Davies-Bouldin; kmeans < gmm
    >>> choose_candidate(m)
    1
    >>> choose_candidate(m, preferred=("kmeans", 3))  # last month's model, still within tolerance
    0
    """
    m = metrics
    n = len(m)
    if n == 0:
        raise ValueError("metrics is empty.")
    sil = m["silhouette"].to_numpy(dtype=float)
    stab = m["stability"].to_numpy(dtype=float)
    db = m["davies_bouldin"].to_numpy(dtype=float)
    db = np.where(np.isnan(db), np.inf, db)
    noise = (
        m["noise_share"].to_numpy(dtype=float)
        if "noise_share" in m.columns
        else np.zeros(n)
    )
    noise = np.where(np.isnan(noise), 0.0, noise)
    smallest = (
        m["smallest_share"].to_numpy(dtype=float)
        if "smallest_share" in m.columns
        else np.ones(n)
    )
    rank = {a: i for i, a in enumerate(ALL_ALGORITHMS)}
    alg_rank = np.array([rank.get(a, len(ALL_ALGORITHMS)) for a in m["algorithm"]])
    k = m["k"].to_numpy(dtype=float)
    k = np.where(np.isnan(k), np.inf, k)
    if "min_cluster_size" in m.columns:
        mcs = m["min_cluster_size"].astype("Float64").fillna(-1).to_numpy(dtype=float)
    else:
        mcs = np.zeros(n)
    position = np.arange(n)

    keep = ~np.isnan(sil) & (noise <= max_noise_share) & (smallest >= min_segment_share)
    if not keep.any():
        raise ValueError(_no_candidate_reason(sil, noise, smallest, max_noise_share, min_segment_share))
    stable = keep & (stab >= stability_threshold)  # NaN stability is not stable
    if stable.any():
        keep = stable
    deep = np.isin(m["algorithm"].to_numpy(), DEEP_ALGORITHMS)
    if (keep & deep).any() and (keep & ~deep).any():
        keep &= ~deep | (sil > sil[keep & ~deep].max() + silhouette_tol)
    best = sil[keep].max()
    keep &= sil >= best - silhouette_tol
    if preferred is not None:
        alg, pk = preferred
        match = np.flatnonzero(keep & (m["algorithm"].to_numpy() == alg) & (k == pk))
        if match.size:
            return m.index[match[0]]
    idx = np.flatnonzero(keep)
    order = np.lexsort(
        (position[idx], mcs[idx], k[idx], alg_rank[idx], db[idx], noise[idx])
    )
    return m.index[idx[order[0]]]


def _no_candidate_reason(sil, noise, smallest, max_noise_share, min_segment_share):
    """Why no candidate is eligible, in words."""
    if np.isnan(sil).all():
        return ("No candidate segmentation has two or more segments: the customers' features hardly differ "
                "(too few customers, or every customer alike).")
    defined = ~np.isnan(sil)
    reasons = []
    if (noise[defined] > max_noise_share).all():
        reasons.append(f"every candidate leaves more than {max_noise_share:.0%} of customers as outliers")
    small = np.nanmax(np.where(defined, smallest, np.nan))
    if small < min_segment_share:
        reasons.append(f"every candidate has a segment of under {min_segment_share:.0%} of customers "
                       f"(the best has {small:.1%})")
    return ("No candidate segmentation is usable: " + "; ".join(reasons or ["no candidate passes the rule"])
            + ". Too few or too uniform customers for segments that each hold "
            f"{min_segment_share:.0%} of them.")


# --------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------
class ModelSelector(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Choose the clustering algorithm and number of segments, reproducibly.

    Candidates (the feature-space ``algorithms`` x ``k_range``, one HDBSCAN
    candidate per ``hdbscan_min_cluster_sizes`` entry, one per embedding
    algorithm) are fitted on bounded, seeded
    samples, *extended* to every row by an assignment rule, scored on one
    seeded evaluation sample and compared with :func:`choose_candidate`.

    **Algorithms** (each candidate is a fit plus an assignment rule):

    * ``"kmeans"``: :class:`~sklearn.cluster.KMeans` (k-means++, ``n_init``
      restarts) on all rows up to ``kmeans_max_fit_rows`` (200 000), else on
      a seeded sample of that many rows; every row goes to its nearest
      centre.
    * ``"gmm"``: :class:`~sklearn.mixture.GaussianMixture` with
      ``gmm_covariance_type`` covariances (default ``"diag"``) and
      ``reg_covar=gmm_reg_covar`` on at most ``gmm_max_fit_rows`` (50 000)
      seeded rows, started from the K-Means solution with the same ``k``
      (weights, means and covariances of its clusters; the best of
      ``n_init`` restarts, fitted here if ``"kmeans"`` is not a candidate),
      so that EM refines the best K-Means partition instead of a single
      random start; every row goes to its most probable component (the
      mixture's ``predict``). Diagonal by default: a full covariance has
      ``d (d + 1) / 2`` (820 for 40 columns) parameters per component,
      costs ``O(d^2)`` per row and component (16x slower at 40 columns)
      and is ill-conditioned on the near-binary one-hot columns of
      customer data. The larger-than-usual
      ``reg_covar`` (1e-3, columns have variances of about 0.01-1 after
      block weighting) stops components from collapsing onto a constant
      one-hot column.
    * ``"ward"``: Ward linkage (:func:`scipy.cluster.hierarchy.linkage`,
      the tree scikit-learn's ``AgglomerativeClustering(linkage="ward")``
      builds) on a seeded sample of ``ward_sample_size`` (5 000) rows,
      built once and cut at every ``k``; every row goes to the nearest
      centroid of the sample clusters. The tree needs ``O(m^2)`` time and
      memory in the sample size ``m`` (5 000 rows: 1.7 s, 100 MB).
    * ``"hdbscan"``: :class:`~sklearn.cluster.HDBSCAN` (``min_samples=
      hdbscan_min_samples``, default = ``min_cluster_size``) on a seeded
      sample of ``hdbscan_sample_size`` (5 000) rows. HDBSCAN chooses its
      own number of clusters: there is one candidate per
      ``min_cluster_size`` (a float in (0, 1) is a share of the fitting
      sample, an int a number of rows); its ``k`` in ``metrics_`` is the
      number of clusters it found. **Noise extension**: each sample
      cluster gets its centroid and a noise radius; a row goes to its
      nearest centroid if it lies within that centroid's radius, else to
      the noise segment (label ``-1``). The radius is the sample noise
      threshold: among the sample rows nearest to that centroid, the
      distance that best reproduces HDBSCAN's own split into members
      (inside) and noise (outside), i.e. with the fewest disagreements
      (the smallest such distance on ties; the farthest row's distance
      when there is no noise nearby).

    * ``"ae_kmeans"``: K-Means on the embedding of a fitted ``autoencoder``
      (:class:`python_models.deep.CustomerAutoencoder`), on at most
      ``kmeans_max_fit_rows`` rows, started from the centres there of the
      segments the rule chooses among the feature-space candidates: one
      candidate, at that ``k`` (it refines the feature-space choice in the
      embedding; see :func:`~python_models.segmentation.embedding.embedding_kmeans_from`
      for why it does not search ``k`` itself); a row is embedded, then
      goes to its nearest centre there. Needs a feature-space algorithm
      among the candidates; skipped, with the reason in ``skipped_``, when
      no feature-space candidate is usable.
    * ``"idec"``: IDEC (:func:`python_models.deep.idec_refine`) on at most
      ``idec_max_fit_rows`` rows, started from the ``ae_kmeans`` candidate
      (IDEC refines a partition; it does not search ``k``), with
      ``idec_params``; a row goes to the nearest refined centre in the
      refined embedding. Skipped, with the reason in ``skipped_``, when the
      ``ae_kmeans`` candidate is.

    The embedding candidates are scored like the others, on the evaluation
    rows *of the feature space*, so an embedding wins only where its
    segments are better segments of the customers. Their stability refits
    re-cluster (and, for IDEC, re-refine) on each resample with the
    autoencoder fixed: the variance of the autoencoder's own training is
    not in it; each refit of ``ae_kmeans`` starts from its feature-space
    start's refit on the same resample.

    The fitting samples are nested prefixes of one seeded permutation
    (Ward and HDBSCAN share theirs).

    **Scores.** Every candidate labels the same seeded evaluation sample of
    ``sample_size`` rows with its assignment rule (i.e. exactly as its final
    labels would be), which gives the silhouette, Davies-Bouldin and
    Calinski-Harabasz indices. Noise rows (HDBSCAN) are not a cluster: they
    are left out of the Davies-Bouldin and Calinski-Harabasz indices and of
    the other rows' silhouettes, and count as silhouette 0 (scikit-learn's
    value for a point without cluster mates) in the mean silhouette, which
    therefore stays a mean over the same evaluation rows for every
    candidate and penalises noise instead of dropping the hardest rows.
    ``n_noise``/``noise_share`` report how many evaluation rows are noise,
    and the choice rule caps that share (``max_noise_share``);
    ``smallest_share`` is the share of the evaluation rows in the smallest
    segment, which must reach ``min_segment_share``.
    **Stability**: the data are resampled ``n_bootstrap`` times
    (seeded, without replacement, ``stability_sample_size`` rows each, or
    80 % of the rows if that is fewer); every candidate is refitted on each
    resample (each algorithm on at most its own fitting-sample size, with
    the same settings) and labels the evaluation sample; the stability is
    the mean adjusted Rand index over all pairs of refits (noise counts as
    one more label). For K-Means and the mixture, refits use fewer rows
    than the main fit, so their stability is a conservative estimate.

    **Choice** (see :func:`choose_candidate`): among eligible candidates
    (defined silhouette, noise share <= ``max_noise_share``, smallest
    segment >= ``min_segment_share``), keep those
    with stability >= ``stability_threshold`` (all if none), drop the
    embedding candidates that do not beat the best feature-space silhouette
    by more than ``silhouette_tol``, then keep those
    within ``silhouette_tol`` of the best silhouette, then the smallest
    noise share (labelling everyone wins near-ties), then the lowest
    Davies-Bouldin index; remaining ties go to the simpler algorithm
    (``kmeans < gmm < ward < hdbscan < ae_kmeans < idec``), then to the smaller ``k``.
    With ``forced_algorithm`` the rule is applied to that algorithm's
    candidates only. The rule's choice within *every* algorithm is kept as
    well (``method_rules_``, :meth:`assign_methods`).

    **Labels.** The chosen rule labels every row (the sample rows
    included, so ``predict(X_train) == labels_``). Segments are renumbered
    by descending size (ties: lexicographic order of the centres), so 0 is
    the largest; empty segments are dropped. Noise (HDBSCAN only) is
    ``-1``: after every real segment in the sense that it is not counted
    in ``n_clusters_`` and has no row in ``cluster_centers_``.

    **Threads.** Fits on up to 50 000 rows (``SINGLE_THREAD_MAX_ROWS``, all
    of them for inputs that small) run with one OpenMP/BLAS thread (threads
    do not pay off on short fits on a busy two-core machine); the K-Means fits on larger samples and the passes
    over all rows use the default thread pools.

    Parameters
    ----------
    algorithms : sequence of str, default=("kmeans", "gmm", "ward", "hdbscan")
        Candidate algorithms (any non-empty subset of :data:`ALL_ALGORITHMS`;
        ``"ae_kmeans"`` and ``"idec"`` need ``autoencoder`` and a
        feature-space algorithm, ``"idec"`` needs ``"ae_kmeans"``).
    k_range : iterable of int, default=None
        Candidate numbers of clusters of K-Means, the mixture and Ward
        (each >= 2). ``None`` means ``4, 5, ..., 10`` (``DEFAULT_K_RANGE``). Candidates with
        ``k`` not smaller than the fitting or evaluation sample are skipped.
    hdbscan_min_cluster_sizes : sequence of int or float, default=(0.01, 0.02, 0.05)
        One HDBSCAN candidate per entry: a float in (0, 1) is a share of the
        fitting sample (with 5 000 rows: 50, 100 and 250 rows), an int >= 2
        a number of rows.
    random_state : int, RandomState instance or None, default=0
        Seeds every sample and every fit. Keep an int for reproducible
        segments.
    sample_size : int, default=10_000
        Rows of the evaluation sample (all rows when there are fewer).
    n_bootstrap : int, default=5
        Stability resamples ``B`` (0 disables the stability score; otherwise
        at least 2).
    stability_sample_size : int, default=20_000
        Rows of each stability resample (at most 80 % of the rows).
    stability_threshold : float, default=0.8
        Minimum stability of the choice rule.
    silhouette_tol : float, default=0.01
        Silhouette tolerance of the choice rule.
    max_noise_share : float, default=0.02
        Largest share of noise (HDBSCAN) in the evaluation sample for a
        candidate to be eligible.
    min_segment_share : float, default=0.02
        Smallest share of the evaluation sample in any segment for a
        candidate to be eligible.
    preferred : tuple of (str, int) or None, default=None
        ``(algorithm, k)`` of the previous snapshot's model, kept while it
        is within tolerance (see :func:`choose_candidate`).
    n_init : int, default=3
        k-means++ restarts of every K-Means fit (the mixture starts once,
        from the best K-Means solution).
    kmeans_max_fit_rows : int, default=200_000
        Rows K-Means is fitted on, at most.
    gmm_max_fit_rows : int, default=50_000
        Rows the mixture is fitted on, at most.
    gmm_covariance_type : {"diag", "full", "tied", "spherical"}, default="diag"
        Covariance of the mixture components.
    gmm_reg_covar : float, default=1e-3
        Added to the diagonal of the mixture covariances.
    ward_sample_size : int, default=5_000
        Rows of the Ward sample.
    hdbscan_sample_size : int, default=5_000
        Rows of the HDBSCAN sample.
    hdbscan_min_samples : int or None, default=None
        ``min_samples`` of HDBSCAN (``None``: equal to ``min_cluster_size``).
    autoencoder : CustomerAutoencoder or None, default=None
        Fitted autoencoder of the embedding candidates.
    idec_max_fit_rows : int, default=50_000
        Rows IDEC is fitted on, at most.
    idec_params : dict or None, default=None
        Further :func:`python_models.deep.idec_refine` settings.
    forced_algorithm : str or None, default=None
        Choose among this algorithm's candidates only.
    robustness_epsilon : float, default=0.25
        Size, in standardised units, of the perturbations of the robustness
        figures (0: not measured).
    perturbation_scale : array-like of shape (n_features,) or None
        Units of ``X`` per standardised unit of each column (the
        transformer's weights; 0 for columns not to perturb, e.g. one-hot
        indicators). ``None``: 1 for every column.

    Attributes
    ----------
    algorithm_ : str
        Algorithm of the chosen candidate.
    n_clusters_ : int
        Number of segments, noise excluded.
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row, 0 = largest, -1 = noise.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Mean training row of every segment, in label order (distances to
        them are what :meth:`transform` returns).
    n_noise_ : int
        Training rows in the noise segment.
    metrics_ : DataFrame
        One row per candidate: ``algorithm``, ``k`` (HDBSCAN: clusters
        found), ``min_cluster_size`` (HDBSCAN only, in rows of the fitting
        sample; nullable int), ``silhouette`` (evaluation sample, noise rows
        count 0), ``davies_bouldin``, ``calinski_harabasz`` (evaluation
        sample, noise left out),
        ``stability`` (NaN when it could not be measured), ``n_noise`` and
        ``noise_share`` (evaluation sample), ``chosen``,
        ``representation`` (``features``, ``autoencoder`` or ``idec``: what
        the candidate clusters), ``noise_flip_rate`` and
        ``adversarial_flip_rate`` (share of the evaluation rows whose segment
        changes under Gaussian noise or a gradient-sign step of size
        ``robustness_epsilon``, see :mod:`python_models.deep.robustness`).
    chosen_index_ : int
        Row of ``metrics_`` that was chosen.
    method_rules_ : dict
        Algorithm -> the assignment rule of the rule's choice among that
        algorithm's candidates (segments numbered by size), for every
        algorithm with a usable candidate.
    method_index_ : dict
        Algorithm -> its row of ``metrics_``.
    skipped_ : dict
        Algorithm -> why it has no usable candidate (or was not fitted).
    eval_indices_ : ndarray
        Training rows of the evaluation sample.
    fit_indices_ : ndarray
        Training rows the chosen model was fitted on.
    noise_radius_ : ndarray of shape (n_clusters_,) or None
        Radius of each segment beyond which a row is noise (HDBSCAN only).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Feature names seen during fit (only when X has string column names).

    See Also
    --------
    CustomerFeatureTransformer : the representation this selector clusters.
    choose_candidate : the choice rule.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.6, random_state=0)
    >>> sel = ModelSelector(k_range=range(2, 7), n_bootstrap=3).fit(X)
    >>> sel.algorithm_, sel.n_clusters_
    ('kmeans', 4)
    >>> sel.metrics_.columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['algorithm', 'k', 'min_cluster_size', 'silhouette', 'davies_bouldin',
     'calinski_harabasz', 'stability', 'n_noise', 'noise_share', 'smallest_share',
     'chosen', 'representation', 'noise_flip_rate', 'adversarial_flip_rate']
    >>> best = sel.metrics_.loc[sel.chosen_index_]
    >>> str(best["algorithm"]), int(best["k"]), bool(best["stability"] >= 0.8)
    ('kmeans', 4, True)
    >>> bool((sel.predict(X) == sel.labels_).all())
    True
    """

    def __init__(
        self,
        algorithms=ALGORITHMS,
        k_range=None,
        hdbscan_min_cluster_sizes=(0.01, 0.02, 0.05),
        random_state=0,
        sample_size=10_000,
        n_bootstrap=5,
        stability_sample_size=20_000,
        stability_threshold=0.8,
        silhouette_tol=0.01,
        max_noise_share=0.02,
        min_segment_share=0.02,
        preferred=None,
        n_init=3,
        kmeans_max_fit_rows=200_000,
        gmm_max_fit_rows=50_000,
        gmm_covariance_type="diag",
        gmm_reg_covar=1e-3,
        ward_sample_size=5_000,
        hdbscan_sample_size=5_000,
        hdbscan_min_samples=None,
        autoencoder=None,
        idec_max_fit_rows=50_000,
        idec_params=None,
        forced_algorithm=None,
        robustness_epsilon=0.25,
        perturbation_scale=None,
    ):
        self.algorithms = algorithms
        self.k_range = k_range
        self.hdbscan_min_cluster_sizes = hdbscan_min_cluster_sizes
        self.random_state = random_state
        self.sample_size = sample_size
        self.n_bootstrap = n_bootstrap
        self.stability_sample_size = stability_sample_size
        self.stability_threshold = stability_threshold
        self.silhouette_tol = silhouette_tol
        self.max_noise_share = max_noise_share
        self.min_segment_share = min_segment_share
        self.preferred = preferred
        self.n_init = n_init
        self.kmeans_max_fit_rows = kmeans_max_fit_rows
        self.gmm_max_fit_rows = gmm_max_fit_rows
        self.gmm_covariance_type = gmm_covariance_type
        self.gmm_reg_covar = gmm_reg_covar
        self.ward_sample_size = ward_sample_size
        self.hdbscan_sample_size = hdbscan_sample_size
        self.hdbscan_min_samples = hdbscan_min_samples
        self.autoencoder = autoencoder
        self.idec_max_fit_rows = idec_max_fit_rows
        self.idec_params = idec_params
        self.forced_algorithm = forced_algorithm
        self.robustness_epsilon = robustness_epsilon
        self.perturbation_scale = perturbation_scale

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------
    def _check_params(self):
        algs = self.algorithms
        if isinstance(algs, str):
            algs = (algs,)
        try:
            algs = list(dict.fromkeys(algs))
        except TypeError as exc:
            raise TypeError(f"algorithms must be a sequence of str, got {algs!r}.") from exc
        bad = [a for a in algs if a not in ALL_ALGORITHMS]
        if not algs or bad:
            raise ValueError(
                f"algorithms must be a non-empty subset of {ALL_ALGORITHMS}, got "
                f"{self.algorithms!r}."
            )
        algs = [a for a in ALL_ALGORITHMS if a in algs]
        deep = [a for a in algs if a in DEEP_ALGORITHMS]
        if deep and self.autoencoder is None:
            raise ValueError(f"{deep} cluster an autoencoder's embedding: pass a fitted autoencoder.")
        if deep and len(deep) == len(algs):
            raise ValueError(f"{deep} start from the feature-space choice: add a feature-space algorithm "
                             f"({', '.join(ALGORITHMS)}) to the algorithms.")
        if "idec" in algs and "ae_kmeans" not in algs:
            raise ValueError("idec refines the chosen ae_kmeans candidate: add 'ae_kmeans' to the algorithms.")
        if self.forced_algorithm is not None and self.forced_algorithm not in algs:
            raise ValueError(f"forced_algorithm {self.forced_algorithm!r} is not among the candidate "
                             f"algorithms {algs}.")

        ks = DEFAULT_K_RANGE if self.k_range is None else self.k_range
        try:
            ks = sorted({int(k) for k in ks})
        except TypeError as exc:
            raise TypeError(
                f"k_range must be an iterable of ints, got {self.k_range!r}."
            ) from exc
        if any(a in ("kmeans", "gmm", "ward") for a in algs) and (not ks or ks[0] < 2):
            raise ValueError(f"k_range must contain ints >= 2, got {self.k_range!r}.")

        mcs = self.hdbscan_min_cluster_sizes
        if "hdbscan" in algs:
            if isinstance(mcs, numbers.Real):
                mcs = (mcs,)
            mcs = list(mcs)
            for v in mcs:
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and (
                    (isinstance(v, numbers.Integral) and v >= 2)
                    or (not isinstance(v, numbers.Integral) and 0 < v < 1)
                )
                if not ok:
                    raise ValueError(
                        "hdbscan_min_cluster_sizes entries must be ints >= 2 or "
                        f"floats in (0, 1), got {v!r}."
                    )
            if not mcs:
                raise ValueError("hdbscan_min_cluster_sizes is empty.")
            mcs = list(dict.fromkeys(mcs))

        for name in (
            "sample_size", "stability_sample_size", "kmeans_max_fit_rows",
            "gmm_max_fit_rows", "ward_sample_size", "hdbscan_sample_size", "idec_max_fit_rows",
        ):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 2:
                raise ValueError(f"{name} must be an int >= 2, got {v!r}.")
        v = self.n_init
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"n_init must be a positive int, got {v!r}.")
        nb = self.n_bootstrap
        if not isinstance(nb, numbers.Integral) or isinstance(nb, bool) or nb < 0 or nb == 1:
            raise ValueError(f"n_bootstrap must be 0 or an int >= 2, got {nb!r}.")
        for name in ("stability_threshold", "silhouette_tol", "max_noise_share", "min_segment_share",
                     "gmm_reg_covar"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or not v >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {v!r}.")
        if self.gmm_covariance_type not in ("diag", "full", "tied", "spherical"):
            raise ValueError(
                "gmm_covariance_type must be 'diag', 'full', 'tied' or 'spherical', "
                f"got {self.gmm_covariance_type!r}."
            )
        ms = self.hdbscan_min_samples
        if ms is not None and (
            not isinstance(ms, numbers.Integral) or isinstance(ms, bool) or ms < 1
        ):
            raise ValueError(f"hdbscan_min_samples must be None or an int >= 1, got {ms!r}.")
        return algs, ks, mcs

    def _fit_cap(self, algorithm):
        return {
            "kmeans": self.kmeans_max_fit_rows,
            "gmm": self.gmm_max_fit_rows,
            "ward": self.ward_sample_size,
            "hdbscan": self.hdbscan_sample_size,
            "ae_kmeans": self.kmeans_max_fit_rows,
            "idec": self.idec_max_fit_rows,
        }[algorithm]

    @staticmethod
    def _seed(base, *stream):
        """Seed of one random stream, independent of the other candidates."""
        return int(np.random.SeedSequence([base, *stream]).generate_state(1)[0])

    @staticmethod
    def _resolve_mcs(spec, n_fit):
        if isinstance(spec, numbers.Integral):
            return int(min(spec, n_fit))
        return int(min(max(2, round(spec * n_fit)), n_fit))

    # ------------------------------------------------------------------
    # fitting of one algorithm on one set of rows
    # ------------------------------------------------------------------
    def _fit_algorithm(
        self, algorithm, X, rows, params, base, stream, limit_threads, init_centers=None
    ):
        """Fit ``algorithm`` on ``X[rows]`` for every entry of ``params``.

        Returns a dict ``param -> (rule, k, min_cluster_size)`` (``rule`` is
        None where the fit is impossible or failed). ``init_centers`` (dict
        ``k -> centres``, the K-Means fits of the same stage) initialise the
        mixture; missing ones are fitted here.
        """
        Xs = X if rows is None else X[rows]
        n_fit = Xs.shape[0]
        out = {}
        limit = (
            threadpool_limits(limits=1)
            if limit_threads and n_fit <= SINGLE_THREAD_MAX_ROWS
            else nullcontext()
        )
        with limit, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if algorithm == "kmeans":
                for k in params:
                    if k >= n_fit:
                        out[k] = (None, k, None)
                        continue
                    model = KMeans(
                        n_clusters=k, n_init=self.n_init,
                        random_state=self._seed(base, _MODEL, 0, k, *stream),
                    ).fit(Xs)
                    out[k] = (_CentroidRule(model.cluster_centers_), k, None)
            elif algorithm == "gmm":
                for k in params:
                    if k >= n_fit:
                        out[k] = (None, k, None)
                        continue
                    seed = self._seed(base, _MODEL, 1, k, *stream)
                    centers = (init_centers or {}).get(k)
                    if centers is None:
                        centers = KMeans(
                            n_clusters=k, n_init=self.n_init, random_state=seed
                        ).fit(Xs).cluster_centers_
                    init = _mixture_init(
                        Xs, _CentroidRule(centers)(Xs), k,
                        self.gmm_covariance_type, self.gmm_reg_covar,
                    )
                    model = GaussianMixture(
                        n_components=k,
                        covariance_type=self.gmm_covariance_type,
                        reg_covar=self.gmm_reg_covar,
                        n_init=1,
                        init_params="kmeans",
                        random_state=seed,
                        **init,
                    )
                    try:
                        model.fit(Xs)
                    except (ValueError, np.linalg.LinAlgError):
                        # ill-defined covariance (too few distinct rows)
                        out[k] = (None, k, None)
                        continue
                    out[k] = (_MixtureRule(model), k, None)
            elif algorithm == "ward":
                ks = [k for k in params if k < n_fit]
                for k in params:
                    out[k] = (None, k, None)
                if ks:
                    tree = linkage(Xs, method="ward")
                    cuts = _cut_tree(tree, ks)
                    for j, k in enumerate(ks):
                        out[k] = (_centroid_rule(Xs, cuts[:, j].astype(np.intp)), k, None)
            else:  # hdbscan
                for spec in params:
                    mcs = self._resolve_mcs(spec, n_fit)
                    ms = mcs if self.hdbscan_min_samples is None else self.hdbscan_min_samples
                    ms = min(ms, n_fit)
                    if n_fit < 3:
                        out[spec] = (None, np.nan, mcs)
                        continue
                    # brute force: trees do not help in ~40 dimensions (2x slower)
                    model = HDBSCAN(
                        min_cluster_size=mcs, min_samples=ms, algorithm="brute",
                        copy=True,
                    ).fit(Xs)
                    lab = np.asarray(model.labels_, dtype=np.intp)
                    lab[lab < 0] = NOISE_LABEL
                    rule = _centroid_rule(Xs, lab, with_radii=True)
                    out[spec] = (rule, rule.n_components, mcs)
        return out

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------
    def fit(self, X, y=None):
        """Fit and score every candidate, keep the chosen one and label all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (e.g. the output of
            :class:`CustomerFeatureTransformer`).
        y : None
            Ignored.

        Returns
        -------
        self : ModelSelector
            Fitted estimator.
        """
        algs, ks, mcs_specs = self._check_params()
        X = validate_data(self, X, reset=True, dtype=np.float64, order="C")
        n = X.shape[0]
        if n < 3:
            raise ValueError(
                f"n_samples={n} is too few: ModelSelector needs at least 3 samples "
                "to compare clusterings."
            )
        rng = check_random_state(self.random_state)
        base = int(rng.randint(np.iinfo(np.int32).max))

        # small inputs: one thread for everything; large inputs: one thread
        # for the fits on small samples only (see the class docstring)
        small = n <= SINGLE_THREAD_MAX_ROWS
        with threadpool_limits(limits=1) if small else nullcontext():
            self._fit(X, algs, ks, mcs_specs, base, limit_threads=not small)
        return self

    def _fit(self, X, algs, ks, mcs_specs, base, limit_threads):
        n = X.shape[0]
        gen = np.random.default_rng(self._seed(base, _EVAL))
        if n > self.sample_size:
            eval_rows = np.sort(gen.choice(n, size=self.sample_size, replace=False))
        else:
            eval_rows = np.arange(n)
        Xe = X[eval_rows]
        n_eval = eval_rows.size
        ks = [k for k in ks if k < n_eval]
        if not ks:
            # no k fits the data: only HDBSCAN (which chooses its own) is left
            algs = [a for a in algs if a == "hdbscan"]
            if not algs:
                raise ValueError(
                    f"No candidate k in k_range={self.k_range!r} is smaller than "
                    f"the number of (sampled) rows ({n_eval})."
                )

        # nested fitting samples: prefixes of one seeded permutation
        caps = {a: min(n, self._fit_cap(a)) for a in algs}
        perm = np.random.default_rng(self._seed(base, _FIT)).choice(
            n, size=max(caps.values()), replace=False
        )
        fit_rows = {a: (None if caps[a] == n else np.sort(perm[: caps[a]])) for a in algs}

        # the embedding of every row, once: the ae_kmeans fits and labels read it
        self._embedding = self.autoencoder.transform(X) if set(algs) & set(DEEP_ALGORITHMS) else None
        Ze = None if self._embedding is None else self._embedding[eval_rows]

        # the embedding candidates are fitted after the others: they start from the feature-space choice
        fitted = [a for a in algs if a not in DEEP_ALGORITHMS]
        params = {a: (mcs_specs if a == "hdbscan" else ks) for a in fitted}
        candidates = []  # (algorithm, param, rule, k, mcs)
        kmeans_centers = {}
        for a in fitted:
            fits = self._fit_algorithm(
                a, X, fit_rows[a], params[a], base, (), limit_threads, kmeans_centers
            )
            if a == "kmeans":
                kmeans_centers = _centers_of(fits)
            for p in params[a]:
                rule, k, mcs = fits[p]
                candidates.append((a, p, rule, k, mcs))

        # evaluation-sample labels of every candidate
        eval_labels = [
            None if rule is None else _canonical(self._apply(rule, Xe, Ze))
            for _, _, rule, _, _ in candidates
        ]

        # stability: refits on B resamples, compared on the evaluation sample
        B = self.n_bootstrap
        refit_labels = [[] for _ in candidates]
        resamples = []
        if B:
            s = min(self.stability_sample_size, max(3, int(STABILITY_FRACTION * n)))
            s = min(s, n)
            for b in range(B):
                res = np.random.default_rng(self._seed(base, _STABILITY, b)).choice(
                    n, size=s, replace=False
                )
                resamples.append(res)
                kmeans_centers = {}
                for a in fitted:
                    rows = np.sort(res[: min(s, caps[a])])
                    fits = self._fit_algorithm(
                        a, X, rows, params[a], base, (b + 1,), limit_threads,
                        kmeans_centers,
                    )
                    if a == "kmeans":
                        kmeans_centers = _centers_of(fits)
                    for j, (ca, p, _, _, _) in enumerate(candidates):
                        if ca != a:
                            continue
                        rule = fits[p][0]
                        refit_labels[j].append(None if rule is None else self._apply(rule, Xe, Ze))

        metrics = self._score(Xe, candidates, eval_labels, refit_labels)
        self.skipped_ = {}
        if "ae_kmeans" in algs:
            metrics, embedding_refits = self._add_embedding_kmeans(
                X, Xe, Ze, metrics, candidates, refit_labels, fit_rows["ae_kmeans"], caps["ae_kmeans"], resamples)
            if "idec" in algs:
                metrics = self._add_idec(X, Xe, base, metrics, candidates, fit_rows["idec"], caps["idec"],
                                         resamples, embedding_refits)
        metrics["representation"] = metrics["algorithm"].map(REPRESENTATIONS)
        self._robustness(Xe, base, metrics, candidates)
        chosen = self._choose(metrics, self.forced_algorithm, self.preferred)
        metrics["chosen"] = metrics.index == chosen
        self.metrics_ = metrics[METRIC_COLUMNS].reset_index(drop=True)
        self.chosen_index_ = int(chosen)
        self.eval_indices_ = eval_rows

        a, _, rule, _, _ = candidates[chosen]
        if rule is None:  # nothing could be fitted: one segment
            rule = _CentroidRule(X.mean(axis=0, keepdims=True))
        self.algorithm_ = a
        rows = fit_rows[a]
        self.fit_indices_ = np.arange(n) if rows is None else rows
        self._set_final(X, rule)
        self._set_methods(X, metrics, candidates, algs)
        del self._embedding

    def _robustness(self, Xe, base, metrics, candidates):
        """Noise and adversarial flip rates of every candidate on the evaluation rows (see
        :func:`python_models.deep.robustness.flip_rates`); NaN when ``robustness_epsilon`` is 0."""
        metrics["noise_flip_rate"] = np.nan
        metrics["adversarial_flip_rate"] = np.nan
        if not self.robustness_epsilon:
            return
        from ..deep.robustness import flip_rates

        scale = (np.ones(Xe.shape[1]) if self.perturbation_scale is None
                 else np.asarray(self.perturbation_scale, dtype=np.float64))
        seed = self._seed(base, _ROBUSTNESS)
        for j, (_, _, rule, _, _) in enumerate(candidates):
            if rule is not None and rule.n_components:
                metrics.loc[j, ["noise_flip_rate", "adversarial_flip_rate"]] = flip_rates(
                    rule, Xe, scale, self.robustness_epsilon, seed)

    def _apply(self, rule, X, Z=None):
        """Labels of ``X`` by ``rule``; an embedding rule of the selector's own autoencoder reuses ``Z``."""
        if Z is not None and isinstance(rule, EmbeddingRule) and rule.autoencoder is self.autoencoder:
            return rule(X, Z=Z)
        return rule(X)

    def _rule_settings(self):
        return dict(stability_threshold=self.stability_threshold, silhouette_tol=self.silhouette_tol,
                    max_noise_share=self.max_noise_share, min_segment_share=self.min_segment_share)

    def _choose(self, metrics, algorithm=None, preferred=None):
        """The rule's choice among all candidates, or among those of ``algorithm`` (a forced or per-method choice)."""
        if algorithm is None:
            return choose_candidate(metrics, preferred=preferred, **self._rule_settings())
        subset = metrics[metrics["algorithm"] == algorithm]
        if preferred is not None and preferred[0] != algorithm:
            preferred = None
        try:
            return choose_candidate(subset, preferred=preferred, **self._rule_settings())
        except ValueError as error:
            raise ValueError(f"No {algorithm} candidate is usable: {error}") from error

    def _add_embedding_kmeans(self, X, Xe, Ze, metrics, candidates, refit_labels, rows, cap, resamples):
        """The ``ae_kmeans`` candidate: K-Means on the embedding, started from the feature-space choice.

        The start is the candidate the rule chooses among the feature-space ones (the previous snapshot's model
        kept as usual); each stability refit starts from that candidate's refit on the same resample. Returns
        the metrics with its row, and its refit rule per resample (``None`` where there is none) for IDEC.
        Skipped, with the reason in ``skipped_``, when no feature-space candidate is usable.
        """
        preferred = self.preferred if self.preferred and self.preferred[0] not in DEEP_ALGORITHMS else None
        try:
            start = int(self._choose(metrics, preferred=preferred))
        except ValueError as error:
            self.skipped_["ae_kmeans"] = f"no feature-space segmentation to start from: {error}"
            return metrics, []
        Zs = self._embedding if rows is None else self._embedding[rows]
        rule = embedding_kmeans_from(self.autoencoder, Zs, candidates[start][2](X if rows is None else X[rows]))
        if rule is None:
            self.skipped_["ae_kmeans"] = "the feature-space choice has fewer than two segments on its fitting rows"
            return metrics, []
        k = rule.n_components
        refits, labels = [], []
        for res, begin in zip(resamples, refit_labels[start]):
            # the start's refit labels the evaluation rows: its segments' centres there start this refit
            refit = None if begin is None else embedding_kmeans_from(
                self.autoencoder, Ze, begin, self._embedding[np.sort(res[: min(res.size, cap)])])
            refits.append(refit)
            labels.append(None if refit is None else self._apply(refit, Xe, Ze))
        candidates.append(("ae_kmeans", k, rule, k, None))
        row = self._score(Xe, [candidates[-1]], [_canonical(self._apply(rule, Xe, Ze))], [labels])
        return pd.concat([metrics, row], ignore_index=True), refits

    def _add_idec(self, X, Xe, base, metrics, candidates, rows, cap, resamples, embedding_refits):
        """IDEC started from the ``ae_kmeans`` candidate, with its own stability refits (each from that candidate's
        refit on the same resample, ``embedding_refits``).

        IDEC refines a partition, it does not search ``k`` (its objective sharpens whatever ``k`` it is given). It
        is skipped, with the reason in ``skipped_``, when the ae_kmeans candidate is missing or not usable.
        """
        try:
            start = self._choose(metrics, "ae_kmeans")
        except ValueError as error:
            self.skipped_["idec"] = str(error)
            return metrics
        k = int(metrics.loc[start, "k"])
        params = dict(self.idec_params or {})
        rule = fit_idec(candidates[start][2], X if rows is None else X[rows],
                        self._seed(base, _MODEL, _IDEC, k), **params)
        refits = []
        for b, (res, begin) in enumerate(zip(resamples, embedding_refits)):
            if begin is None:
                refits.append(None)
                continue
            refit = fit_idec(begin, X[np.sort(res[: min(res.size, cap)])],
                             self._seed(base, _MODEL, _IDEC, k, b + 1), **params)
            refits.append(refit(Xe))
        candidates.append(("idec", k, rule, k, None))
        row = self._score(Xe, [candidates[-1]], [_canonical(rule(Xe))], [refits])
        return pd.concat([metrics, row], ignore_index=True)

    def _score(self, Xe, candidates, eval_labels, refit_labels):
        n_eval = Xe.shape[0]
        rows = []
        scored, scored_idx = [], []
        for j, ((a, _, rule, k, mcs), lab) in enumerate(zip(candidates, eval_labels)):
            row = {
                "algorithm": a,
                "k": k,
                "min_cluster_size": mcs,
                "silhouette": np.nan,
                "davies_bouldin": np.nan,
                "calinski_harabasz": np.nan,
                "stability": np.nan,
                "n_noise": 0,
                "smallest_share": np.nan,
            }
            if lab is not None:
                own = lab >= 0
                n_own = int(own.sum())
                row["n_noise"] = n_eval - n_own
                sizes = np.bincount(lab[own]) if n_own else np.zeros(0, dtype=np.int64)
                sizes = sizes[sizes > 0]
                n_lab = sizes.size
                row["smallest_share"] = sizes.min() / n_eval if n_lab else np.nan
                if 2 <= n_lab < n_own:
                    Xo, lo = (Xe, lab) if n_own == n_eval else (Xe[own], lab[own])
                    row["davies_bouldin"] = davies_bouldin_score(Xo, lo)
                    row["calinski_harabasz"] = calinski_harabasz_score(Xo, lo)
                    scored.append(lab)
                    scored_idx.append(j)
            refits = [r for r in refit_labels[j] if r is not None]
            if len(refits) >= 2 and len(refits) == len(refit_labels[j]):
                aris = [
                    _adjusted_rand(refits[p], refits[q])
                    for p in range(len(refits))
                    for q in range(p + 1, len(refits))
                ]
                row["stability"] = float(np.mean(aris))
            rows.append(row)
        if scored:
            # one pass over the pairwise distances for all labelings
            for j, sil in zip(scored_idx, silhouette_scores(Xe, scored)):
                rows[j]["silhouette"] = sil
        m = pd.DataFrame(rows)
        m["k"] = m["k"].astype("Float64").astype("Int64")
        m["min_cluster_size"] = m["min_cluster_size"].astype("Float64").astype("Int64")
        m["n_noise"] = m["n_noise"].astype(np.int64)
        m["noise_share"] = m["n_noise"] / n_eval
        for c in ("silhouette", "davies_bouldin", "calinski_harabasz", "stability", "smallest_share"):
            m[c] = m[c].astype(np.float64)
        return m

    def _renumbered(self, X, rule, Z=None):
        """``rule`` restricted to its non-empty segments, numbered by size (0 = largest; ties: centre order),
        and the labels of ``X`` by it."""
        raw = self._apply(rule, X, Z)
        n_comp = rule.n_components
        own = raw >= 0
        counts = np.bincount(raw[own], minlength=n_comp)
        keep = np.flatnonzero(counts > 0)
        means, _ = _group_means(X, raw, n_comp)
        means, counts = means[keep], counts[keep]
        keys = [means[:, j] for j in range(means.shape[1] - 1, -1, -1)]
        order = keep[np.lexsort(keys + [-counts])] if keep.size else keep
        final = rule.subset(order)
        # second pass with the final rule, so that predict(X) == labels_ exactly
        return final, self._apply(final, X, Z).astype(np.int64)

    def _set_final(self, X, rule):
        """Label all rows with ``rule``, renumber by size, set the attributes."""
        self._rule, labels = self._renumbered(X, rule, self._embedding)
        self.labels_ = labels
        self.n_clusters_ = int(self._rule.n_components)
        self.cluster_centers_, _ = _group_means(X, labels, self.n_clusters_)
        self.n_noise_ = int(np.count_nonzero(labels == NOISE_LABEL))
        self.noise_radius_ = getattr(self._rule, "radii", None)
        self._n_features_out = self.n_clusters_

    def _set_methods(self, X, metrics, candidates, algs):
        """The rule's choice within every algorithm that has a usable candidate: ``method_rules_``."""
        self.method_rules_, self.method_index_ = {}, {}
        for a in algs:
            if a == self.algorithm_:
                self.method_rules_[a], self.method_index_[a] = self._rule, self.chosen_index_
                continue
            try:
                j = int(self._choose(metrics, a, self.preferred))
            except ValueError as error:
                self.skipped_.setdefault(a, str(error))
                continue
            rule = candidates[j][2]
            if rule is not None:
                self.method_rules_[a], self.method_index_[a] = self._renumbered(X, rule, self._embedding)[0], j

    def assign_methods(self, X):
        """Every fitted method's segment and confidence for each row: the rule's choice within each algorithm.

        The confidence is the Student-t soft assignment (DEC's kernel) of the row's segment in the space the
        method clusters (the features, or the embedding), or the mixture's posterior probability; NaN for rows
        left as noise (HDBSCAN).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        dict of str to (ndarray, ndarray)
            ``algorithm -> (labels, confidence)``; the chosen algorithm's labels equal :meth:`predict`'s.
        """
        check_is_fitted(self, "method_rules_")
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        return {a: _labels_and_confidence(rule, X) for a, rule in self.method_rules_.items()}

    # ------------------------------------------------------------------
    # predict / transform
    # ------------------------------------------------------------------
    def predict(self, X):
        """Segment of each row, by the chosen model's assignment rule.

        K-Means, Ward and HDBSCAN: nearest fitted centre (HDBSCAN: noise,
        ``-1``, beyond that centre's radius); mixture: most probable
        component. The fitted centres are the model's own (K-Means centres,
        sample-cluster centroids), not ``cluster_centers_``, so that
        ``predict(X_train)`` equals ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the training feature space.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Segments (same numbering as ``labels_``).
        """
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        return self._rule(X).astype(np.int64)

    def transform(self, X):
        """Euclidean distance of each row to every segment's mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the training feature space.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters_)
            Column ``j`` is the distance to ``cluster_centers_[j]``.
        """
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return euclidean_distances(X, self.cluster_centers_)
