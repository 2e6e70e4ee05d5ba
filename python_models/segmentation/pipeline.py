"""One-call segmentation used by the orchestration layer: transform, choose a model, profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import CustomerFeatureTransformer
from .model_selection import ALGORITHMS, NOISE_LABEL, ModelSelector
from .profiles import profile_segments

__all__ = ["OUTLIER_NAME", "SegmentationResult", "segment_customers"]

#: Name of the profile row of the customers the model leaves unassigned (HDBSCAN's noise, label -1).
OUTLIER_NAME = "Unassigned (outliers)"


@dataclass
class SegmentationResult:
    """Output of :func:`segment_customers`.

    Attributes
    ----------
    customer_ids : ndarray or None
        Identifier of each row (``None`` when the id column is absent).
    labels : ndarray of shape (n_customers,)
        Segment of each customer; 0 is the largest segment, -1 the
        customers left unassigned (outliers; HDBSCAN only).
    distances : ndarray of shape (n_customers,)
        Euclidean distance of each customer to its own segment centre
        (outliers: to the nearest centre), in the transformed feature space
        (a typicality score: small = core member, large = borderline).
    metrics : DataFrame
        One row per candidate model (see ``ModelSelector.metrics_``).
    profiles : DataFrame
        One row per segment (see :func:`profile_segments`), plus a row
        ``-1`` named :data:`OUTLIER_NAME` when there are outliers.
    transformer : CustomerFeatureTransformer
        Fitted preprocessing.
    model : ModelSelector
        Fitted model choice; its ``predict`` assigns new rows.
    """

    customer_ids: np.ndarray | None
    labels: np.ndarray
    distances: np.ndarray
    metrics: pd.DataFrame
    profiles: pd.DataFrame
    transformer: CustomerFeatureTransformer
    model: ModelSelector

    @property
    def n_clusters(self) -> int:
        """Number of segments, outliers excluded."""
        return self.model.n_clusters_

    @property
    def algorithm(self) -> str:
        """Algorithm of the chosen model: kmeans, gmm, ward or hdbscan."""
        return self.model.algorithm_

    @property
    def segment_names(self) -> dict:
        """Mapping segment id -> readable name."""
        return dict(
            zip(self.profiles["segment_id"].tolist(), self.profiles["segment_name"])
        )

    def assignments(self, id_column: str = "customer_id") -> pd.DataFrame:
        """One row per customer: id, segment id, segment name, distance.

        Parameters
        ----------
        id_column : str, default="customer_id"
            Name of the identifier column in the output.

        Returns
        -------
        DataFrame
            Columns ``id_column`` (row position when no ids were given),
            ``segment_id``, ``segment_name``, ``distance_to_centre``.
        """
        ids = (
            self.customer_ids
            if self.customer_ids is not None
            else np.arange(len(self.labels))
        )
        names = self.segment_names
        return pd.DataFrame(
            {
                id_column: ids,
                "segment_id": self.labels,
                "segment_name": pd.Series(self.labels).map(names).to_numpy(),
                "distance_to_centre": self.distances,
            }
        )


def segment_customers(
    features,
    k_range=None,
    random_state=0,
    *,
    algorithms=ALGORITHMS,
    n_bootstrap=5,
    block_weights=None,
    skew_transform="log",
    n_init=3,
    sample_size=10_000,
    silhouette_tol=0.01,
    slot_labels=None,
    id_column="customer_id",
):
    """Transform, choose a clustering model (algorithm and k) and profile customers in one call.

    The features go through :class:`CustomerFeatureTransformer` (skew
    correction, standardisation, block weights); :class:`ModelSelector`
    fits every candidate algorithm and k, scores them (silhouette,
    Davies-Bouldin, Calinski-Harabasz, bootstrap stability) and keeps one by
    its documented rule; :func:`profile_segments` describes and names the
    segments.

    Parameters
    ----------
    features : DataFrame
        The ``customer_features`` table, one row per customer.
    k_range : iterable of int, default=None
        Candidate numbers of segments (``None``: 2..10).
    algorithms : sequence of str, default=("kmeans", "gmm", "ward", "hdbscan")
        Candidate algorithms (see :class:`ModelSelector`).
    n_bootstrap : int, default=5
        Resamples of the stability score (0 turns it off).
    random_state : int, default=0
        Seed of every random step; the same input and seed give the same
        segments, labels and names.
    block_weights : dict, default=None
        See :class:`CustomerFeatureTransformer`.
    skew_transform : {"log", "yeo-johnson"} or None, default="log"
        See :class:`CustomerFeatureTransformer`.
    n_init, sample_size, silhouette_tol
        See :class:`ModelSelector`.
    slot_labels : dict of str to str, default=None
        Readable names of category/channel slots, used in the profiles.
    id_column : str, default="customer_id"
        Identifier column (excluded from the model, kept in the result).

    Returns
    -------
    SegmentationResult
        Labels, distances, metrics, profiles and the fitted estimators.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({
    ...     "customer_id": [f"c{i}" for i in range(200)],
    ...     "order_count": np.r_[rng.poisson(1, 100) + 1, rng.poisson(20, 100) + 1],
    ...     "days_since_last_order": np.r_[rng.uniform(200, 400, 100),
    ...                                    rng.uniform(1, 30, 100)],
    ... })
    >>> res = segment_customers(df, k_range=range(2, 5))
    >>> res.algorithm, res.n_clusters
    ('kmeans', 2)
    >>> sorted(res.profiles["segment_name"])
    ['Active frequent buyers', 'Lapsed occasional buyers']
    >>> res.assignments().columns.tolist()
    ['customer_id', 'segment_id', 'segment_name', 'distance_to_centre']
    """
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a pandas DataFrame.")
    transformer = CustomerFeatureTransformer(
        block_weights=block_weights,
        skew_transform=skew_transform,
        id_columns=(id_column,),
    )
    X = transformer.fit_transform(features)
    model = ModelSelector(
        algorithms=algorithms,
        k_range=k_range,
        random_state=random_state,
        n_init=n_init,
        sample_size=sample_size,
        n_bootstrap=n_bootstrap,
        silhouette_tol=silhouette_tol,
    ).fit(X)
    labels = model.labels_
    distances = _distances_to_own_centre(X, model.cluster_centers_, labels)
    profiles = profile_segments(
        features, labels, slot_labels=slot_labels, id_columns=(id_column,)
    )
    profiles.loc[profiles["segment_id"] == NOISE_LABEL, "segment_name"] = OUTLIER_NAME
    ids = features[id_column].to_numpy() if id_column in features.columns else None
    return SegmentationResult(
        customer_ids=ids,
        labels=labels,
        distances=distances,
        metrics=model.metrics_,
        profiles=profiles,
        transformer=transformer,
        model=model,
    )


def _distances_to_own_centre(X, centers, labels, chunk_rows=65_536):
    """Distance of each row to its segment's centre (outliers: the nearest centre), a block of rows at a time."""
    out = np.empty(len(X))
    centre_sq = np.einsum("ij,ij->i", centers, centers)
    for start in range(0, len(X), chunk_rows):
        block = X[start:start + chunk_rows]
        sq = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ centers.T + centre_sq
        own = labels[start:start + chunk_rows]
        nearest = np.where(own >= 0, sq[np.arange(len(block)), np.maximum(own, 0)], sq.min(axis=1))
        out[start:start + chunk_rows] = np.sqrt(np.maximum(nearest, 0.0))
    return out
