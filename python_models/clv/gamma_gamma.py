"""Gamma-Gamma model of average repeat-transaction value (Fader, Hardie & Lee 2005).

Transaction values of a customer are ``Gamma(p, rate=nu)``; across customers
``nu ~ Gamma(q, rate=v)`` (``v`` is Fader & Hardie's gamma, lifetimes' ``v``).
The model is fitted on repeat customers only, from their number of repeat
purchases x and the mean value of those purchases (``monetary_value``, zbar).
Spend is assumed independent of the purchase process.

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", Journal of Marketing Research
42(4), 415-430; http://brucehardie.com/notes/025/ (Gamma-Gamma spend model).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, psi

from .base import ParametricModel
from .lifetime_value import discounted_lifetime_value
from .numerics import dot
from .row_merging import MergedRows, merge_identical_rows
from .validation import check_monetary, check_weights

__all__ = ["GammaGammaModel"]


class _GammaGammaLikelihood:
    """Log-density of the mean spend zbar = m of x repeat transactions, with gradient.

    ``log f(m | p, q, v, x) = lgamma(px+q) - lgamma(px) - lgamma(q) + q log v
    + (px-1) log m + px log x - (px+q) log(v + x m)``
    """

    def __init__(self, merged: MergedRows):
        ux, um = merged.values
        cx, cm = merged.codes
        w = merged.weights
        self.ux = ux
        self.log_ux = np.log(ux)
        self.Wx = np.bincount(cx, weights=w, minlength=len(ux))
        self.w = w
        self.x = ux[cx]
        self.xm = self.x * um[cm]
        log_m = np.log(um)[cm]
        self.total_weight = float(w.sum())
        self.sum_w_x_logm = dot(w * self.x, log_m)
        self.sum_w_logm = dot(w, log_m)
        self.wx = w * self.x

    def __call__(self, params, need_grad: bool = True):
        p, q, v = params
        ux, Wx = self.ux, self.Wx
        px = p * ux
        per_x = gammaln(px + q) - gammaln(px) + px * self.log_ux
        log_vxm = np.log(v + self.xm)
        ll = (dot(Wx, per_x) + self.total_weight * (q * np.log(v) - gammaln(q))
              + p * self.sum_w_x_logm - self.sum_w_logm - dot(p * self.wx + q * self.w, log_vxm))
        if not need_grad:
            return ll, None
        psi_pxq = psi(px + q)
        d_p = dot(Wx * ux, psi_pxq - psi(px) + self.log_ux) + self.sum_w_x_logm - dot(self.wx, log_vxm)
        d_q = dot(Wx, psi_pxq) + self.total_weight * (np.log(v) - psi(q)) - dot(self.w, log_vxm)
        d_v = self.total_weight * q / v - dot(p * self.wx + q * self.w, 1.0 / (v + self.xm))
        return ll, np.array([d_p, d_q, d_v])


class GammaGammaModel(ParametricModel):
    """Gamma-Gamma spend model and the discounted customer lifetime value.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the log-parameters (``v`` in units of the mean spend).
    n_starts : int, default 3
        Number of deterministic starting points.
    random_state : int, default 0
        Seed of the starting points.
    maxiter : int, default 2000
        Maximum L-BFGS-B iterations per start.

    Attributes
    ----------
    params_ : dict
        ``{"p", "q", "v"}``; ``v`` in the currency of ``monetary_value``.
    log_likelihood_ : float
        Total unpenalised log-density of the observed mean spends.
    n_customers_ : float
    n_unique_rows_ : int
        Number of distinct rows the likelihood was evaluated on.
    standard_errors_ : dict
        Asymptotic (delta-method) standard errors of ``params_``.

    Examples
    --------
    >>> m = GammaGammaModel.from_params(p=6.25, q=3.74, v=15.44)
    >>> np.round(m.expected_average_value([2, 0], [22.35, 0.0]), 2)
    array([24.66, 35.22])
    """

    param_names = ("p", "q", "v")
    model_name = "Gamma-Gamma"

    def fit(self, frequency, monetary_value, weights=None):
        """Fit on repeat customers (frequency > 0) by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of shape (n,)
            Number of repeat purchases (> 0).
        monetary_value : array-like of shape (n,)
            Mean value of the repeat purchases (> 0).
        weights : array-like of shape (n,), optional
            Number of customers each row stands for (default 1).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If any frequency is 0, any monetary value is <= 0, or inputs are malformed.
        ConvergenceError
            If the likelihood cannot be maximised (e.g. every customer has the same spend).
        """
        self._start_fit()
        x, m = check_monetary(frequency, monetary_value, for_fit=True)
        w = check_weights(weights, len(x))
        money_scale = 1.0 / (dot(w, m) / w.sum())  # fit in units of the mean spend
        merged = merge_identical_rows(x, m, weights=w).scaled(1.0, money_scale)
        lik = _GammaGammaLikelihood(merged)
        res = self._optimize(self._penalised_objective(lik, lik.total_weight))
        p, q, v_s = np.exp(res.theta)
        ll_scaled, _ = lik((p, q, v_s), need_grad=False)
        # density of the mean spend: undo the change of currency unit
        self._store_fit({"p": p, "q": q, "v": v_s / money_scale},
                        ll_scaled + lik.total_weight * np.log(money_scale), lik.total_weight, merged.n_rows)
        return self

    def log_likelihood(self, frequency, monetary_value, weights=None) -> float:
        """Total log-density of the mean spends under the current parameters."""
        x, m = check_monetary(frequency, monetary_value, for_fit=True)
        w = check_weights(weights, len(x))
        lik = _GammaGammaLikelihood(merge_identical_rows(x, m, weights=w))
        return float(lik(self._param_values(), need_grad=False)[0])

    def expected_average_value(self, frequency, monetary_value) -> np.ndarray:
        """Conditional expected mean transaction value ``E[Z | x, zbar]``.

        ``p (v + x zbar) / (p x + q - 1)``: a weighted average of the population
        mean ``p v / (q - 1)`` and the customer's own mean ``zbar``.  For x = 0 the
        population mean is returned (``monetary_value`` is ignored); it is
        infinite when ``q <= 1``.

        Examples
        --------
        >>> m = GammaGammaModel.from_params(p=6.25, q=3.74, v=15.44)
        >>> round(m.expected_average_value(1, 11.77).item(), 2)
        18.92
        """
        p, q, v = self._param_values()
        x, m = check_monetary(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        denom = p * x + q - 1.0
        with np.errstate(divide="ignore"):
            return np.asarray(np.where(denom > 0, p * (v + x * m) / np.where(denom > 0, denom, 1.0), np.inf))

    def customer_lifetime_value(self, transaction_model, frequency, recency, T, monetary_value,
                                time_months: int = 12, discount_rate: float = 0.01,
                                time_unit_days: float = 1.0, days_per_month: float = 30.4375) -> np.ndarray:
        """Discounted expected value of each customer's purchases over the next months.

        ``CLV = sum_{k=1..time_months} E[value] * (E[Y(k M)] - E[Y((k-1) M)]) / (1 + discount_rate)^k``

        where ``E[Y(t)]`` is ``transaction_model.expected_purchases(t, frequency, recency, T)``,
        ``E[value]`` is :meth:`expected_average_value` and ``M = days_per_month / time_unit_days``
        is one month in the transaction model's time unit.  Cash flows of month k
        are discounted at the end of the month (as in lifetimes).

        Parameters
        ----------
        transaction_model : BetaGeoModel or ParetoNBDModel
            A fitted model with ``expected_purchases(t, frequency, recency, T)``.
        frequency, recency, T : array-like
            Purchase history, in the time unit the transaction model was fitted in.
        monetary_value : array-like
            Mean repeat-transaction value (ignored where frequency is 0).
        time_months : int, default 12
            Horizon in months.
        discount_rate : float, default 0.01
            Discount rate *per month* (0.01 per month is about 12.7 % per year).
        time_unit_days : float, default 1.0
            Length of the transaction model's time unit in days: 1 if frequency,
            recency and T are in days, 7 if in weeks.
        days_per_month : float, default 30.4375
            Days in a month (365.25 / 12).  lifetimes uses 30 for ``freq="D"`` and
            4.345 weeks (30.415 days) for ``freq="W"``; pass those to reproduce it.

        Returns
        -------
        ndarray
            CLV per customer, in the currency of ``monetary_value``.

        Examples
        --------
        >>> from python_models.clv import BetaGeoModel
        >>> bg = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> gg = GammaGammaModel.from_params(p=6.25, q=3.74, v=15.44)
        >>> clv = gg.customer_lifetime_value(bg, [2, 0], [30.43, 0], [38.86, 38.86], [22.35, 0],
        ...                                  time_months=12, time_unit_days=7)
        >>> clv.round(2)
        array([36.31,  8.37])
        """
        value = self.expected_average_value(frequency, monetary_value)
        return discounted_lifetime_value(transaction_model, frequency, recency, T, value,
                                         time_months=time_months, discount_rate=discount_rate,
                                         time_unit_days=time_unit_days, days_per_month=days_per_month)
