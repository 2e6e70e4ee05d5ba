"""Exceptions raised by the CLV models."""

from __future__ import annotations

__all__ = ["ConvergenceError", "InsufficientDataError", "NotFittedError"]


class ConvergenceError(RuntimeError):
    """Maximum-likelihood fit did not converge to a usable optimum.

    Raised instead of returning a silently bad fit: when the optimizer stops
    without meeting its tolerance from every starting point, when the
    log-likelihood is not finite, or when a parameter runs off to the edge of
    the search box (the data do not identify the model, e.g. nobody made a
    repeat purchase).  The message includes the optimizer's own message.
    """


class InsufficientDataError(ConvergenceError):
    """The data cannot identify the model at all, whatever the penalty: nobody made a repeat purchase, or there is
    no customer to fit on.  ``fit_with_fallback`` stops at once on it, and the pipeline skips the model with the
    message as the reason (a small or new shop), rather than failing the run.
    """


class NotFittedError(RuntimeError):
    """A prediction method was called before ``fit`` or ``from_params``."""
