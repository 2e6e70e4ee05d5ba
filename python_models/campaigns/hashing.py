"""A stable pseudo-random number per (experiment, customer): the same on every machine, run and version."""

import hashlib

import numpy as np


def unit_hash(experiment: str, customer_ids) -> np.ndarray:
    """A number in [0, 1) per customer, from BLAKE2b of ``experiment`` and the customer id (not Python's
    ``hash``, which changes between processes).

    Examples
    --------
    >>> unit_hash("spring", ["c1", "c2"]).round(4).tolist()
    [0.2351, 0.5249]
    >>> bool(unit_hash("spring", ["c1"])[0] == unit_hash("spring", ["c0", "c1"])[1])
    True
    """
    prefix = experiment.encode() + b"\x1f"
    digests = b"".join(hashlib.blake2b(prefix + str(c).encode(), digest_size=8).digest() for c in customer_ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2.0 ** 64
