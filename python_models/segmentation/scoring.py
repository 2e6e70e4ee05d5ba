"""Assign customers to a saved segmentation without refitting it, and tell when it has gone stale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..tracking import PSI_SIGNIFICANT, drift_from_bins, feature_bins, numeric_columns
from .pipeline import SegmentationResult, _distances_to_own_centre

__all__ = ["SegmentScorer", "Staleness"]

#: Share of the training customers beyond the reference distance, by construction (its 95th percentile).
EXPECTED_SHARE_BEYOND = 0.05


@dataclass(frozen=True)
class Staleness:
    """How well a saved segmentation still fits a population (see :meth:`SegmentScorer.staleness`)."""

    share_beyond_reference: float
    max_feature_psi: float
    max_psi_feature: str
    stale: bool


class SegmentScorer:
    """A fitted segmentation, frozen: assigns new or changed customers without refitting.

    It keeps the fitted feature transform and model of a
    :class:`~python_models.segmentation.SegmentationResult`, plus two
    references from the training customers: the 95th percentile of their
    distances to their segment centres, and the decile bins of every
    numeric feature (:func:`python_models.tracking.feature_bins`).
    Picklable (joblib): save it with the model version and load it to
    score later data.

    **Stale** when, on the scored customers, either

    - more than twice the expected 5 % lie beyond the reference distance
      (customers the segments no longer describe well), or
    - some feature's population stability index against the training
      bins exceeds ``psi_threshold`` (0.2, a significant shift).

    A stale model still assigns every customer; refit it (the default run
    does) to get segments that describe the current population.

    Parameters
    ----------
    result : SegmentationResult
        The fitted segmentation.
    features : DataFrame
        The features it was fitted on (for the references).
    psi_threshold : float, default=0.2
        PSI above which a feature counts as shifted.
    id_column : str, default="customer_id"

    Examples
    --------
    >>> from python_models.segmentation import segment_customers
    >>> rng = np.random.default_rng(0)
    >>> def shop(n, seed):
    ...     r = np.random.default_rng(seed)
    ...     return pd.DataFrame({
    ...         "customer_id": [f"c{seed}-{i}" for i in range(2 * n)],
    ...         "order_count": np.r_[r.poisson(1, n) + 1, r.poisson(20, n) + 1],
    ...         "days_since_last_order": np.r_[r.uniform(200, 400, n), r.uniform(1, 30, n)]})
    >>> train = shop(100, 0)
    >>> result = segment_customers(train, k_range=range(2, 4), n_bootstrap=0)
    >>> scorer = SegmentScorer(result, train)
    >>> bool((scorer.assign(train)["label"].to_numpy() == result.labels).all())
    True
    >>> scorer.staleness(shop(100, 1)).stale
    False
    >>> later = shop(100, 2).assign(order_count=lambda d: d["order_count"] * 5)
    >>> scorer.staleness(later).max_psi_feature
    'order_count'
    """

    def __init__(self, result: SegmentationResult, features: pd.DataFrame, *, psi_threshold=PSI_SIGNIFICANT,
                 id_column="customer_id"):
        self.transformer = result.transformer
        self.model = result.model
        self.id_column = id_column
        self.psi_threshold = psi_threshold
        own = result.labels >= 0
        self.reference_distance = float(np.quantile(result.distances[own], 1 - EXPECTED_SHARE_BEYOND))
        numeric = numeric_columns(features, id_column)
        self.reference_bins = feature_bins(features, numeric)

    def assign(self, features: pd.DataFrame) -> pd.DataFrame:
        """Segment of each customer by the saved transform and model.

        Parameters
        ----------
        features : DataFrame
            ``customer_features`` rows (new, changed or all customers).

        Returns
        -------
        DataFrame
            The id column, ``label`` (the model's numbering; -1 = outlier)
            and ``distance`` to the segment centre (outliers: the nearest).
        """
        X = self.transformer.transform(features)
        labels = self.model.predict(X)
        out = pd.DataFrame({
            "label": labels,
            "distance": _distances_to_own_centre(X, self.model.cluster_centers_, labels),
        })
        if self.id_column in features.columns:
            out.insert(0, self.id_column, features[self.id_column].to_numpy())
        return out

    def staleness(self, features: pd.DataFrame, assigned: pd.DataFrame | None = None) -> Staleness:
        """Whether the saved segmentation still describes these customers (the rule is in the class docs).

        Parameters
        ----------
        features : DataFrame
            The customers to check, usually all current customers.
        assigned : DataFrame, default=None
            Their :meth:`assign` output, if already computed.

        Returns
        -------
        Staleness
        """
        assigned = self.assign(features) if assigned is None else assigned
        own = assigned["label"].to_numpy() >= 0
        beyond = float(np.mean(assigned["distance"].to_numpy()[own] > self.reference_distance)) if own.any() else 1.0
        drift = drift_from_bins(self.reference_bins, features, threshold=self.psi_threshold)
        worst = drift.loc[drift["psi"].idxmax()]
        return Staleness(
            share_beyond_reference=beyond,
            max_feature_psi=float(worst["psi"]),
            max_psi_feature=str(worst["feature"]),
            stale=bool(beyond > 2 * EXPECTED_SHARE_BEYOND or worst["psi"] > self.psi_threshold),
        )
