"""Assign customers to a saved segmentation without refitting it, and tell when it has gone stale."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..tracking import PSI_SIGNIFICANT, drift_from_bins, feature_bins, numeric_columns
from .model_selection import NOISE_LABEL
from .pipeline import (
    SegmentationResult,
    _distances_to_own_centre,
    extreme_customers,
    extremes_to_nearest,
    with_taste,
)

__all__ = ["EXPECTED_SHARE_BEYOND", "SegmentScorer", "Staleness"]

#: Share of the training customers of every segment beyond that segment's reference distance, by
#: construction (the reference is its 95th percentile).
EXPECTED_SHARE_BEYOND = 0.05

#: A segment with fewer training customers than this is compared with the 95th percentile of all segments
#: together (a percentile of a handful of distances says little).
MIN_REFERENCE_ROWS = 20


@dataclass(frozen=True)
class Staleness:
    """How well a saved segmentation still fits a population (see :meth:`SegmentScorer.staleness`).

    Attributes
    ----------
    share_beyond_reference : float
        Share of the assigned (non-outlier) customers farther from their
        segment centre than that segment's training 95th percentile
        (about 0.05 when nothing changed).
    max_feature_psi : float
        Largest population stability index of a feature against training.
    max_psi_feature : str
        The feature it belongs to.
    stale : bool
        The verdict of the rule documented in :class:`SegmentScorer`.
    noise_share : float
        Share of the customers left unassigned (label -1; 0 unless the
        model is HDBSCAN).
    reasons : tuple of str
        The parts of the rule that made it stale (empty when not stale).
    """

    share_beyond_reference: float
    max_feature_psi: float
    max_psi_feature: str
    stale: bool
    noise_share: float = 0.0
    reasons: tuple = ()

    def to_frame(self) -> pd.DataFrame:
        """The result as a one-row DataFrame (``reasons`` joined by ``"; "``)."""
        row = asdict(self)
        row["reasons"] = "; ".join(self.reasons)
        return pd.DataFrame([row])


class SegmentScorer:
    """A fitted segmentation, frozen: assigns new or changed customers without refitting.

    It keeps the fitted :class:`CustomerFeatureTransformer` and
    :class:`ModelSelector` of a :class:`SegmentationResult`, plus small
    references from the training customers:

    - the 95th percentile of the distances to their own segment centre,
      per segment (``reference_distances_``; segments of fewer than 20
      customers use the percentile over all segments, ``reference_distance``),
    - the share of outliers (``reference_noise_share``, HDBSCAN only),
    - the decile bins of the drift features
      (:func:`python_models.tracking.feature_bins`; ``reference_bins``), by
      default every numeric column of the training features: the readable
      key features (orders, spend, recency, tenure, returns ...) and the
      category/channel shares the model also sees.

    Picklable (joblib): save it with the model version and load it to
    score later data. Its size does not grow with the number of customers.

    **Stale** (:meth:`staleness`) when, on the scored customers, any of

    - more than twice the expected 5 % of the assigned customers lie beyond
      their segment's reference distance (customers the segments no longer
      describe well);
    - some drift feature's population stability index against the training
      bins (:func:`python_models.tracking.population_stability_index`'s
      bins and formula) exceeds ``psi_threshold`` (0.2, a significant
      shift);
    - more than ``2 * max(reference_noise_share, 0.05)`` of the customers are
      outliers (HDBSCAN models only: more customers fall outside every
      segment).

    A stale model still assigns every customer; refit it to get segments
    that describe the current population. The distance and outlier shares
    of a few dozen customers are noisy: judge staleness on a whole
    population (e.g. all current customers), not on a small batch.

    Parameters
    ----------
    result : SegmentationResult
        The fitted segmentation.
    features : DataFrame
        The features it was fitted on (for the references).
    psi_threshold : float, default=0.2
        PSI above which a feature counts as shifted.
    id_column : str, default="customer_id"
        Identifier column, copied into :meth:`assign`'s output.
    drift_features : list of str, default=None
        Features whose PSI is checked (``None``: every numeric column of
        ``features`` but the id).

    Attributes
    ----------
    transformer : CustomerFeatureTransformer
    model : ModelSelector
    reference_distance : float
        95th percentile of the training distances, all segments together.
    reference_distances_ : ndarray of shape (n_clusters,)
        95th percentile of the training distances of each segment.
    reference_noise_share : float
        Share of outliers among the training customers.
    reference_bins : DataFrame
        Training bins of the drift features.

    See Also
    --------
    SegmentationResult.scorer : the same, from the result.

    Examples
    --------
    >>> from python_models.segmentation import segment_customers
    >>> def shop(n, seed):
    ...     r = np.random.default_rng(seed)
    ...     return pd.DataFrame({
    ...         "customer_id": [f"c{seed}-{i}" for i in range(2 * n)],
    ...         "order_count": np.r_[r.poisson(1, n) + 1, r.poisson(20, n) + 1],
    ...         "days_since_last_order": np.r_[r.uniform(200, 400, n), r.uniform(1, 30, n)]})
    >>> train = shop(100, 0)
    >>> result = segment_customers(train, k_range=range(2, 4), n_bootstrap=0)
    >>> scorer = SegmentScorer(result, train)  # or result.scorer(train)
    >>> scored = scorer.assign(shop(100, 1))
    >>> scored.columns.tolist()
    ['customer_id', 'label', 'distance', 'is_outlier']
    >>> bool((scorer.assign(train)["label"].to_numpy() == result.labels).all())
    True
    >>> scorer.staleness(shop(100, 1)).stale
    False
    >>> later = shop(100, 2).assign(order_count=lambda d: d["order_count"] * 5)
    >>> check = scorer.staleness(later)
    >>> check.stale, check.max_psi_feature
    (True, 'order_count')
    """

    def __init__(self, result: SegmentationResult, features: pd.DataFrame, *, psi_threshold=PSI_SIGNIFICANT,
                 id_column="customer_id", drift_features=None):
        if len(features) != len(result.labels):
            raise ValueError(f"features has {len(features)} rows, the result {len(result.labels)}: pass the "
                             "features the result was fitted on.")
        self.transformer = result.transformer
        self.model = result.model
        self.outlier_threshold = result.outlier_threshold
        self.max_outlier_share = result.max_outlier_share
        self.taste = result.taste
        self.id_column = id_column
        self.psi_threshold = psi_threshold
        labels = np.asarray(result.labels)
        distances = np.asarray(result.distances, dtype=np.float64)
        own = labels >= 0
        self.reference_noise_share = float(np.mean(~own))
        overall = np.quantile(distances[own], 1 - EXPECTED_SHARE_BEYOND) if own.any() else np.inf
        self.reference_distance = float(overall)
        k = self.model.n_clusters_
        reference = np.full(k, self.reference_distance)
        for segment in range(k):
            mine = distances[labels == segment]
            if mine.size >= MIN_REFERENCE_ROWS:
                reference[segment] = np.quantile(mine, 1 - EXPECTED_SHARE_BEYOND)
        self.reference_distances_ = reference
        if drift_features is None:
            drift_features = numeric_columns(features, id_column)
        self.reference_bins = feature_bins(features, list(drift_features))

    def model_frame(self, features: pd.DataFrame, purchases: pd.DataFrame | None = None) -> pd.DataFrame:
        """``features`` with the taste columns of the saved taste model (see :func:`with_taste`)."""
        return with_taste(features, self.taste, purchases)

    def assign(self, features: pd.DataFrame, purchases: pd.DataFrame | None = None) -> pd.DataFrame:
        """Segment of each customer by the saved transform and model (vectorised, no refit).

        Parameters
        ----------
        features : DataFrame
            ``customer_features`` rows (new, changed or all customers), with
            the training columns.
        purchases : DataFrame, default=None
            Their purchases (``row``, ``item``, ``count``), needed when the
            segmentation uses product taste.

        Returns
        -------
        DataFrame
            One row per input row, in order: the id column (when present),
            ``label`` (the fit's numbering: 0 = largest training segment,
            -1 = outlier) and ``distance`` to the segment centre (outliers:
            to the nearest centre), as in :class:`SegmentationResult`, and
            ``is_outlier`` (an extreme customer by the fit's threshold, at
            most the fit's share of the rows).
        """
        features = self.model_frame(features, purchases)
        X = self.transformer.transform(features)
        extreme = extreme_customers(self.transformer.outlier_scores(features), self.outlier_threshold,
                                    self.max_outlier_share)
        labels = extremes_to_nearest(X, self.model.predict(X), extreme, self.model.cluster_centers_)
        out = pd.DataFrame({
            "label": labels,
            "distance": _distances_to_own_centre(X, self.model.cluster_centers_, labels),
            "is_outlier": extreme,
        })
        if self.id_column in features.columns:
            out.insert(0, self.id_column, features[self.id_column].to_numpy())
        return out

    def embedding(self, features: pd.DataFrame, purchases: pd.DataFrame | None = None) -> np.ndarray:
        """New customers' coordinates in the saved autoencoder's embedding (``customer_embeddings``' space).

        The embedding candidates (``ae_kmeans``, ``idec``) assign through it already (:meth:`assign`); this gives
        the coordinates themselves. Raises ``ValueError`` when the segmentation had no embedding candidates.
        """
        autoencoder = getattr(self.model, "autoencoder", None)
        if autoencoder is None:
            raise ValueError("This segmentation was fitted without the embedding candidates: it has no autoencoder.")
        return autoencoder.transform(self.transformer.transform(self.model_frame(features, purchases)))

    def staleness(self, features: pd.DataFrame, assigned: pd.DataFrame | None = None,
                  purchases: pd.DataFrame | None = None) -> Staleness:
        """Whether the saved segmentation still describes these customers (the rule is in the class docs).

        Parameters
        ----------
        features : DataFrame
            The customers to check, usually all current customers.
        assigned : DataFrame, default=None
            Their :meth:`assign` output (same rows, same order), if already
            computed.
        purchases : DataFrame, default=None
            Their purchases, as for :meth:`assign`.

        Returns
        -------
        Staleness
        """
        assigned = self.assign(features, purchases) if assigned is None else assigned
        labels = assigned["label"].to_numpy()
        distances = assigned["distance"].to_numpy(dtype=np.float64)
        own = labels >= 0
        if own.any():
            beyond = float(np.mean(distances[own] > self.reference_distances_[labels[own]]))
        else:
            beyond = 1.0
        noise = float(np.mean(labels == NOISE_LABEL)) if labels.size else 0.0
        drift = drift_from_bins(self.reference_bins, features, threshold=self.psi_threshold)
        worst = drift.loc[drift["psi"].idxmax()]
        reasons = []
        if beyond > 2 * EXPECTED_SHARE_BEYOND:
            reasons.append(f"{beyond:.1%} of customers beyond the training 95th-percentile distance")
        if worst["psi"] > self.psi_threshold:
            reasons.append(f"PSI of {worst['feature']} is {worst['psi']:.2f}")
        noise_limit = 2 * max(self.reference_noise_share, EXPECTED_SHARE_BEYOND)
        if noise > noise_limit:
            reasons.append(f"{noise:.1%} outliers (training: {self.reference_noise_share:.1%})")
        return Staleness(
            share_beyond_reference=beyond,
            max_feature_psi=float(worst["psi"]),
            max_psi_feature=str(worst["feature"]),
            stale=bool(reasons),
            noise_share=noise,
            reasons=tuple(reasons),
        )
