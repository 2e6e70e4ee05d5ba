"""The Laplace mechanism for counts (Dwork, McSherry, Nissim & Smith 2006).

Adding or removing one customer changes each segment's count by at most 1 and moves it between no two counts of
one release (a customer is in one segment), so the counts' L1 sensitivity is 1 and Laplace noise of scale
1/epsilon per count gives epsilon-differential privacy for the release. Rounding and clipping at zero are
post-processing and keep the guarantee.
"""

import hashlib

import numpy as np


def release_rng(secret: str, release_id: str) -> np.random.Generator:
    """The noise generator of one release: seeded from a secret and the release's id.

    Running a release again gives the same noise, so re-publishing it spends no new privacy budget, while nobody
    without the secret can reproduce the noise and subtract it (a seed in public code would undo the mechanism).

    Examples
    --------
    >>> a, b = release_rng("s3cret", "segments@2026-11-30"), release_rng("s3cret", "segments@2026-11-30")
    >>> bool(a.random() == b.random())
    True
    """
    if not secret:
        raise ValueError("differentially private releases need a secret seed; none was given")
    digest = hashlib.sha256(f"{secret}\x00{release_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def laplace_counts(counts, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Each count plus Laplace(1/epsilon) noise, rounded, never below zero.

    Examples
    --------
    >>> noisy = laplace_counts([1200, 340, 15], epsilon=1.0, rng=np.random.default_rng(0))
    >>> noisy.dtype.kind, bool(np.all(np.abs(noisy - [1200, 340, 15]) < 20))
    ('i', True)
    """
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    counts = np.asarray(counts, dtype=float)
    noisy = counts + rng.laplace(0.0, 1.0 / epsilon, size=counts.shape)
    return np.maximum(np.rint(noisy), 0).astype(np.int64)
