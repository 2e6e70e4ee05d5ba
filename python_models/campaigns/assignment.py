"""Arms for an experiment's audience: hashed, stratified, and sticky.

Within each stratum (segment by default) the customers not yet assigned are ordered by their hash of
(experiment, customer) and dealt to the arms in blocks sized so that the stratum's counts, old and new together,
come as close as whole customers allow to the declared shares. Customers already assigned keep their arm (pass
the previous assignments back in): a rerun changes nothing, and customers who join later fill the arms' gaps
without moving anyone. With the same audience and the same previous assignments, the result is always the same.
"""

import datetime as dt

import numpy as np
import pandas as pd

from .declarations import DeclarationError, Experiment
from .hashing import unit_hash

ASSIGNMENT_COLUMNS = ["experiment", "customer_id", "arm", "stratum", "unit_hash", "assigned_on"]


def apportion(total: int, weights) -> np.ndarray:
    """Whole counts summing to ``total`` in proportion to ``weights`` (largest remainders, ties to the first).

    Examples
    --------
    >>> apportion(10, [0.2, 0.4, 0.4]).tolist()
    [2, 4, 4]
    >>> apportion(5, [1, 1, 1]).tolist()
    [2, 2, 1]
    """
    weights = np.asarray(weights, dtype=float)
    if total <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    leftover = total - counts.sum()
    order = np.lexsort((np.arange(len(weights)), -(exact - counts)))  # largest remainder first
    counts[order[:leftover]] += 1
    return counts


def assign(experiment: Experiment, audience: pd.DataFrame, previous: pd.DataFrame | None = None,
           assigned_on: dt.date | None = None) -> pd.DataFrame:
    """Assignments of ``audience`` (``customer_id``, ``stratum``) to the arms of ``experiment``.

    ``previous`` holds earlier assignments of this experiment (``ASSIGNMENT_COLUMNS``); they are kept as they are,
    also for customers who have left the audience since (the experiment follows whoever it assigned). Returns one
    row per customer in ``ASSIGNMENT_COLUMNS``, sorted by customer.

    Examples
    --------
    >>> e = Experiment("x", dt.date(2026, 1, 1), 0.5, (("offer", 1.0),))
    >>> first = assign(e, pd.DataFrame({"customer_id": list("abcd"), "stratum": "1"}))
    >>> first["arm"].value_counts().sort_index().to_dict()
    {'control': 2, 'offer': 2}
    >>> grown = assign(e, pd.DataFrame({"customer_id": list("abcdef"), "stratum": "1"}), previous=first)
    >>> bool((grown.set_index("customer_id").loc[list("abcd"), "arm"] == first.set_index("customer_id")["arm"]).all())
    True
    """
    arms = np.array(experiment.arm_names)
    shares = np.array(experiment.shares)
    previous = (previous if previous is not None else pd.DataFrame(columns=ASSIGNMENT_COLUMNS))
    previous = previous[previous["experiment"] == experiment.name][ASSIGNMENT_COLUMNS]
    unknown = sorted(set(previous["arm"]) - set(arms))
    if unknown:
        raise DeclarationError(f"experiments.yml: experiment {experiment.name!r}, field 'arms': customers are "
                               f"already assigned to arm(s) {', '.join(unknown)}, which are no longer declared; "
                               "an experiment's arms cannot be removed (declare a new experiment instead)")
    audience = audience.drop_duplicates("customer_id")
    new = audience[~audience["customer_id"].isin(previous["customer_id"])].copy()
    new["unit_hash"] = unit_hash(experiment.name, new["customer_id"])
    new = new.sort_values(["stratum", "unit_hash", "customer_id"], kind="stable")
    existing = (previous.groupby(["stratum", "arm"]).size().unstack(fill_value=0)
                .reindex(columns=arms, fill_value=0))
    new_arms = np.empty(len(new), dtype=object)
    strata = new["stratum"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, strata[1:] != strata[:-1], True]) if len(new) else np.zeros(1, int)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        had = existing.loc[strata[lo]].to_numpy() if strata[lo] in existing.index else np.zeros(len(arms))
        deficit = np.clip(shares * (had.sum() + hi - lo) - had, 0, None)
        counts = apportion(hi - lo, deficit if deficit.sum() > 0 else shares)
        new_arms[lo:hi] = np.repeat(arms, counts)
    new = new.assign(experiment=experiment.name, arm=new_arms, assigned_on=assigned_on)
    out = pd.concat([previous, new[ASSIGNMENT_COLUMNS]], ignore_index=True) if len(previous) else \
        new[ASSIGNMENT_COLUMNS].reset_index(drop=True)
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)
