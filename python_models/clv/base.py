"""Shared plumbing of the CLV models: hyper-parameters, fitted state, ``from_params``."""

from __future__ import annotations

import numpy as np

from .exceptions import ConvergenceError, NotFittedError
from .optimization import MultiStartResult, minimize_multistart
from .validation import check_positive_params

__all__ = ["ParametricModel"]


class ParametricModel:
    """Base class: a model with named positive parameters fitted by penalised MLE.

    Subclasses define ``param_names`` and ``model_name`` and implement ``fit``.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the log-parameters added to the mean negative
        log-likelihood: ``penalizer * sum(log(params_internal) ** 2)``.  Time-scale
        (and money-scale) parameters are penalised in the internal units in which
        the data are rescaled before fitting (oldest customer T = 10, or mean
        spend = 1), so the penalty does not depend on whether time is in days or
        weeks.  Note that lifetimes 0.11.3 penalises the squared raw parameters
        instead; with ``penalizer=0`` both give the plain MLE.
    n_starts : int, default 3
        Number of deterministic L-BFGS-B starting points; the best optimum is kept.
    random_state : int or None, default 0
        Seed of the starting-point generator.
    maxiter : int, default 2000
        Maximum L-BFGS-B iterations per start.
    stop_early : bool, default False
        Skip the remaining starts once two converged starts agree on the optimum
        (objective within 1e-10 relative, log-parameters within 1e-4; see
        :mod:`python_models.clv.optimization`).  About a third faster with 3 starts,
        but the kept optimum can then differ from the all-starts one at the
        optimizer's precision (~1e-7 relative in the parameters), so it is off by
        default: fits stay bit-for-bit reproducible.  ``n_starts_run_`` tells how
        many starts ran.
    """

    param_names: tuple[str, ...] = ()
    model_name: str = "model"

    def __init__(self, penalizer: float = 0.0, n_starts: int = 3, random_state=0, maxiter: int = 2000,
                 stop_early: bool = False):
        self.penalizer = penalizer
        self.n_starts = n_starts
        self.random_state = random_state
        self.maxiter = maxiter
        self.stop_early = stop_early

    # ------------------------------------------------------------------ state
    @classmethod
    def from_params(cls, **params: float):
        """Build a model with given parameters, without fitting.

        ``log_likelihood_`` is ``None`` on such a model.

        Examples
        --------
        >>> from python_models.clv import BetaGeoModel
        >>> BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        BetaGeoModel(r=0.243, alpha=4.414, a=0.793, b=2.426)
        """
        model = cls()
        model.params_ = check_positive_params(params, cls.param_names)
        model.log_likelihood_ = None
        return model

    def _param_values(self) -> tuple[float, ...]:
        params = getattr(self, "params_", None)
        if params is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or from_params() first")
        return tuple(float(params[n]) for n in self.param_names)

    def get_params(self, deep: bool = True) -> dict:
        """Hyper-parameters (scikit-learn convention)."""
        return {"penalizer": self.penalizer, "n_starts": self.n_starts,
                "random_state": self.random_state, "maxiter": self.maxiter, "stop_early": self.stop_early}

    def set_params(self, **hyper):
        """Set hyper-parameters (scikit-learn convention); returns self."""
        for k, v in hyper.items():
            if k not in self.get_params():
                raise ValueError(f"unknown hyper-parameter {k!r}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        params = getattr(self, "params_", None)
        if params is None:
            return f"{type(self).__name__}(penalizer={self.penalizer}, n_starts={self.n_starts})"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items())
        return f"{type(self).__name__}({shown})"

    # -------------------------------------------------------------- fitting
    def _reset_fit(self) -> None:
        """Forget a previous fit, so a failing refit never leaves stale parameters."""
        for attr in ("params_", "log_likelihood_", "n_customers_", "n_unique_rows_", "standard_errors_",
                     "optimizer_result_", "n_starts_accepted_", "n_starts_run_", "_hessian_theta"):
            self.__dict__.pop(attr, None)

    def _store_fit(self, params: dict, log_likelihood: float, n_customers: float, n_unique_rows: int) -> None:
        """Set the fitted attributes after checking that the log-likelihood is finite."""
        if not np.isfinite(log_likelihood):
            raise ConvergenceError(
                f"{type(self).__name__} fit produced a non-finite log-likelihood ({log_likelihood}) at {params}"
            )
        self.params_ = {k: float(v) for k, v in params.items()}
        self.log_likelihood_ = float(log_likelihood)
        self.n_customers_ = float(n_customers)
        self.n_unique_rows_ = int(n_unique_rows)
        self._set_standard_errors(self.n_customers_)

    def _start_fit(self) -> None:
        """Validate the hyper-parameters and forget any previous fit."""
        self._reset_fit()
        if not (np.isfinite(self.penalizer) and self.penalizer >= 0):
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        if int(self.n_starts) != self.n_starts or self.n_starts < 1:
            raise ValueError(f"n_starts must be a positive integer, got {self.n_starts}")

    def _penalised_objective(self, loglik_and_grad, total_weight: float):
        """Wrap ``loglik_and_grad(params) -> (LL, dLL/dparams)`` into the
        minimisation objective on theta = log(params)."""
        pen = float(self.penalizer)

        def objective(theta):
            params = np.exp(theta)
            ll, grad = loglik_and_grad(params)
            f = -ll / total_weight + pen * float(theta @ theta)
            g = -np.asarray(grad) * params / total_weight + 2.0 * pen * theta
            return f, g

        return objective

    def _optimize(self, objective, x0=None) -> MultiStartResult:
        res = minimize_multistart(objective, self.param_names, n_starts=int(self.n_starts),
                                  random_state=self.random_state, x0=x0, maxiter=int(self.maxiter),
                                  model_name=type(self).__name__, stop_early=bool(self.stop_early))
        self.optimizer_result_ = res.result
        self.n_starts_accepted_ = res.n_accepted
        self.n_starts_run_ = res.n_starts_run
        self._hessian_theta = res.hessian
        return res

    def _set_standard_errors(self, total_weight: float) -> None:
        """Delta-method standard errors from the Hessian in log-parameters.

        ``cov(theta) = inv(total_weight * H)`` (H is the Hessian of the per-customer
        objective); ``se(param) = param * sqrt(cov(theta)_ii)``.  Exact for the
        unpenalised MLE, approximate with a penalizer.
        """
        try:
            cov = np.linalg.inv(total_weight * self._hessian_theta)
            se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        except np.linalg.LinAlgError:  # pragma: no cover - the fit already checked curvature
            se = np.full(len(self.param_names), np.nan)
        self.standard_errors_ = {n: float(self.params_[n] * e) for n, e in zip(self.param_names, se)}
