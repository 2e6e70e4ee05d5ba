"""One-call segmentation used by the orchestration layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import CustomerFeatureTransformer
from .kmeans_selection import AutoKMeans
from .profiles import profile_segments

__all__ = ["SegmentationResult", "segment_customers"]


@dataclass
class SegmentationResult:
    """Output of :func:`segment_customers`.

    Attributes
    ----------
    customer_ids : ndarray or None
        Identifier of each row (``None`` when the id column is absent).
    labels : ndarray of shape (n_customers,)
        Segment of each customer; 0 is the largest segment.
    distances : ndarray of shape (n_customers,)
        Euclidean distance of each customer to its own segment centre, in
        the transformed feature space (a typicality score: small = core
        member, large = borderline).
    metrics : DataFrame
        One row per candidate k (see ``AutoKMeans.metrics_``).
    profiles : DataFrame
        One row per segment (see :func:`profile_segments`).
    transformer : CustomerFeatureTransformer
        Fitted preprocessing.
    model : AutoKMeans
        Fitted clustering.
    """

    customer_ids: np.ndarray | None
    labels: np.ndarray
    distances: np.ndarray
    metrics: pd.DataFrame
    profiles: pd.DataFrame
    transformer: CustomerFeatureTransformer
    model: AutoKMeans

    @property
    def n_clusters(self) -> int:
        """Number of segments."""
        return self.model.n_clusters_

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
    block_weights=None,
    skew_transform="log",
    n_init=3,
    sample_size=10_000,
    minibatch_threshold=200_000,
    large_n_strategy="subsample",
    silhouette_tol=0.01,
    slot_labels=None,
    id_column="customer_id",
):
    """Transform, cluster (choosing k) and profile customers in one call.

    Parameters
    ----------
    features : DataFrame
        The ``customer_features`` table, one row per customer.
    k_range : iterable of int, default=None
        Candidate numbers of segments (``None``: 2..10).
    random_state : int, default=0
        Seed of every random step; the same input and seed give the same
        segments, labels and names.
    block_weights : dict, default=None
        See :class:`CustomerFeatureTransformer`.
    skew_transform : {"log", "yeo-johnson"} or None, default="log"
        See :class:`CustomerFeatureTransformer`.
    n_init, sample_size, minibatch_threshold, large_n_strategy, silhouette_tol
        See :class:`AutoKMeans`.
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
    >>> res.n_clusters
    2
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
    model = AutoKMeans(
        k_range=k_range,
        random_state=random_state,
        n_init=n_init,
        sample_size=sample_size,
        minibatch_threshold=minibatch_threshold,
        large_n_strategy=large_n_strategy,
        silhouette_tol=silhouette_tol,
    ).fit(X)
    labels = model.labels_
    diff = model.cluster_centers_[labels]
    np.subtract(X, diff, out=diff)
    distances = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    profiles = profile_segments(
        features, labels, slot_labels=slot_labels, id_columns=(id_column,)
    )
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
