"""Predictive validity of segments: how much of a future outcome the segment explains.

Segments are made to act on the future, so a useful check is whether the
segment a customer is in at a cutoff date tells something about what the
customer does *after* it. The measure is eta squared of a one-way ANOVA of
the outcome (e.g. next-90-day spend) on the segment: the share of the
outcome's variance that lies between the segments' means. 0 means the
segment says nothing about the outcome, 1 that it determines it.

Pure numpy / pandas: arrays and DataFrames in and out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["eta_squared", "segment_validity"]


def eta_squared(values, groups) -> float:
    """Share of the variance of ``values`` explained by ``groups`` (one-way ANOVA).

    ``eta² = SS_between / SS_total`` with ``SS_between = Σ_g n_g (mean_g -
    mean)²`` and ``SS_total = Σ_i (x_i - mean)²``. It equals ``F·df_b /
    (F·df_b + df_w)`` of the ANOVA F test (``df_b`` = groups - 1, ``df_w`` =
    n - groups), and the R² of a least-squares fit of the values on one
    indicator per group.

    Parameters
    ----------
    values : array-like of shape (n,)
        The outcome, numeric, without missing values.
    groups : array-like of shape (n,)
        The group (segment) of each value, any hashable labels; missing
        labels count as one more group.

    Returns
    -------
    float
        In ``[0, 1]``; ``nan`` when there are no values or they are all
        equal (no variance to explain).

    Raises
    ------
    ValueError
        When ``values`` and ``groups`` differ in length, or ``values`` holds
        missing values.

    Examples
    --------
    Two segments, means 2 and 6 around an overall mean of 4: between = 3·(2-4)²
    + 3·(6-4)² = 24, total = 24 + 1+0+1 + 1+0+1 = 28.

    >>> round(eta_squared([1, 2, 3, 5, 6, 7], ["a", "a", "a", "b", "b", "b"]), 4)
    0.8571
    >>> eta_squared([3.0, 3.0, 3.0], [0, 1, 1])
    nan
    """
    x = np.asarray(values, dtype=float)
    labels = pd.Series(np.asarray(groups, dtype=object)).fillna("__missing__")
    if x.ndim != 1 or len(x) != len(labels):
        raise ValueError(f"values and groups must be 1-D of equal length, got {x.shape} and {len(labels)}")
    if np.isnan(x).any():
        raise ValueError("values holds missing values: fill or drop them first")
    if len(x) == 0:
        return float("nan")
    mean = x.mean()
    total = float(np.sum((x - mean) ** 2))
    if total <= 1e-12 * max(1.0, float(np.sum(x ** 2))):
        return float("nan")
    by_group = pd.Series(x).groupby(labels.to_numpy(), sort=False).agg(["size", "mean"])
    between = float(np.sum(by_group["size"].to_numpy() * (by_group["mean"].to_numpy() - mean) ** 2))
    return float(min(max(between / total, 0.0), 1.0))


def segment_validity(outcomes: pd.DataFrame, segmentations: Mapping[str, pd.Series]) -> pd.DataFrame:
    """eta² of every outcome on every segmentation of the same customers.

    Parameters
    ----------
    outcomes : DataFrame
        One row per customer, indexed by customer id, one numeric column
        per outcome (e.g. ``spend_next_90d``, ``purchases_next_90d``).
    segmentations : mapping of str to Series
        Name -> the segment of each customer, indexed by customer id. Only
        customers with a segment and an outcome row count; customers
        without a segment (missing label) are left out.

    Returns
    -------
    DataFrame
        One row per segmentation and outcome, in the order given:
        ``segmentation, outcome, eta_squared, n_customers, n_segments``.

    Examples
    --------
    >>> outcomes = pd.DataFrame({"spend": [0.0, 10.0, 100.0, 120.0]}, index=["a", "b", "c", "d"])
    >>> segments = {"value": pd.Series([1, 1, 2, 2], index=["a", "b", "c", "d"]),
    ...             "odd": pd.Series(["x", "y", "x", "y"], index=["a", "b", "c", "d"])}
    >>> segment_validity(outcomes, segments).round(3)
      segmentation outcome  eta_squared  n_customers  n_segments
    0        value   spend        0.978            4           2
    1          odd   spend        0.020            4           2
    """
    rows = []
    for name, segments in segmentations.items():
        segments = segments.dropna()
        segments = segments[segments.index.isin(outcomes.index)]
        for outcome in outcomes.columns:
            values = outcomes[outcome].reindex(segments.index).to_numpy(dtype=float)
            rows.append({
                "segmentation": name, "outcome": outcome,
                "eta_squared": eta_squared(values, segments.to_numpy()),
                "n_customers": len(segments), "n_segments": int(segments.nunique()),
            })
    return pd.DataFrame(rows, columns=["segmentation", "outcome", "eta_squared", "n_customers", "n_segments"])
