"""Candidates that cluster an autoencoder's embedding: K-Means on it (``ae_kmeans``), and IDEC (``idec``).

They are fitted and extended to every customer like the feature-space candidates, but in the embedding of a
fitted :class:`python_models.deep.CustomerAutoencoder`; the rule that labels a row embeds it first. They are
scored exactly like the others, on the same evaluation rows *of the feature space*, so the choice rule compares
like with like: an embedding wins only where its segments are better segments of the customers, not of the
embedding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEEP_ALGORITHMS", "REPRESENTATIONS", "EmbeddingRule", "embedding_kmeans_from", "fit_idec"]

#: Candidate algorithms that need an autoencoder, in the "simpler first" order of the choice rule's tie-break.
DEEP_ALGORITHMS = ("ae_kmeans", "idec")

#: What each algorithm clusters (the ``representation`` column of the metrics).
REPRESENTATIONS = {"kmeans": "features", "gmm": "features", "ward": "features", "hdbscan": "features",
                   "ae_kmeans": "autoencoder", "idec": "idec"}


class EmbeddingRule:
    """Nearest centre in an autoencoder's embedding: how an embedding candidate labels rows of the features.

    Picklable with its autoencoder, so a saved segmentation scores new customers through the same embedding.
    """

    def __init__(self, autoencoder, centers):
        from .model_selection import _CentroidRule

        self.autoencoder = autoencoder
        self.nearest = _CentroidRule(centers)

    @property
    def centers(self):
        return self.nearest.centers

    @property
    def n_components(self):
        return self.nearest.n_components

    def __call__(self, X, Z=None):
        """Labels of the rows of ``X`` (``Z``: their embedding, when already computed)."""
        return self.nearest(self.autoencoder.transform(X) if Z is None else Z)

    def subset(self, components):
        return EmbeddingRule(self.autoencoder, self.nearest.centers[components])


def embedding_kmeans_from(autoencoder, Z, labels, Z_fit=None):
    """K-Means on embedded rows ``Z_fit`` (default ``Z``), started from the centres of the partition ``labels`` of
    the embedded rows ``Z``.

    The embedding candidates refine the feature-space choice instead of searching ``k`` on their own: where the
    silhouettes are flat, the embedding's own search chose a different ``k`` than the features' (0.15-0.26 ARI
    lower on two generated shops), while started from the same segments K-Means on the embedding stayed within
    0.04 of them on every shop. Noise rows (label -1) start no centre. ``None`` with fewer than two segments.

    Examples
    --------
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> Z = np.array([[0.0], [0.2], [3.0], [3.2], [1.4]])
    >>> rule = embedding_kmeans_from(FunctionTransformer(), Z, np.array([0, 0, 1, 1, -1]))
    >>> rule(Z).tolist(), rule.centers.ravel().round(2).tolist()
    ([0, 0, 1, 1, 0], [0.53, 3.1])
    """
    from sklearn.cluster import KMeans

    own = labels >= 0
    groups = np.unique(labels[own])
    if groups.size < 2:
        return None
    starts = np.stack([Z[labels == g].mean(axis=0) for g in groups])
    model = KMeans(n_clusters=groups.size, init=starts, n_init=1).fit(Z if Z_fit is None else Z_fit)
    return EmbeddingRule(autoencoder, model.cluster_centers_)


def fit_idec(rule: EmbeddingRule, X, seed, **params):
    """IDEC refinement of an ``ae_kmeans`` candidate on the rows ``X``: a new rule with the refined encoder."""
    from ..deep.idec import idec_refine

    refined = idec_refine(rule.autoencoder, X, rule.centers, random_state=seed, **params)
    return EmbeddingRule(refined.autoencoder, refined.centers)


def soft_confidence(distances, alpha=1.0):
    """Confidence of the nearest of several centres: its Student-t soft assignment (DEC's kernel).

    Examples
    --------
    >>> soft_confidence(np.array([[0.0, 3.0], [1.0, 1.0]])).round(2).tolist()
    [0.91, 0.5]
    """
    q = (1.0 + np.asarray(distances, dtype=np.float64) ** 2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return q.max(axis=1) / q.sum(axis=1)
