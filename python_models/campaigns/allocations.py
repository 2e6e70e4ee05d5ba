"""bandit_allocations: the next wave's shares per experiment, stratum and arm, from the outcomes so far."""

import numpy as np
import pandas as pd

from .bandits import DEFAULT_FLOOR, prob_best, thompson_posteriors, ucb1_bounds, with_floor
from .declarations import Experiment
from .hashing import unit_hash

ALLOCATION_COLUMNS = ["experiment", "stratum", "wave", "algorithm", "arm", "pulls", "successes", "conversion_rate",
                      "ucb_bound", "posterior_alpha", "posterior_beta", "prob_best", "share", "floor"]


def bandit_allocations(experiments: list[Experiment], assignments: pd.DataFrame, outcomes: pd.DataFrame,
                       floor: float = DEFAULT_FLOOR, seed: int = 0) -> pd.DataFrame:
    """Rows of bandit_allocations (``ALLOCATION_COLUMNS``) for checked outcomes (see ``check_outcomes``).

    Per arm and stratum, pulls are the assigned customers with an outcome row and successes those who converted;
    the wave is the number of distinct ``observed_at`` dates so far plus one. Thompson's draws are seeded per
    experiment and stratum.

    Examples
    --------
    >>> import datetime as dt
    >>> e = Experiment("x", dt.date(2026, 1, 1), 0.5, (("offer", 1.0),))
    >>> a = pd.DataFrame({"experiment": "x", "customer_id": ["c1", "c2", "c3", "c4"],
    ...                   "arm": ["control", "offer"] * 2, "stratum": "1"})
    >>> o = pd.DataFrame({"experiment": "x", "customer_id": ["c1", "c2", "c3", "c4"],
    ...                   "converted": [False, True, False, True], "revenue": 0.0,
    ...                   "observed_at": dt.date(2026, 1, 8)})
    >>> r = bandit_allocations([e], a, o, floor=0.1)
    >>> r[r.algorithm == "ucb1"][["wave", "arm", "pulls", "successes", "share"]].values.tolist()
    [[2, 'control', 2, 0, 0.1], [2, 'offer', 2, 2, 0.9]]
    """
    rows = []
    for experiment in experiments:
        arms = list(experiment.arm_names)
        mine = outcomes[outcomes["experiment"] == experiment.name]
        assigned = assignments[assignments["experiment"] == experiment.name]
        wave = mine["observed_at"].nunique() + 1
        observed = (mine.groupby("customer_id", as_index=False).agg(converted=("converted", "max"))
                    .merge(assigned, on="customer_id"))
        for stratum in sorted(assigned["stratum"].unique()):
            here = observed[observed["stratum"] == stratum]
            pulls = here.groupby("arm").size().reindex(arms, fill_value=0).to_numpy()
            wins = here.groupby("arm")["converted"].sum().reindex(arms, fill_value=0).to_numpy().astype(int)
            bounds = ucb1_bounds(pulls, wins)
            best = (bounds == bounds.max()).astype(float)
            alpha, beta = thompson_posteriors(pulls, wins)
            p_best = prob_best(pulls, wins, seed=int(unit_hash(f"{experiment.name}/{seed}", [stratum])[0] * 2 ** 32))
            rate = np.where(pulls > 0, wins / np.maximum(pulls, 1), np.nan)
            for algorithm, shares in (("ucb1", with_floor(best / best.sum(), floor)),
                                      ("thompson", with_floor(p_best, floor))):
                ucb = algorithm == "ucb1"
                for i, arm in enumerate(arms):
                    rows.append((experiment.name, stratum, wave, algorithm, arm, int(pulls[i]), int(wins[i]),
                                 rate[i], bounds[i] if ucb else None, None if ucb else alpha[i],
                                 None if ucb else beta[i], None if ucb else p_best[i], float(shares[i]), floor))
    return pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)
