"""Small numerical helpers shared by the likelihoods."""

from __future__ import annotations

import numpy as np

__all__ = ["dot"]


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-D arrays without BLAS.

    ``a @ b`` goes to OpenBLAS, which splits long vectors over threads; on a
    shared 2-core machine a busy neighbour can make a thread wake-up cost
    milliseconds (measured: 0.03 ms normally, 11 ms under load, for 320k
    elements).  ``einsum`` runs single-threaded at a steady ~0.15 ms.
    """
    return float(np.einsum("i,i->", a, b))
