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

The derivatives of the Gauss hypergeometric function with respect to its
parameters have no closed form in scipy, so the gradient is taken by central
differences of this exact log-likelihood (8 extra evaluations per gradient, on
the merged distinct rows).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from .base import ParametricModel
from .exceptions import ConvergenceError
from .numerics import dot
from .optimization import central_difference_gradient
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


class _ParetoNBDLikelihood:
    """Total Pareto/NBD log-likelihood on merged rows.

    The two hypergeometric terms depend on (x, t_x) and on (x, T) only, so they
    are evaluated once per distinct pair (with whole-day data there are far
    fewer pairs than customers) and gathered back to the rows.
    """

    def __init__(self, merged: MergedRows):
        self.x, self.t_x, self.T = merged.column(0), merged.column(1), merged.column(2)
        self.w = merged.weights
        self.total_weight = float(self.w.sum())
        self.sum_wx = dot(self.w, self.x)
        at_tx = merge_identical_rows(self.x, self.t_x)
        at_T = merge_identical_rows(self.x, self.T)
        self._pairs_tx = (at_tx.column(0), at_tx.column(1), at_tx.inverse)
        self._pairs_T = (at_T.column(0), at_T.column(1), at_T.inverse)

    def __call__(self, params) -> float:
        r, alpha, s, beta = params
        px, py, inv = self._pairs_tx
        log_f_tx = _log_F(r, alpha, s, beta, px, py)[inv]
        px, py, inv = self._pairs_T
        log_f_T = _log_F(r, alpha, s, beta, px, py)[inv]
        rows = _log_likelihood_rows(params, self.x, self.t_x, self.T, _log_difference(log_f_tx, log_f_T))
        return dot(self.w, rows)


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
            If the likelihood cannot be maximised.
        """
        self._start_fit()
        x, t_x, age = check_rfm(frequency, recency, T, for_fit=True)
        w = check_weights(weights, len(x))
        if not np.any((x > 0) & (w > 0)):
            raise ConvergenceError(
                f"{self.model_name} fit failed: no customer made a repeat purchase (all frequency == 0), "
                "so the likelihood has no maximum (it grows as r -> 0)"
            )
        scale = TIME_SCALE_TARGET / age.max()
        merged = merge_identical_rows(x, t_x, age, weights=w).scaled(1.0, scale, scale)
        lik = _ParetoNBDLikelihood(merged)
        pen = float(self.penalizer)

        def value(theta):
            with np.errstate(all="ignore"):
                ll = lik(np.exp(theta))
            return -ll / lik.total_weight + pen * float(theta @ theta)

        def objective(theta):
            f = value(theta)
            if not np.isfinite(f):
                return np.inf, np.zeros_like(theta)
            return f, central_difference_gradient(value, theta, step=1e-5)

        res = self._optimize(objective)
        r, alpha_s, s, beta_s = np.exp(res.theta)
        # the t_x part of the likelihood is a density in time: undo the rescaling
        self._store_fit({"r": r, "alpha": alpha_s / scale, "s": s, "beta": beta_s / scale},
                        lik((r, alpha_s, s, beta_s)) + lik.sum_wx * np.log(scale), lik.total_weight,
                        merged.n_rows)
        return self

    def log_likelihood(self, frequency, recency, T, weights=None) -> float:
        """Total log-likelihood of data under the current parameters."""
        x, t_x, age = check_rfm(frequency, recency, T, for_fit=True)
        w = check_weights(weights, len(x))
        return _ParetoNBDLikelihood(merge_identical_rows(x, t_x, age, weights=w))(self._param_values())

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
