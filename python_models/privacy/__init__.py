"""Privacy for what leaves the warehouse: small groups suppressed, and differentially private counts.

* :func:`suppress_small_groups` - blank the figures of groups with fewer than k customers (BI-facing tables).
* :func:`laplace_counts` - counts with Laplace noise for sharing outside (epsilon-differential privacy).
* :func:`release_rng` - the noise generator of one release, seeded from a secret so that only its owner can
  reproduce the noise.

Personal columns (email, phone, name) never reach Python: staging hashes them with a salt (dbt).
"""

from .laplace import laplace_counts, release_rng
from .suppression import suppress_small_groups

__all__ = ["laplace_counts", "release_rng", "suppress_small_groups"]
