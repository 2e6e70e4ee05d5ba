"""Pareto/NBD purchase-count model (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys at Poisson rate ``lambda ~ Gamma(r, rate=alpha)``;
the unobserved lifetime is exponential with rate ``mu ~ Gamma(s, rate=beta)``.
Inputs are the same (frequency, recency, T) summary as for the BG/NBD model;
``alpha`` and ``beta`` are in the data's time unit.

The likelihood follows Fader & Hardie (2005), "A Note on Deriving the
Pareto/NBD Model and Related Expressions" (http://brucehardie.com/notes/009/):

``L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [ (alpha+T)^-(r+x) (beta+T)^-s
      + s/(r+s+x) * A0 ]``

where ``A0 = F(t_x) - F(T)``, ``F(y) = 2F1(r+s+x, b'; r+s+x+1; |alpha-beta|/(m+y)) / (m+y)^(r+s+x)``,
``m = max(alpha, beta)`` and ``b' = s+1`` if ``alpha >= beta`` else ``r+x``.
The difference is taken in log space with ``log(-expm1(.))`` to avoid
cancellation when ``t_x`` is close to ``T``.

The fit does not use this form: scipy has no derivatives of 2F1 with respect to
its parameters.  It integrates the same likelihood as
``L = Gamma(r+x)/Gamma(r) alpha^r beta^s [E + s I]`` with
``E = (alpha+T)^-(r+x) (beta+T)^-s`` and
``I = int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau`` (``I = A0/(r+s+x)``),
evaluating ``I`` by Gauss-Legendre quadrature in ``log(min(alpha, beta) + tau)``
(see :func:`_died_integral`), and differentiates under the integral sign for
an analytic gradient taken on the same nodes (hand-written rather than torch
autograd: four weighted means of the nodes, no torch dependency in the fit).
The quadrature agrees with the 2F1 form to ~1e-11 in ``log I`` where the 2F1
difference does not cancel, and is the more accurate one where it does
(``t_x`` close to ``T``).  Predictions (P(alive), expectations) keep the 2F1 form.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1, psi

from .base import ParametricModel
from .exceptions import InsufficientDataError
from .numerics import dot
from .row_merging import MergedRows, merge_identical_rows
from .validation import as_float_array, check_rfm, check_weights

__all__ = ["ParetoNBDModel"]

TIME_SCALE_TARGET = 10.0


def _log_F(r, alpha, s, beta, x, y):
    """log F(y) = log 2F1(r+s+x, b'; r+s+x+1; |alpha-beta|/(m+y)) - (r+s+x) log(m+y)."""
    if alpha >= beta:
        big, b_prime = alpha, s + 1.0
    else:
        big, b_prime = beta, r + x
    rsx = r + s + x
    return np.log(hyp2f1(rsx, b_prime, rsx + 1.0, abs(alpha - beta) / (big + y))) - rsx * np.log(big + y)


def _log_difference(log_f_tx, log_f_T):
    """log(exp(log_f_tx) - exp(log_f_T)) without cancellation; -inf where they are equal."""
    with np.errstate(divide="ignore"):
        return log_f_tx + np.log(-np.expm1(log_f_T - log_f_tx))


def _log_A0(r, alpha, s, beta, x, t_x, age):
    """log of A0 = F(t_x) - F(T) (see module docstring); -inf where t_x == T."""
    return _log_difference(_log_F(r, alpha, s, beta, x, t_x), _log_F(r, alpha, s, beta, x, age))


def _log_likelihood_rows(params, x, t_x, age, log_A0=None):
    """Per-row Pareto/NBD log-likelihood (vectorised)."""
    r, alpha, s, beta = params
    if log_A0 is None:
        log_A0 = _log_A0(r, alpha, s, beta, x, t_x, age)
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive_to_T = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    died = np.log(s) - np.log(r + s + x) + log_A0
    return A1 + np.logaddexp(alive_to_T, died)


#: Gauss-Legendre nodes per panel of the "died" integral (two panels per row).
QUAD_NODES = 20
#: The "died" integrand is integrated down to exp(-QUAD_LOG_DROP) times its peak
#: (the rest of [t_x, T] contributes < 1e-14 relative).
QUAD_LOG_DROP = 30.0
#: Newton steps locating the truncation point (monotone from the right, so
#: stopping early only widens the window).
QUAD_NEWTON_STEPS = 8
#: Rows per block of the quadrature (keeps the rows x nodes arrays in cache).
QUAD_BLOCK_ROWS = 8192
_GL_X, _GL_W = np.polynomial.legendre.leggauss(QUAD_NODES)
_GL_U, _GL_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W  # on [0, 1]


def _died_integral(r, alpha, s, beta, x, t_x, age, need_grad=True):
    """``log I`` and the integrand-weighted means needed for its gradient.

    ``I = int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau`` by Gauss-Legendre
    quadrature in ``v = log((c+tau)/(c+t_x))``, ``c = min(alpha, beta)``, where the
    log-integrand ``l(v) = (1-e_c-e_m)(log(c+t_x)+v) - e_m log1p(k e^-v)``
    (``e_c``, ``e_m``: exponents of the ``c`` and the other factor,
    ``k = |alpha-beta|/(c+t_x)``) is concave with slope in ``[-(r+s+x), 1-e_c]``:
    power-law singular behaviour near ``tau = -c`` becomes a plain exponential.
    Its peak ``v_p`` is found in closed form (``l' = 0``), the window is cut where
    ``l`` has fallen by ``QUAD_LOG_DROP`` (Newton from the right), and each of
    ``[0, v_p]`` (where ``v_p > 0``) and ``[v_p, v_hi]`` gets ``QUAD_NODES`` nodes.

    Returns ``log_I`` (``-inf`` where ``t_x == T``) and, with ``need_grad``, the
    means of ``log(alpha+tau), 1/(alpha+tau), log(beta+tau), 1/(beta+tau)``
    under the normalised integrand (0 where ``t_x == T``).
    """
    a = np.asarray(r + x, dtype=np.float64)
    b = np.full_like(a, s + 1.0)
    if alpha <= beta:
        c, delta, e_c, e_m = alpha, beta - alpha, a, b
    else:
        c, delta, e_c, e_m = beta, alpha - beta, b, a
    base = c + t_x
    lc0 = np.log(base)
    V = np.log1p((age - t_x) / base)
    k = delta / base
    slope0 = 1.0 - e_c - e_m  # = -(r+s+x) < 0

    def ell(v):
        return slope0 * (lc0 + v) - e_m * np.log1p(k * np.exp(-v))

    rho_p = (1.0 - e_c) / e_m  # (c+tau)/(m+tau) at the peak; < 1 as r+s+x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        vp = np.log(k * rho_p / (1.0 - rho_p))
    vp = np.clip(np.where(np.isfinite(vp), vp, 0.0), 0.0, V)
    l1p_peak = np.log1p(k * np.exp(-vp))
    l_peak = slope0 * (lc0 + vp) - e_m * l1p_peak
    target = l_peak - QUAD_LOG_DROP
    v_hi = V
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(QUAD_NEWTON_STEPS):
            lv = ell(v_hi)
            dl = 1.0 - e_c - e_m / (1.0 + k * np.exp(-v_hi))
            v_hi = np.maximum(v_hi - np.where(lv < target, (lv - target) / dl, 0.0), vp)
    def panel(rows, start, width):
        """Quadrature sums over [start, start + width] of the rows ``rows``: of the
        integrand / its peak, and of it times v, log1p(k e^-v), e^-v, e^-v/(1 + k e^-v)."""
        nodes = start[:, None] + width[:, None] * _GL_U
        e_minus = np.exp(-nodes)
        k_e = k[rows, None] * e_minus
        l1p = np.log1p(k_e)
        w = (width[:, None] * _GL_W) * np.exp(slope0[rows, None] * (nodes - vp[rows, None])
                                                - e_m[rows, None] * (l1p - l1p_peak[rows, None]))
        if not need_grad:
            return w.sum(axis=1)[None]
        we = w * e_minus
        return np.stack([w.sum(axis=1), (w * nodes).sum(axis=1), (w * l1p).sum(axis=1),
                         we.sum(axis=1), (we / (1.0 + k_e)).sum(axis=1)])

    # the rising panel [0, v_p] exists only where the peak is interior (e_c < 1, i.e.
    # x = 0 with r < 1 and alpha <= beta): the other rows get QUAD_NODES nodes in all
    # l' changes by e_m around v = log(k) (where c+tau = |alpha-beta|): when that bend lies
    # inside the falling window, it is split there so that neither panel straddles it
    with np.errstate(divide="ignore"):
        bend = np.log(k)
    split = np.flatnonzero((bend > vp) & (bend < v_hi))
    mid = vp.copy()
    mid[split] = bend[split]
    sums = panel(slice(None), mid, v_hi - mid)
    if split.size:
        sums[:, split] += panel(split, vp[split], mid[split] - vp[split])
    rising = np.flatnonzero(vp > 0.0)
    if rising.size:
        sums[:, rising] += panel(rising, np.zeros(rising.size), vp[rising])
    total = sums[0]
    with np.errstate(divide="ignore"):
        log_I = l_peak + np.log(total)
    if not need_grad:
        return log_I, None
    empty = total <= 0.0
    inv_total = 1.0 / np.where(empty, 1.0, total)
    log_c = lc0 + sums[1] * inv_total  # E[log(c+tau)]
    log_m = log_c + sums[2] * inv_total  # E[log(m+tau)]
    inv_c = sums[3] * inv_total / base  # E[1/(c+tau)]
    inv_m = sums[4] * inv_total / base  # E[1/(m+tau)]
    moments = (log_c, inv_c, log_m, inv_m) if alpha <= beta else (log_m, inv_m, log_c, inv_c)
    return log_I, tuple(np.where(empty, 0.0, mom) for mom in moments)


class _ParetoNBDLikelihood:
    """Total Pareto/NBD log-likelihood and its analytic gradient on merged rows.

    Per customer, integrating ``lambda^x e^-(lambda+mu)T + lambda^x mu int_{t_x}^T
    e^-(lambda+mu)tau dtau`` over the gamma mixing distributions:

    ``LL = A1 + log(E + s I)``, ``A1 = lgamma(r+x) - lgamma(r) + r log(alpha) + s log(beta)``,
    ``E = (alpha+T)^-(r+x) (beta+T)^-s``, ``I = int_{t_x}^T (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``

    (equal to the hypergeometric form of the module docstring, ``s I = s/(r+s+x) A0``).
    The gradient differentiates under the integral sign: with ``q = sI/(E+sI)``
    and ``<g>`` the mean of ``g(tau)`` under the normalised integrand of ``I``,

    * ``d/dr     = psi(r+x) - psi(r) + log(alpha) - (1-q) log(alpha+T) - q <log(alpha+tau)>``
    * ``d/dalpha = r/alpha - (r+x) [(1-q)/(alpha+T) + q <1/(alpha+tau)>]``
    * ``d/ds     = log(beta) - (1-q) log(beta+T) + q (1/s - <log(beta+tau)>)``
    * ``d/dbeta  = s/beta - (1-q) s/(beta+T) - q (s+1) <1/(beta+tau)>``

    The integral and the means come from the same quadrature nodes
    (:func:`_died_integral`), so value and gradient are consistent to rounding.
    """

    def __init__(self, merged: MergedRows):
        self.x, self.t_x, self.T = merged.column(0), merged.column(1), merged.column(2)
        self.w = merged.weights
        self.total_weight = float(self.w.sum())
        self.sum_wx = dot(self.w, self.x)
        ux, cx = merged.values[0], merged.codes[0]
        self.ux = ux
        self.Wx = np.bincount(cx, weights=self.w, minlength=len(ux))

    def __call__(self, params, need_grad: bool = True):
        r, alpha, s, beta = (float(p) for p in params)
        ux, Wx = self.ux, self.Wx
        ll = dot(Wx, gammaln(r + ux) - gammaln(r)) + self.total_weight * (r * np.log(alpha) + s * np.log(beta))
        grad = np.zeros(4)
        if need_grad:
            grad += [dot(Wx, psi(r + ux) - psi(r)) + self.total_weight * np.log(alpha),
                     self.total_weight * r / alpha, self.total_weight * np.log(beta), self.total_weight * s / beta]
        n = len(self.x)
        for lo in range(0, n, QUAD_BLOCK_ROWS):
            sl = slice(lo, min(lo + QUAD_BLOCK_ROWS, n))
            x, t_x, age, w = self.x[sl], self.t_x[sl], self.T[sl], self.w[sl]
            log_I, moments = _died_integral(r, alpha, s, beta, x, t_x, age, need_grad)
            l_alpha_T = np.log(alpha + age)
            l_beta_T = np.log(beta + age)
            alive = -(r + x) * l_alpha_T - s * l_beta_T
            died = np.log(s) + log_I
            total = np.logaddexp(alive, died)
            ll += dot(w, total)
            if need_grad:
                q = np.exp(died - total)
                p = 1.0 - q
                wq, wp = w * q, w * p
                log_a, inv_a, log_b, inv_b = moments
                grad -= [dot(wp, l_alpha_T) + dot(wq, log_a),
                         dot(wp, (r + x) / (alpha + age)) + dot(wq, (r + x) * inv_a),
                         dot(wp, l_beta_T) - wq.sum() / s + dot(wq, log_b),
                         s * dot(wp, 1.0 / (beta + age)) + (s + 1.0) * dot(wq, inv_b)]
        return ll, (grad if need_grad else None)


class ParetoNBDModel(ParametricModel):
    """Pareto/NBD model of repeat-purchase counts, fitted by maximum likelihood.

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
        ``{"r", "alpha", "s", "beta"}``; ``alpha`` and ``beta`` in the data's time unit.
    log_likelihood_ : float
        Total unpenalised log-likelihood (-9594.98 on the CDNOW sample in weeks).
    n_customers_ : float
    n_unique_rows_ : int
        Number of distinct rows the likelihood was evaluated on.
    standard_errors_ : dict
        Asymptotic (delta-method) standard errors of ``params_``.

    Examples
    --------
    >>> m = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
    >>> round(m.probability_alive(26, 30.86, 31).item(), 4)
    0.9979
    """

    param_names = ("r", "alpha", "s", "beta")
    model_name = "Pareto/NBD"

    def fit(self, frequency, recency, T, weights=None):
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like of shape (n,)
            Repeat-purchase count, time of last purchase, customer age.
        weights : array-like of shape (n,), optional
            Number of customers each row stands for (default 1).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On invalid inputs.
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
        merged = merge_identical_rows(x, t_x, age, weights=w).scaled(1.0, scale, scale)
        lik = _ParetoNBDLikelihood(merged)
        res = self._optimize(self._penalised_objective(lik, lik.total_weight))
        r, alpha_s, s, beta_s = np.exp(res.theta)
        ll_scaled, _ = lik((r, alpha_s, s, beta_s), need_grad=False)
        # the t_x part of the likelihood is a density in time: undo the rescaling
        self._store_fit({"r": r, "alpha": alpha_s / scale, "s": s, "beta": beta_s / scale},
                        ll_scaled + lik.sum_wx * np.log(scale), lik.total_weight, merged.n_rows)
        return self

    def log_likelihood(self, frequency, recency, T, weights=None) -> float:
        """Total log-likelihood of data under the current parameters."""
        x, t_x, age = check_rfm(frequency, recency, T, for_fit=True)
        w = check_weights(weights, len(x))
        lik = _ParetoNBDLikelihood(merge_identical_rows(x, t_x, age, weights=w))
        return float(lik(self._param_values(), need_grad=False)[0])

    # ----------------------------------------------------------- predictions
    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T).

        Examples
        --------
        >>> m = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
        >>> np.round(m.probability_alive([0, 26], [0, 30.86], [38.86, 31]), 4)
        array([0.295 , 0.9979])
        """
        r, alpha, s, beta = self._param_values()
        x, t_x, age = check_rfm(frequency, recency, T)
        return np.asarray(self._p_alive(x, t_x, age, r, alpha, s, beta))

    @staticmethod
    def _p_alive(x, t_x, age, r, alpha, s, beta):
        with np.errstate(divide="ignore"):
            log_ratio = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + age) + s * np.log(beta + age)
                         + _log_A0(r, alpha, s, beta, x, t_x, age))
        return 1.0 / (1.0 + np.exp(log_ratio))

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Conditional expected number of repeat purchases in the next ``t`` time units.

        ``E[Y(t) | x, t_x, T] = P(alive) * (r+x)(beta+T) / ((alpha+T)(s-1)) * [1 - ((beta+T)/(beta+T+t))^(s-1)]``.

        Examples
        --------
        >>> m = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
        >>> round(m.expected_purchases(52, 26, 30.86, 31).item(), 2)
        25.45
        """
        r, alpha, s, beta = self._param_values()
        t = as_float_array(t, "t")
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        x, t_x, age = check_rfm(frequency, recency, T)
        t, x, t_x, age = np.broadcast_arrays(t, x, t_x, age)
        rate = (r + x) / (alpha + age)  # E[lambda | x, T]
        horizon = self._lifetime_integral(t, s, beta + age)
        return np.asarray(self._p_alive(x, t_x, age, r, alpha, s, beta) * rate * horizon)

    @staticmethod
    def _lifetime_integral(t, s, b):
        """(b / (s-1)) [1 - (b/(b+t))^(s-1)] = expected alive time in (0, t], stable near s = 1."""
        log_ratio = np.log1p(t / b)
        if abs(s - 1.0) < 1e-10:
            return b * log_ratio
        return b * -np.expm1(-(s - 1.0) * log_ratio) / (s - 1.0)

    def expected_purchases_unconditional(self, t) -> np.ndarray:
        """Expected repeat purchases ``E[X(t)]`` of a new customer in ``t`` time units.

        ``E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``.

        Examples
        --------
        >>> m = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
        >>> np.round(m.expected_purchases_unconditional([1, 9]), 4)
        array([0.051 , 0.3913])
        """
        r, alpha, s, beta = self._param_values()
        t = as_float_array(t, "t")
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        return np.asarray(r / alpha * self._lifetime_integral(t, s, beta))
