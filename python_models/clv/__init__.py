"""Buy-till-you-die customer lifetime value models in pure numpy/scipy.

* :class:`BetaGeoModel` - BG/NBD purchase counts (Fader, Hardie & Lee 2005).
* :class:`ParetoNBDModel` - Pareto/NBD purchase counts (Schmittlein et al. 1987).
* :class:`GammaGammaModel` - Gamma-Gamma spend per purchase, and CLV.

All models take per-customer summaries (``frequency`` = repeat purchases,
``recency`` = time of the last purchase since the first, ``T`` = time since the
first purchase; one time unit throughout), are fitted by maximum likelihood
with ``fit(...)`` (scikit-learn style, returns ``self``), expose ``params_`` and
``log_likelihood_``, and raise :class:`ConvergenceError` instead of returning a
bad fit (:class:`InsufficientDataError` when the data cannot identify the model
at all, e.g. nobody made a repeat purchase).  Models with known parameters are built with ``from_params(...)``.

Time units: the transaction models work in whatever unit frequency/recency/T
are given in (``alpha``/``beta`` come out in that unit, ``t`` horizons are in
that unit).  Only :meth:`GammaGammaModel.customer_lifetime_value` needs to know
the unit in days (``time_unit_days``), because it sums and discounts by month.

Examples
--------
>>> import numpy as np
>>> from python_models.clv import BetaGeoModel, GammaGammaModel
>>> bg = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> round(float(bg.expected_purchases(39, frequency=2, recency=30.43, T=38.86)), 3)
1.226
"""

from .beta_geo import BetaGeoModel
from .exceptions import ConvergenceError, InsufficientDataError, NotFittedError
from .gamma_gamma import GammaGammaModel
from .lifetime_value import discounted_lifetime_value
from .pareto_nbd import ParetoNBDModel
from .row_merging import MergedRows, merge_identical_rows
from .simulation import simulate_beta_geo, simulate_gamma_gamma_spend

__all__ = [
    "BetaGeoModel",
    "ParetoNBDModel",
    "GammaGammaModel",
    "ConvergenceError",
    "InsufficientDataError",
    "NotFittedError",
    "discounted_lifetime_value",
    "merge_identical_rows",
    "MergedRows",
    "simulate_beta_geo",
    "simulate_gamma_gamma_spend",
]
