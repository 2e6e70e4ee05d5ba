"""The tests behind experiment_results: conversion, revenue per customer, and sample-ratio mismatch (scipy)."""

from typing import NamedTuple

import numpy as np
from scipy import stats

SRM_ALPHA = 0.001  # a sample-ratio mismatch is flagged below this p-value


class Comparison(NamedTuple):
    """A treatment against control: the difference of means, its 95% CI and the two-sided p-value."""

    lift: float
    ci_low: float
    ci_high: float
    p_value: float


def conversion_test(conversions: int, customers: int, control_conversions: int, control_customers: int,
                    confidence: float = 0.95) -> Comparison:
    """Two-proportion z-test of a treatment's conversion rate against control.

    The p-value is scipy's chi-square test of the 2 x 2 table without continuity correction, which is the pooled
    two-proportion z-test (chi² = z²); the interval is the unpooled (Wald) interval of the difference.

    Examples
    --------
    >>> r = conversion_test(120, 1000, 100, 1000)
    >>> round(r.lift, 3), round(r.p_value, 3), round(r.ci_low, 3), round(r.ci_high, 3)
    (0.02, 0.153, -0.007, 0.047)
    """
    if min(customers, control_customers) < 1:
        return Comparison(np.nan, np.nan, np.nan, np.nan)
    rate, control_rate = conversions / customers, control_conversions / control_customers
    lift = rate - control_rate
    table = np.array([[conversions, customers - conversions],
                      [control_conversions, control_customers - control_conversions]])
    if (table.sum(axis=0) == 0).any():  # nobody or everybody converted: no evidence either way
        p_value = 1.0
    else:
        p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
    se = np.sqrt(rate * (1 - rate) / customers + control_rate * (1 - control_rate) / control_customers)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return Comparison(float(lift), float(lift - z * se), float(lift + z * se), p_value)


def revenue_test(revenue, control_revenue, confidence: float = 0.95, axis: int = -1) -> Comparison:
    """Welch's t-test of revenue per customer (customers without a conversion count 0) against control.

    Works along ``axis`` of 2-D arrays too (one test per row), returning arrays.

    Examples
    --------
    >>> r = revenue_test([0, 10, 20, 30], [0, 0, 10, 10])
    >>> round(r.lift, 2), round(r.p_value, 3)
    (10.0, 0.228)
    """
    revenue, control_revenue = np.asarray(revenue, float), np.asarray(control_revenue, float)
    if min(revenue.shape[axis], control_revenue.shape[axis]) < 2:
        return Comparison(np.nan, np.nan, np.nan, np.nan)
    result = stats.ttest_ind(revenue, control_revenue, equal_var=False, axis=axis)
    interval = result.confidence_interval(confidence)
    lift = revenue.mean(axis=axis) - control_revenue.mean(axis=axis)
    p_value = np.where(np.isnan(result.pvalue), 1.0, result.pvalue)  # both constant: no difference to test
    if np.ndim(lift) == 0:
        return Comparison(float(lift), float(interval.low), float(interval.high), float(p_value))
    return Comparison(lift, interval.low, interval.high, p_value)


def srm_test(counts, shares) -> tuple[float, float, bool]:
    """Sample-ratio mismatch: chi-square of the arms' counts against the declared shares.

    Returns chi², the p-value and whether it is flagged (p < 0.001).

    Examples
    --------
    >>> chi2, p, flagged = srm_test([52_000, 48_000], [0.5, 0.5])
    >>> round(chi2), flagged
    (160, True)
    >>> srm_test([50_100, 49_900], [0.5, 0.5])[2]
    False
    """
    counts, shares = np.asarray(counts, float), np.asarray(shares, float)
    if counts.sum() == 0 or (shares > 0).sum() < 2:
        return np.nan, np.nan, False
    keep = shares > 0
    result = stats.chisquare(counts[keep], counts.sum() * shares[keep] / shares[keep].sum())
    return float(result.statistic), float(result.pvalue), bool(result.pvalue < SRM_ALPHA)
