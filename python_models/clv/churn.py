"""Churn risk levels from a purchase score, calibrated on a temporal holdout.

A purchase score (higher = likelier to buy in the horizon) only ranks customers. On the holdout, where the outcome
is known, an isotonic regression maps the score to the share of customers who did buy (fitted on bins of at least
50 customers, so no rate rests on a handful); one minus that is the churn probability, P(no purchase in the
horizon). The levels are cut on the holdout's churn probabilities:

- ``high``: churn probability at or above ``high_from``, the value at or above which the share of holdout customers
  comes closest to ``high_share`` (a quarter by default);
- ``low``: churn probability at or below ``low_to``, likewise for ``low_share`` (below ``high_from``);
- ``medium``: in between.

Customers with the same calibrated probability are alike on the holdout's evidence, so they always share a level
and the shares are only as close to the targets as the ties allow. The same cut points then apply to today's
customers, so a level means the same on both dates and its holdout purchase rate says what it means.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

LEVELS = ("high", "medium", "low")


def score_bins(score, min_bin_size: int = 50, max_bins: int = 20) -> np.ndarray:
    """Bin number (0 = lowest scores) per customer: consecutive scores, ties never split, every bin at least
    ``max(min_bin_size, len / max_bins)`` customers (a short last bin joins the one before; fewer customers than
    that make one bin).

    Examples
    --------
    >>> score_bins([5, 1, 2, 2, 2, 3, 4, 6, 7], min_bin_size=3).tolist()
    [1, 0, 0, 0, 0, 1, 1, 1, 1]
    """
    score = np.asarray(score, dtype=float)
    values, counts = np.unique(score, return_counts=True)
    size = max(min_bin_size, int(np.ceil(len(score) / max_bins)))
    bin_of_value = np.empty(len(values), dtype=int)
    current, filled = 0, 0
    for i, count in enumerate(counts):
        bin_of_value[i] = current
        filled += count
        if filled >= size:
            current, filled = current + 1, 0
    if 0 < filled and current > 0:
        bin_of_value[bin_of_value == current] = current - 1
    return bin_of_value[np.searchsorted(values, score)]


def calibrate_purchase_score(score, purchased, min_bin_size: int = 50, max_bins: int = 20) -> IsotonicRegression:
    """Isotonic (non-decreasing) map from a purchase score to the observed purchase rate on the holdout.

    The customers are first grouped into score_bins, and the isotonic regression is fitted on each bin's mean
    score and purchase rate, weighted by its size: no calibrated rate rests on fewer than ``min_bin_size``
    customers (a plain isotonic fit gives the few most extreme scores a rate of 0 or 1). Scores between bin means
    are interpolated; scores beyond the outer bins' means take their rate (``out_of_bounds="clip"``).

    Examples
    --------
    >>> calibrator = calibrate_purchase_score([1, 2, 3, 4], [0, 1, 0, 1], min_bin_size=1)
    >>> calibrator.predict([1, 2, 3, 4, 9]).tolist()
    [0.0, 0.5, 0.5, 1.0, 1.0]
    >>> calibrate_purchase_score([1, 2, 3, 4], [0, 1, 0, 1], min_bin_size=2).predict([1, 2, 3, 4]).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    score = np.asarray(score, dtype=float)
    bins = pd.DataFrame({"bin": score_bins(score, min_bin_size, max_bins), "score": score,
                         "purchased": np.asarray(purchased, dtype=float)}).groupby("bin")
    means = bins.mean()
    return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(
        means["score"].to_numpy(), means["purchased"].to_numpy(), sample_weight=bins.size().to_numpy(float))


@dataclass(frozen=True)
class RiskThresholds:
    """Cut points on the churn probability: ``high`` from ``high_from`` up, ``low`` up to ``low_to``.

    None when the holdout has a single churn probability: nobody can be told apart, and everyone is ``medium``.
    """

    low_to: float | None
    high_from: float | None

    def level(self, churn_probability) -> np.ndarray:
        """``high``, ``medium`` or ``low`` per customer; None where the probability is missing.

        Examples
        --------
        >>> RiskThresholds(low_to=0.2, high_from=0.7).level([0.1, 0.2, 0.5, 0.7, 0.9, np.nan]).tolist()
        ['low', 'low', 'medium', 'high', 'high', None]
        """
        p = np.asarray(churn_probability, dtype=float)
        levels = np.full(p.shape, "medium", dtype=object)
        if self.high_from is not None:
            levels[p >= self.high_from] = "high"
            levels[p <= self.low_to] = "low"
        levels[np.isnan(p)] = None
        return levels


def risk_thresholds(churn_probability, high_share: float = 0.25, low_share: float = 0.25) -> RiskThresholds:
    """The cut points on the holdout's churn probabilities (rule in the module docstring).

    ``high_from`` is never the smallest value and ``low_to`` is always below ``high_from``, so two distinct
    values already give two levels; a single value gives none (everyone ``medium``).

    Examples
    --------
    >>> risk_thresholds([0.9, 0.9, 0.6, 0.5, 0.5, 0.3, 0.1, 0.1])
    RiskThresholds(low_to=0.1, high_from=0.9)
    >>> risk_thresholds([0.4, 0.4, 0.4])
    RiskThresholds(low_to=None, high_from=None)
    """
    p = np.sort(np.asarray(churn_probability, dtype=float))
    p = p[~np.isnan(p)]
    values = np.unique(p)
    if len(values) < 2:
        return RiskThresholds(None, None)
    at_or_above = 1.0 - np.searchsorted(p, values, side="left") / len(p)
    at_or_below = np.searchsorted(p, values, side="right") / len(p)
    # argmin takes the first of equal distances: deterministic
    high = 1 + int(np.argmin(np.abs(at_or_above[1:] - high_share)))
    low = int(np.argmin(np.abs(at_or_below[:high] - low_share)))
    return RiskThresholds(low_to=float(values[low]), high_from=float(values[high]))
