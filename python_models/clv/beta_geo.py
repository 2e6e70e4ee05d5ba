"""BG/NBD purchase-count model (Fader, Hardie & Lee 2005).

Each customer buys at Poisson rate ``lambda ~ Gamma(r, rate=alpha)`` while
alive and, after every repeat purchase, drops out for good with probability
``p ~ Beta(a, b)``.  Inputs per customer, all in one time unit of your choice
(days, weeks, ...):

* ``frequency`` x: number of repeat purchases (purchases after the first),
* ``recency`` t_x: time from the first to the last purchase (0 if x = 0),
* ``T``: time from the first purchase to the end of the observation window.

``alpha`` is in the same time unit; ``r, a, b`` are unit-free.

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "Counting Your Customers
the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2),
275-284; http://brucehardie.com/notes/004/ (likelihood),
http://brucehardie.com/notes/021/ (P(alive)).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, betaln, expit, gammaln, hyp2f1, psi, xlogy

from .base import ParametricModel
from .exceptions import InsufficientDataError
from .numerics import dot
from .row_merging import MergedRows, merge_identical_rows
from .validation import as_float_array, check_rfm, check_weights

__all__ = ["BetaGeoModel"]

#: Internal time rescaling: the oldest customer gets T = TIME_SCALE_TARGET.
TIME_SCALE_TARGET = 10.0
#: Clip of the log-ratio of the two likelihood branches (see _BetaGeoLikelihood).
DIFF_CLIP = 60.0
#: Scoring evaluates the expensive terms once per distinct input (see
#: ``expected_purchases``) from this many rows on; below, merging costs more
#: than it saves.  The results are the same either way (tested).  P(alive) is a
#: few flops per row and is not merged: on a million rows it takes ~25 ms, less
#: than merging them would.
MERGE_MIN_ROWS = 10_000


class _BetaGeoLikelihood:
    """Vectorised BG/NBD log-likelihood and analytic gradient on merged rows.

    Per customer (FHL 2005, eq. 6, in log space):
    ``LL = A1 + A2 + log(exp(A3) + [x > 0] exp(A4))`` with
    ``A1 = lgamma(r+x) - lgamma(r) + r log(alpha)``,
    ``A2 = log B(a, b+x) - log B(a, b)``, ``A3 = -(r+x) log(alpha+T)``,
    ``A4 = log(a) - log(b+x-1) - (r+x) log(alpha+t_x)``.
    Terms depending on x alone are computed once per distinct x, terms in
    ``alpha + T`` / ``alpha + t_x`` once per distinct T / t_x; customers with
    x = 0 only need ``log(alpha+T)`` and are aggregated by T.
    """

    def __init__(self, merged: MergedRows):
        ux, ut, uT = merged.values
        cx, ct, cT = merged.codes
        w = merged.weights
        self.ux, self.ut, self.uT = ux, ut, uT
        self.total_weight = float(w.sum())
        self.Wx = np.bincount(cx, weights=w, minlength=len(ux))
        repeat = ux[cx] > 0
        self.W0T = np.bincount(cT[~repeat], weights=w[~repeat], minlength=len(uT))
        self.cx, self.ct, self.cT, self.w = cx[repeat], ct[repeat], cT[repeat], w[repeat]
        self.x = ux[self.cx]
        self.sum_wx = dot(self.Wx, ux)

    def __call__(self, params, need_grad: bool = True):
        r, alpha, a, b = params
        ux, Wx, W0T = self.ux, self.Wx, self.W0T
        lT = np.log(alpha + self.uT)
        lt = np.log(alpha + self.ut)
        per_x = (gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
                 + gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux))
        ll = dot(Wx, per_x) - r * dot(W0T, lT)
        inv_b = 1.0 / (b + np.maximum(ux, 1.0) - 1.0)
        rx = r + self.x
        lT_r = lT[self.cT]
        lt_r = lt[self.ct]
        A3 = -rx * lT_r
        A4 = np.log(a) + np.log(inv_b)[self.cx] - rx * lt_r
        # log(exp(A3) + exp(A4)) = max(A3, A4) + log1p(exp(-|d|)), d = A4 - A3.  |d| is
        # capped at DIFF_CLIP inside exp/expit so that they never produce subnormal
        # floats (which make numpy's arithmetic ~50x slower); the cap changes each
        # term by < exp(-60) ~ 1e-26.
        d = A4 - A3
        d_capped = np.clip(d, -DIFF_CLIP, DIFF_CLIP)
        ll += dot(self.w, np.maximum(A3, A4) + np.log1p(np.exp(-np.abs(d_capped))))
        if not need_grad:
            return ll, None
        q = expit(d_capped)  # posterior weight of the "dropped out after t_x" branch
        wq = self.w * q
        w1q = self.w - wq
        iT = 1.0 / (alpha + self.uT)
        it = 1.0 / (alpha + self.ut)
        psi_ab = psi(a + b)
        psi_abx = psi(a + b + ux)
        d_r = dot(Wx, psi(r + ux) - psi(r) + np.log(alpha)) - dot(W0T, lT) - dot(w1q, lT_r) - dot(wq, lt_r)
        d_alpha = (self.total_weight * r / alpha - r * dot(W0T, iT)
                   - dot(rx * w1q, iT[self.cT]) - dot(rx * wq, it[self.ct]))
        d_a = dot(Wx, psi_ab - psi_abx) + wq.sum() / a
        d_b = dot(Wx, psi_ab + psi(b + ux) - psi(b) - psi_abx) - dot(wq, inv_b[self.cx])
        return ll, np.array([d_r, d_alpha, d_a, d_b])


class BetaGeoModel(ParametricModel):
    """BG/NBD model of repeat-purchase counts, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the log-parameters (see :class:`ParametricModel`).
    n_starts : int, default 3
        Number of deterministic starting points.
    random_state : int, default 0
        Seed of the starting points.
    maxiter : int, default 2000
        Maximum L-BFGS-B iterations per start.

    Attributes
    ----------
    params_ : dict
        ``{"r", "alpha", "a", "b"}``; ``alpha`` in the time unit of the data.
    log_likelihood_ : float
        Total unpenalised log-likelihood of the fitted data (density in the
        data's time unit; -9582.43 on the CDNOW sample in weeks).
    n_customers_ : float
        Total weight (number of customers) in the fit.
    n_unique_rows_ : int
        Number of distinct (frequency, recency, T) rows the likelihood was evaluated on.
    standard_errors_ : dict
        Asymptotic (delta-method) standard errors of ``params_``.

    Examples
    --------
    >>> import numpy as np
    >>> from python_models.clv import simulate_beta_geo
    >>> sim = simulate_beta_geo(np.full(5000, 52.0), r=0.25, alpha=4.0, a=0.8, b=2.5, random_state=0)
    >>> m = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    >>> {k: round(v, 2) for k, v in m.params_.items()}
    {'r': 0.26, 'alpha': 4.27, 'a': 0.8, 'b': 2.37}
    >>> m.probability_alive(0, 0, 40).item()
    1.0

    Six customers do not identify four parameters; the fit refuses, and a
    penalizer makes it well posed:

    >>> x, t_x, T = [0, 1, 2, 0, 5, 3], [0, 10., 20., 0, 30., 12.], [40., 40., 40., 35., 38., 40.]
    >>> BetaGeoModel().fit(x, t_x, T)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    python_models.clv.exceptions.ConvergenceError: ... is flat ...
    >>> round(BetaGeoModel(penalizer=0.1).fit(x, t_x, T).params_["r"], 3)
    0.687
    """

    param_names = ("r", "alpha", "a", "b")
    model_name = "BG/NBD"

    def fit(self, frequency, recency, T, weights=None):
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like of shape (n,)
            Repeat-purchase count, time of last purchase and customer age
            (time since first purchase), in one time unit.
        weights : array-like of shape (n,), optional
            Number of customers each row stands for (default 1).  Identical rows
            are merged internally anyway, so pre-aggregating is optional.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On invalid inputs (negative or fractional frequency, recency > T, ...).
        ConvergenceError
            If the likelihood cannot be maximised; InsufficientDataError (a ConvergenceError) when no customer
            ever repeats, which no penalty can mend.
        """
        self._start_fit()
        x, t_x, age = check_rfm(frequency, recency, T, for_fit=True)
        w = check_weights(weights, len(x))
        if not np.any((x > 0) & (w > 0)):
            raise InsufficientDataError(
                f"{self.model_name} fit failed: no customer made a repeat purchase (all frequency == 0), "
                "so the likelihood has no maximum (it grows as r -> 0)"
            )
        scale = TIME_SCALE_TARGET / age.max()
        # merge before rescaling: whole-day columns stay on the fast path (same rows either way)
        merged = merge_identical_rows(x, t_x, age, weights=w).scaled(1.0, scale, scale)
        lik = _BetaGeoLikelihood(merged)
        res = self._optimize(self._penalised_objective(lik, lik.total_weight))
        r, alpha_s, a, b = np.exp(res.theta)
        ll_scaled, _ = lik((r, alpha_s, a, b), need_grad=False)
        # the t_x part of the likelihood is a density in time: undo the rescaling
        self._store_fit({"r": r, "alpha": alpha_s / scale, "a": a, "b": b},
                        ll_scaled + lik.sum_wx * np.log(scale), lik.total_weight, merged.n_rows)
        return self

    def log_likelihood(self, frequency, recency, T, weights=None) -> float:
        """Total log-likelihood of data under the current parameters.

        Examples
        --------
        >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(m.log_likelihood([0, 2], [0, 30.43], [38.86, 38.86]), 3)
        -10.013
        """
        x, t_x, age = check_rfm(frequency, recency, T, for_fit=True)
        w = check_weights(weights, len(x))
        lik = _BetaGeoLikelihood(merge_identical_rows(x, t_x, age, weights=w))
        return float(lik(self._param_values(), need_grad=False)[0])

    # ----------------------------------------------------------- predictions
    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive | x, t_x, T) (Fader, Hardie & Lee 2008, note 021).

        Equals 1 for customers without repeat purchases (in BG/NBD dropout can
        only happen right after a repeat purchase).

        Examples
        --------
        >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> np.round(m.probability_alive([0, 2], [0, 30.43], [38.86, 38.86]), 4)
        array([1.    , 0.7266])
        """
        r, alpha, a, b = self._param_values()
        x, t_x, age = check_rfm(frequency, recency, T)
        return np.asarray(self._p_alive(x, t_x, age, r, alpha, a, b))

    @staticmethod
    def _p_alive(x, t_x, age, r, alpha, a, b):
        log_odds_dead = ((r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
                         + np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0))
        return np.where(x > 0, expit(-log_odds_dead), 1.0)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Conditional expected number of repeat purchases in the next ``t`` time units.

        ``E[Y(t) | x, t_x, T]`` (FHL 2005, eq. 10), in the data's time unit.

        Examples
        --------
        >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(m.expected_purchases(39, 2, 30.43, 38.86).item(), 3)
        1.226
        """
        r, alpha, a, b = self._param_values()
        t = as_float_array(t, "t")
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        x, t_x, age = check_rfm(frequency, recency, T)
        if t.ndim == 0 and x.ndim == 1:
            p_alive, (curve,), index = self._expected_purchases_factors((float(t),), x, t_x, age)
            return np.asarray((curve if index is None else curve[index]) * p_alive)
        t, x, t_x, age = np.broadcast_arrays(t, x, t_x, age)
        out = self._purchase_curve(t, x, age, r, alpha, a, b) * self._p_alive(x, t_x, age, r, alpha, a, b)
        return np.asarray(out)

    def _expected_purchases_factors(self, horizons, x, t_x, age):
        """``E[Y(t)]`` for several horizons on 1-D rows, factorised.

        Returns ``(p_alive, curves, index)`` with
        ``E[Y(horizons[k])] = curves[k][index] * p_alive`` (``index`` is None when
        ``curves[k]`` is already per row).  ``E[Y(t)] = curve(t; x, T) * P(alive | x, t_x, T)``:
        the curve, which needs a hypergeometric function, depends on (x, T) only,
        so from MERGE_MIN_ROWS rows on it is evaluated once per distinct (x, T)
        pair (~70x fewer on a million customers in whole days) and gathered back;
        the cheap P(alive) stays per row.  Identical, bit for bit, to evaluating
        every row.
        """
        r, alpha, a, b = self._param_values()
        p_alive = self._p_alive(x, t_x, age, r, alpha, a, b)
        index = None
        if x.shape[0] >= MERGE_MIN_ROWS:
            pairs = merge_identical_rows(x, age)
            x, age, index = pairs.column(0), pairs.column(1), pairs.inverse
        curves = [self._purchase_curve(np.float64(t), x, age, r, alpha, a, b) for t in horizons]
        return p_alive, curves, index

    @staticmethod
    def _purchase_curve(t, x, age, r, alpha, a, b):
        """``E[Y(t) | x, t_x, T] / P(alive | x, t_x, T)``: depends on (x, T) only (FHL 2005, eq. 10)."""
        hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1.0
        z = t / (alpha + age + t)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            log_hyp = np.log(hyp2f1(hyp_a, hyp_b, hyp_c, z))
            bad = ~np.isfinite(log_hyp)
            if np.any(bad):  # Euler transformation, as in lifetimes
                alt = (np.log(hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z))
                       + (hyp_c - hyp_a - hyp_b) * np.log1p(-z))
                log_hyp = np.where(bad, alt, log_hyp)
        inner = -np.expm1(log_hyp + (r + x) * np.log1p(-z))
        return np.where(t == 0, 0.0, (a + b + x - 1.0) / (a - 1.0) * inner)

    def expected_purchases_unconditional(self, t) -> np.ndarray:
        """Expected repeat purchases ``E[X(t)]`` of a new customer in ``t`` time units (FHL eq. 9).

        Examples
        --------
        >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> np.round(m.expected_purchases_unconditional([1, 78]), 4)
        array([0.0533, 1.8605])
        """
        r, alpha, a, b = self._param_values()
        t = as_float_array(t, "t")
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        hyp = hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
        out = (a + b - 1.0) / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)) ** r)
        return np.asarray(np.where(t == 0, 0.0, out))

    def probability_n_purchases(self, t, n) -> np.ndarray:
        """P(X(t) = n): probability that a new customer makes n repeat purchases in (0, t] (FHL eq. 8).

        The finite sum of the paper is evaluated as a regularised incomplete
        beta function (negative-binomial tail), so large ``n`` are cheap and
        accurate; ``t`` and ``n`` broadcast.

        Examples
        --------
        >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        >>> round(m.probability_n_purchases(39, 0).item(), 4)
        0.5738
        """
        r, alpha, a, b = self._param_values()
        t = as_float_array(t, "t")
        n = as_float_array(n, "n")
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        if np.any(n < 0) or np.any(n != np.floor(n)):
            raise ValueError("n must be a non-negative whole number")
        t, n = np.broadcast_arrays(t, n)
        if t.size >= MERGE_MIN_ROWS:  # evaluate once per distinct (t, n) pair, identical results
            pairs = merge_identical_rows(t.ravel(), n.ravel())
            per_pair = self._probability_n_purchases(pairs.column(0), pairs.column(1), r, alpha, a, b)
            return np.asarray(per_pair[pairs.inverse].reshape(t.shape))
        return np.asarray(self._probability_n_purchases(t, n, r, alpha, a, b))

    @staticmethod
    def _probability_n_purchases(t, n, r, alpha, a, b):
        p_buy = t / (alpha + t)
        log_first = (betaln(a, b + n) - betaln(a, b) + gammaln(r + n) - gammaln(r) - gammaln(n + 1.0)
                     + r * (np.log(alpha) - np.log(alpha + t)) + xlogy(n, p_buy))
        n_pos = np.maximum(n, 1.0)
        # 1 - (alpha/(alpha+t))^r * sum_{j<n} NB(j) = P(NB >= n) = I_{t/(alpha+t)}(n, r)
        second = np.exp(betaln(a + 1.0, b + n_pos - 1.0) - betaln(a, b)) * betainc(n_pos, r, p_buy)
        return np.exp(log_first) + np.where(n > 0, second, 0.0)
