"""Vectorised simulation of customer summaries from the BG/NBD and Gamma-Gamma models.

Used for benchmarks and parameter-recovery checks; no per-purchase arrays are
materialised, so millions of customers take about a second.
"""

from __future__ import annotations

import numpy as np

from .validation import as_float_array

__all__ = ["simulate_beta_geo", "simulate_gamma_gamma_spend"]


def simulate_beta_geo(T, r: float, alpha: float, a: float, b: float, random_state=None) -> dict:
    """Draw (frequency, recency, T) for customers of ages ``T`` from the BG/NBD model.

    Per customer: ``lambda ~ Gamma(r, rate=alpha)``, ``p ~ Beta(a, b)``.  The
    number of repeat purchases until dropout is ``K ~ Geometric(p)`` (dropout can
    follow any repeat purchase), the number of Poisson events in (0, T] is
    ``N ~ Poisson(lambda T)``, so ``frequency = min(K, N)``; given N events, the
    time of the x-th is ``T * Beta(x, N - x + 1)`` (order statistic of uniforms).

    Parameters
    ----------
    T : array-like
        Customer ages (> 0); its length is the number of customers.
    r, alpha, a, b : float
        BG/NBD parameters (``alpha`` in the time unit of ``T``).
    random_state : int or numpy.random.Generator, optional

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` arrays, plus the latent ``rate`` and ``p``.

    Examples
    --------
    >>> sim = simulate_beta_geo(np.full(1000, 39.0), 0.243, 4.414, 0.793, 2.426, random_state=0)
    >>> bool(np.all(sim["recency"] <= sim["T"]))
    True
    """
    rng = np.random.default_rng(random_state)
    age = as_float_array(T, "T")
    n = age.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    k = rng.geometric(np.clip(p, 1e-300, 1.0))
    events = rng.poisson(lam * age)
    x = np.minimum(k, events)
    has = x > 0
    recency = np.zeros(n)
    recency[has] = age[has] * rng.beta(x[has], events[has] - x[has] + 1)
    return {"frequency": x.astype(np.float64), "recency": recency, "T": age, "rate": lam, "p": p}


def simulate_gamma_gamma_spend(frequency, p: float, q: float, v: float, random_state=None) -> np.ndarray:
    """Draw the mean repeat-transaction value of each customer from the Gamma-Gamma model.

    ``nu ~ Gamma(q, rate=v)`` per customer; the mean of x transactions of
    ``Gamma(p, rate=nu)`` is ``Gamma(p x, rate=nu x)``.  Customers with x = 0 get 0.

    Examples
    --------
    >>> m = simulate_gamma_gamma_spend(np.array([0, 1, 5]), 6.25, 3.74, 15.44, random_state=0)
    >>> bool(m[0] == 0 and np.all(m[1:] > 0))
    True
    """
    rng = np.random.default_rng(random_state)
    x = as_float_array(frequency, "frequency")
    nu = rng.gamma(q, 1.0 / v, x.shape[0])
    out = np.zeros(x.shape[0])
    has = x > 0
    out[has] = rng.gamma(p * x[has], 1.0 / (nu[has] * x[has]))
    return out
