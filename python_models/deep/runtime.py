"""Where and how torch runs: a seeded, deterministic, fixed-thread scope, and the device.

Every deep step runs inside :func:`seeded`, so the same input gives the same weights and the same embedding
(two runs agree to within 1e-6): torch's generator is seeded, deterministic algorithms are requested, and the
number of intra-op threads is fixed (a float sum over 1 or 2 threads is not added in the same order). The
previous settings are restored afterwards, so callers outside see torch as they left it.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["DEFAULT_THREADS", "choose_device", "seeded", "to_numpy", "to_tensor"]

#: Intra-op threads of every deep step: one is fastest for the small networks here on a busy two-core machine,
#: and a fixed number keeps float sums in one order.
DEFAULT_THREADS = 1


def choose_device(device: str = "auto") -> torch.device:
    """``"auto"``: the GPU when torch sees one, else the CPU; otherwise the named device.

    Examples
    --------
    >>> choose_device("cpu").type
    'cpu'
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextmanager
def seeded(seed: int, n_threads: int = DEFAULT_THREADS):
    """Seed torch, ask for deterministic algorithms and fix the thread count for the duration.

    Examples
    --------
    >>> with seeded(0):
    ...     a = torch.rand(3)
    >>> with seeded(0):
    ...     b = torch.rand(3)
    >>> bool(torch.equal(a, b))
    True
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    rng_state = torch.random.get_rng_state()
    torch.set_num_threads(max(1, int(n_threads)))
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(int(seed))
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.random.set_rng_state(rng_state)


def to_tensor(X, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    """A contiguous tensor on ``device``, built once from an array (no copy on the CPU when the dtype matches)."""
    return torch.as_tensor(np.ascontiguousarray(X), dtype=dtype).to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """Float64 numpy copy of a tensor (the rest of the library works in float64)."""
    return t.detach().to("cpu", torch.float64).numpy()
