"""Scoring customers with the CLV models, and readable value tiers over the scores for analysts and BI filters.

Churn risk is not set here: BG/NBD's P(alive) can say the same for every customer (on UCI Online Retail it
estimates almost no dropout), so `customer_clv.churn_risk` comes from the purchase score that wins the temporal
holdout, calibrated there (python_models.propensity.churn_risk, python_models.clv.churn).
"""

import numpy as np
import pandas as pd

from .beta_geo import BetaGeoModel
from .exceptions import InsufficientDataError
from .fallback import finite_mean_spend, fit_with_fallback
from .gamma_gamma import GammaGammaModel
from .lifetime_value import discounted_lifetime_value

# Horizons of the expected-purchase columns, in days.
PURCHASE_HORIZONS_DAYS = (30, 90, 365)
# Share of customers in each value tier, from the most valuable down.
VALUE_TIERS = ((0.10, "top 10%"), (0.30, "next 20%"), (0.60, "middle 30%"), (1.00, "bottom 40%"))


def value_tier(clv, customer_ids) -> np.ndarray:
    """Tier by rank of CLV (ties broken by customer id, so the split never depends on row order).

    Examples
    --------
    >>> value_tier([5.0, 1.0, 3.0, 2.0, 4.0, 0.0, 0.5, 0.2, 0.1, 9.0], list("abcdefghij")).tolist()[:3]
    ['next 20%', 'middle 30%', 'middle 30%']
    """
    clv = np.asarray(clv, dtype=float)
    order = np.lexsort((np.asarray(customer_ids), -clv))
    rank_share = np.empty(len(clv))
    rank_share[order] = (np.arange(len(clv)) + 1) / max(len(clv), 1)
    bounds = np.array([bound for bound, _ in VALUE_TIERS])
    names = np.array([name for _, name in VALUE_TIERS], dtype=object)
    return names[np.minimum(np.searchsorted(bounds, rank_share - 1e-12, side="left"), len(bounds) - 1)]


def at_least_one_day(T, period_days: float) -> np.ndarray:
    """Customers first seen on the snapshot day have T = 0, which the models cannot score: count them one day old."""
    return np.maximum(np.asarray(T, dtype=float), 1.0 / period_days)


def score_customers(summary: pd.DataFrame, horizon_months: int = 12, monthly_discount_rate: float = 0.01):
    """Fit BG/NBD and Gamma-Gamma on a BTYD summary and score every customer.

    `summary` has `customer_id, frequency, recency, T, monetary_value, period_days` (customer_clv_summary).
    Customers first seen on the snapshot day (T = 0) count as one day old, which the models need. Repeat
    purchases that were all free (monetary_value 0) carry no spend information: those customers get the
    population's expected spend, like customers without repeat purchases.

    Raises InsufficientDataError, naming the model, when the summary cannot identify one of them: no customer, no
    repeat purchase (BG/NBD), or no paid repeat purchase (Gamma-Gamma); ConvergenceError when a fit fails.

    Returns
    -------
    scores : DataFrame
        One row per customer: `p_alive`, `expected_purchases_{30,90,365}d`, `expected_order_value`,
        `clv_<horizon>m`, `value_tier`.
    params : DataFrame
        One row per fitted parameter: `model, parameter, value, log_likelihood, penalizer, customers`.

    Examples
    --------
    >>> summary = pd.DataFrame({"customer_id": list("abcdef"), "frequency": [0, 1, 3, 2, 5, 0],
    ...     "recency": [0, 2.0, 9.0, 5.0, 20.0, 0.0], "T": [10, 12.0, 20.0, 30.0, 25.0, 0.0],
    ...     "monetary_value": [0, 20.0, 35.0, 0.0, 50.0, 0.0], "period_days": 7})
    >>> scores, params = score_customers(summary)
    >>> list(scores.columns)[:3], len(scores)
    (['customer_id', 'p_alive', 'expected_purchases_30d'], 6)
    >>> score_customers(summary.assign(frequency=0, recency=0.0))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    python_models.clv.exceptions.InsufficientDataError: BG/NBD: no customer made a repeat purchase
    """
    if summary.empty:
        raise InsufficientDataError("BG/NBD and Gamma-Gamma: no customer to fit on")
    period_days = int(summary["period_days"].iloc[0])
    f, r, t, m = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value"))
    t = at_least_one_day(t, period_days)
    if not (f > 0).any():
        raise InsufficientDataError("BG/NBD: no customer made a repeat purchase, so nothing tells staying from "
                                    "leaving (the likelihood has no maximum)")
    purchases = fit_with_fallback(BetaGeoModel, f, r, t)
    paid = (f > 0) & (m > 0)
    if not paid.any():
        raise InsufficientDataError("Gamma-Gamma: no repeat purchase with a positive amount to learn spend from")
    spend = fit_with_fallback(GammaGammaModel, f[paid], m[paid], acceptable=finite_mean_spend)
    p_alive = purchases.probability_alive(f, r, t)
    order_value = spend.expected_average_value(np.where(paid, f, 0.0), np.where(paid, m, 0.0))
    clv = discounted_lifetime_value(purchases, f, r, t, order_value, time_months=horizon_months,
                                    discount_rate=monthly_discount_rate, time_unit_days=period_days)
    scores = pd.DataFrame({
        "customer_id": summary["customer_id"].to_numpy(),
        "p_alive": p_alive,
        **{f"expected_purchases_{days}d": purchases.expected_purchases(days / period_days, f, r, t)
           for days in PURCHASE_HORIZONS_DAYS},
        "expected_order_value": order_value,
        f"clv_{horizon_months}m": clv,
        "value_tier": value_tier(clv, summary["customer_id"].to_numpy()),
    })
    params = pd.DataFrame(
        [{"model": name, "parameter": key, "value": value, "log_likelihood": model.log_likelihood_,
          "penalizer": model.penalizer, "customers": model.n_customers_}
         for name, model in (("bg_nbd", purchases), ("gamma_gamma", spend))
         for key, value in model.params_.items()]
    )
    return scores, params


def unscored_customers(customer_ids, horizon_months: int = 12) -> pd.DataFrame:
    """The columns of score_customers' `scores` for customers the models could not score: every score missing.

    Examples
    --------
    >>> unscored = unscored_customers(["a", "b"])
    >>> list(unscored.columns[-3:]), int(unscored.drop(columns="customer_id").notna().sum().sum())
    (['expected_order_value', 'clv_12m', 'value_tier'], 0)
    """
    n = len(customer_ids)
    return pd.DataFrame({
        "customer_id": np.asarray(customer_ids),
        "p_alive": np.full(n, np.nan),
        **{f"expected_purchases_{days}d": np.full(n, np.nan) for days in PURCHASE_HORIZONS_DAYS},
        "expected_order_value": np.full(n, np.nan),
        f"clv_{horizon_months}m": np.full(n, np.nan),
        "value_tier": pd.Series([None] * n, dtype="string"),
    })
