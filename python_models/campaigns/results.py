"""experiment_results: per arm, and per arm x stratum, conversion and revenue against control, with SRM."""

import numpy as np
import pandas as pd

from .declarations import CONTROL, DeclarationError, Experiment
from .stats import conversion_test, revenue_test, srm_test

OUTCOME_COLUMNS = ["customer_id", "experiment", "converted", "revenue", "observed_at"]
ALL_STRATA = "(all)"
RESULT_COLUMNS = [
    "experiment", "level", "stratum", "arm", "is_control", "customers", "expected_share", "observed_share",
    "conversions", "conversion_rate", "conversion_lift", "conversion_lift_relative", "conversion_ci_low",
    "conversion_ci_high", "conversion_p_value", "revenue_per_customer", "revenue_lift", "revenue_lift_relative",
    "revenue_ci_low", "revenue_ci_high", "revenue_p_value", "srm_chi2", "srm_p_value", "srm_flagged",
    "outcomes_observed_to",
]


def check_outcomes(outcomes: pd.DataFrame, assignments: pd.DataFrame,
                   source: str = "experiment_outcomes.csv") -> pd.DataFrame:
    """Typed outcome rows, after checking them: the columns are there, and every row is for a customer
    assigned in that experiment. Raises :class:`DeclarationError` naming the file, the column or the rows.

    Examples
    --------
    >>> a = pd.DataFrame({"experiment": ["x"], "customer_id": ["c1"], "arm": ["control"]})
    >>> o = pd.DataFrame({"customer_id": ["c1", "c9"], "experiment": ["x", "x"], "converted": [1, 0],
    ...                   "revenue": [5.0, 0.0], "observed_at": ["2026-01-02", "2026-01-02"]})
    >>> check_outcomes(o, a)
    Traceback (most recent call last):
    ...
    python_models.campaigns.declarations.DeclarationError: experiment_outcomes.csv: 1 row(s) for customers never assigned in their experiment, e.g. line 3: customer 'c9' in experiment 'x'
    """
    missing = [c for c in OUTCOME_COLUMNS if c not in outcomes.columns]
    if missing:
        raise DeclarationError(f"{source}: missing column(s) {', '.join(missing)}; expected "
                               f"{', '.join(OUTCOME_COLUMNS)}")
    out = outcomes[OUTCOME_COLUMNS].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out["experiment"] = out["experiment"].astype(str)
    converted = out["converted"].astype(str).str.strip().str.lower()
    mapping = {"1": True, "0": False, "true": True, "false": False, "1.0": True, "0.0": False}
    bad = ~converted.isin(mapping)
    if bad.any():
        line = int(np.flatnonzero(bad)[0]) + 2
        raise DeclarationError(f"{source}: column 'converted' must be 0/1 or true/false; line {line} has "
                               f"{out['converted'].iloc[line - 2]!r}")
    out["converted"] = converted.map(mapping).astype(bool)
    revenue = pd.to_numeric(out["revenue"], errors="coerce")
    if revenue.isna().any():
        line = int(np.flatnonzero(revenue.isna())[0]) + 2
        raise DeclarationError(f"{source}: column 'revenue' must be a number; line {line} has "
                               f"{out['revenue'].iloc[line - 2]!r}")
    out["revenue"] = revenue.astype(float)
    observed = pd.to_datetime(out["observed_at"], errors="coerce")
    if observed.isna().any():
        line = int(np.flatnonzero(observed.isna())[0]) + 2
        raise DeclarationError(f"{source}: column 'observed_at' must be a date; line {line} has "
                               f"{out['observed_at'].iloc[line - 2]!r}")
    out["observed_at"] = observed.dt.date
    known = pd.MultiIndex.from_frame(assignments[["experiment", "customer_id"]].astype(str))
    unassigned = ~pd.MultiIndex.from_frame(out[["experiment", "customer_id"]]).isin(known)
    if unassigned.any():
        first = int(np.flatnonzero(unassigned)[0])
        raise DeclarationError(
            f"{source}: {int(unassigned.sum())} row(s) for customers never assigned in their experiment, e.g. "
            f"line {first + 2}: customer {out['customer_id'].iloc[first]!r} in experiment "
            f"{out['experiment'].iloc[first]!r}")
    return out


def customer_outcomes(assignments: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per assigned customer: arm, stratum, converted (any outcome row converted) and revenue (summed);
    customers without an outcome row count as not converted, revenue 0."""
    per_customer = (outcomes.groupby(["experiment", "customer_id"], as_index=False)
                    .agg(converted=("converted", "max"), revenue=("revenue", "sum")))
    merged = assignments.merge(per_customer, on=["experiment", "customer_id"], how="left")
    return merged.assign(converted=merged["converted"].fillna(False).astype(bool),
                         revenue=merged["revenue"].fillna(0.0).astype(float))


def experiment_results(experiments: list[Experiment], assignments: pd.DataFrame,
                       outcomes: pd.DataFrame) -> pd.DataFrame:
    """Rows of experiment_results (``RESULT_COLUMNS``) for checked ``outcomes`` (see :func:`check_outcomes`).

    Examples
    --------
    >>> import datetime as dt
    >>> e = Experiment("x", dt.date(2026, 1, 1), 0.5, (("offer", 1.0),))
    >>> a = pd.DataFrame({"experiment": "x", "customer_id": [f"c{i}" for i in range(8)],
    ...                   "arm": ["control", "offer"] * 4, "stratum": "1"})
    >>> o = pd.DataFrame({"experiment": "x", "customer_id": ["c1", "c3", "c0"], "converted": True,
    ...                   "revenue": [10.0, 20.0, 5.0], "observed_at": dt.date(2026, 1, 5)})
    >>> r = experiment_results([e], a, o)
    >>> r.loc[r.level == "arm", ["arm", "customers", "conversion_rate", "revenue_per_customer"]].values.tolist()
    [['control', 4, 0.25, 1.25], ['offer', 4, 0.5, 7.5]]
    """
    rows = []
    for experiment in experiments:
        data = customer_outcomes(assignments[assignments["experiment"] == experiment.name],
                                 outcomes[outcomes["experiment"] == experiment.name])
        observed_to = outcomes.loc[outcomes["experiment"] == experiment.name, "observed_at"].max()
        observed_to = None if pd.isna(observed_to) else observed_to
        groups = [("arm", ALL_STRATA, data)] + [("arm_segment", s, g) for s, g in data.groupby("stratum")]
        for level, stratum, group in groups:
            rows.extend(_group_rows(experiment, level, stratum, group, observed_to))
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["outcomes_observed_to"] = frame["outcomes_observed_to"].astype(object)
    return frame.astype({"customers": "int64", "conversions": "int64", "is_control": bool, "srm_flagged": bool})


def _group_rows(experiment: Experiment, level: str, stratum: str, group: pd.DataFrame, observed_to) -> list:
    arms = experiment.arm_names
    by_arm = {arm: group[group["arm"] == arm] for arm in arms}
    counts = np.array([len(by_arm[arm]) for arm in arms])
    chi2, p_srm, flagged = srm_test(counts, experiment.shares)
    control = by_arm[CONTROL]
    c_rate = control["converted"].mean() if len(control) else np.nan
    c_revenue = control["revenue"].mean() if len(control) else np.nan
    rows = []
    for arm, share in zip(arms, experiment.shares):
        rows_arm = by_arm[arm]
        n = len(rows_arm)
        conversions = int(rows_arm["converted"].sum())
        rate = conversions / n if n else np.nan
        revenue = rows_arm["revenue"].mean() if n else np.nan
        if arm == CONTROL:
            conv = rev = (np.nan,) * 4
        else:
            conv = conversion_test(conversions, n, int(control["converted"].sum()), len(control))
            rev = revenue_test(rows_arm["revenue"].to_numpy(), control["revenue"].to_numpy())
        rows.append([
            experiment.name, level, stratum, arm, arm == CONTROL, n, share,
            n / counts.sum() if counts.sum() else np.nan, conversions, rate, conv[0],
            conv[0] / c_rate if c_rate else np.nan, conv[1], conv[2], conv[3], revenue, rev[0],
            rev[0] / c_revenue if c_revenue else np.nan, rev[1], rev[2], rev[3], chi2, p_srm, flagged,
            observed_to,
        ])
    return rows
