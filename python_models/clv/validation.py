"""Input coercion and validation shared by the CLV models.

All public entry points accept numpy arrays, pandas Series, lists or scalars
and turn them into float64 numpy arrays here, raising :class:`ValueError`
with a message that names the offending argument.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_float_array",
    "check_rfm",
    "check_monetary",
    "check_weights",
    "check_positive_params",
]


def as_float_array(values, name: str) -> np.ndarray:
    """Return ``values`` as a float64 ndarray (pandas Series are unwrapped).

    Raises ``ValueError`` if the values are not numeric or contain NaN/inf.
    """
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {type(values).__name__}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _broadcast(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k}{v.shape}" for k, v in arrays.items())
        raise ValueError(f"inputs have incompatible shapes: {shapes}") from exc


def check_rfm(frequency, recency, T, *, for_fit: bool = False):
    """Validate (frequency, recency, T) and return them as float arrays.

    Rules (the same as lifetimes' ``_check_inputs``):

    * frequency is a non-negative whole number of *repeat* purchases;
    * 0 <= recency <= T, and recency == 0 when frequency == 0;
    * T > 0 (customer age, time since the first purchase).

    With ``for_fit=True`` the inputs must be 1-D, non-empty and of equal length;
    otherwise they only need to broadcast together.
    """
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    if for_fit:
        for name, arr in (("frequency", x), ("recency", t_x), ("T", age)):
            if arr.ndim != 1:
                raise ValueError(f"{name} must be 1-dimensional for fitting, got shape {arr.shape}")
        if not (len(x) == len(t_x) == len(age)):
            raise ValueError(
                f"frequency, recency and T must have the same length, got {len(x)}, {len(t_x)}, {len(age)}"
            )
        if len(x) == 0:
            raise ValueError("cannot fit a model on zero customers")
    x, t_x, age = _broadcast({"frequency": x, "recency": t_x, "T": age})
    if np.any(x < 0):
        raise ValueError("frequency must be >= 0 (it counts repeat purchases)")
    if np.any(x != np.floor(x)):
        raise ValueError("frequency must be a whole number of repeat purchases")
    if np.any(t_x < 0):
        raise ValueError("recency must be >= 0")
    if np.any(age <= 0):
        raise ValueError("T (customer age) must be > 0")
    if np.any(t_x > age):
        raise ValueError("recency must be <= T for every customer (recency larger than T found)")
    if np.any(t_x[x == 0] != 0):
        raise ValueError("recency must be 0 for customers with frequency 0 (non-zero recency found)")
    return x, t_x, age


def check_monetary(frequency, monetary_value, *, for_fit: bool = False):
    """Validate (frequency, monetary_value) for the Gamma-Gamma spend model.

    monetary_value is the mean value of a customer's *repeat* transactions.
    For fitting every customer must be a repeater (frequency > 0) with a
    positive mean value; for prediction frequency 0 is allowed (the
    monetary value is then ignored and the population mean is returned).
    """
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    if for_fit:
        for name, arr in (("frequency", x), ("monetary_value", m)):
            if arr.ndim != 1:
                raise ValueError(f"{name} must be 1-dimensional for fitting, got shape {arr.shape}")
        if len(x) != len(m):
            raise ValueError(f"frequency and monetary_value must have the same length, got {len(x)}, {len(m)}")
        if len(x) == 0:
            raise ValueError("cannot fit a model on zero customers")
    x, m = _broadcast({"frequency": x, "monetary_value": m})
    if np.any(x < 0):
        raise ValueError("frequency must be >= 0 (it counts repeat purchases)")
    if np.any(x != np.floor(x)):
        raise ValueError("frequency must be a whole number of repeat purchases")
    if for_fit:
        if np.any(x == 0):
            raise ValueError(
                "Gamma-Gamma is fit on repeat customers only: select rows with frequency > 0 before fitting"
            )
        if np.any(m <= 0):
            raise ValueError("monetary_value must be > 0 for every customer used in the fit")
    elif np.any((m <= 0) & (x > 0)):
        raise ValueError("monetary_value must be > 0 for customers with frequency > 0")
    return x, m


def check_weights(weights, n: int) -> np.ndarray:
    """Return per-row weights (ones if ``None``); they must be finite, >= 0, sum > 0."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = as_float_array(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    if not w.sum() > 0:
        raise ValueError("weights must not all be zero")
    return w


def check_positive_params(params: dict, names: tuple[str, ...]) -> dict[str, float]:
    """Check that ``params`` has exactly ``names`` and that all are finite and > 0."""
    missing = [n for n in names if n not in params]
    extra = [n for n in params if n not in names]
    if missing or extra:
        raise ValueError(f"expected parameters {names}, missing {missing}, unexpected {extra}")
    out = {}
    for n in names:
        v = float(params[n])
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"parameter {n} must be finite and > 0, got {v}")
        out[n] = v
    return out
