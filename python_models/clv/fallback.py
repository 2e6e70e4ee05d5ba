"""Fitting with a documented fallback: the plain MLE first, then increasing penalties if the data need them."""

from .exceptions import ConvergenceError, InsufficientDataError

# Plain MLE first (it reproduces the published fits); the penalties make flat or heavy-tailed data well posed.
PENALIZER_LADDER = (0.0, 1e-3, 1e-2, 1e-1, 1.0)


def fit_with_fallback(model_class, *data, penalizers=PENALIZER_LADDER, acceptable=None, **options):
    """Fit `model_class(penalizer=p)` for each p in turn and return the first fit that converges and is acceptable.

    The chosen `penalizer` stays on the returned model, so callers can report it. When no penalty gives an
    acceptable fit, ConvergenceError is raised with every attempt's reason: a bad fit is never returned. Data that
    cannot identify the model (InsufficientDataError, e.g. no repeat purchase) raise at once: no penalty helps.

    Parameters
    ----------
    model_class : type
        BetaGeoModel, ParetoNBDModel or GammaGammaModel.
    *data : array-like
        The arguments of `fit`.
    penalizers : sequence of float
        Penalties to try, in order.
    acceptable : callable, optional
        `acceptable(model) -> str | None`: a reason to reject a converged fit (e.g. Gamma-Gamma's q <= 1, which
        means spend has no finite mean), or None to accept it.

    Examples
    --------
    >>> from python_models.clv import BetaGeoModel
    >>> m = fit_with_fallback(BetaGeoModel, [0, 1, 2, 0, 5], [0, 3, 8, 0, 20], [30, 30, 30, 30, 30])
    >>> m.penalizer >= 0
    True
    """
    failures = []
    for penalizer in penalizers:
        try:
            model = model_class(penalizer=penalizer, **options).fit(*data)
        except InsufficientDataError:
            raise
        except ConvergenceError as error:
            failures.append(f"penalizer={penalizer}: {error}")
            continue
        reason = acceptable(model) if acceptable else None
        if reason is None:
            return model
        failures.append(f"penalizer={penalizer}: {reason}")
    raise ConvergenceError(f"{model_class.__name__} found no acceptable fit:\n" + "\n".join(failures))


def finite_mean_spend(model) -> str | None:
    """Gamma-Gamma's population mean spend p·v/(q−1) is finite only for q > 1."""
    q = model.params_["q"]
    return None if q > 1 else f"q = {q:.3f} <= 1: spend too heavy-tailed for a finite mean"
