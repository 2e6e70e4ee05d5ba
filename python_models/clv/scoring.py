"""Readable bands over CLV scores, for analysts and BI filters."""

import numpy as np

# P(alive) below 0.3: likely gone; 0.3-0.7: uncertain; above 0.7: likely active.
CHURN_RISK_BANDS = ((0.3, "high"), (0.7, "medium"), (np.inf, "low"))
# Share of customers in each value tier, from the most valuable down.
VALUE_TIERS = ((0.10, "top 10%"), (0.30, "next 20%"), (0.60, "middle 30%"), (1.00, "bottom 40%"))


def churn_risk_band(p_alive) -> np.ndarray:
    """`high`, `medium` or `low` churn risk from P(alive).

    Examples
    --------
    >>> churn_risk_band([0.1, 0.5, 0.9]).tolist()
    ['high', 'medium', 'low']
    """
    p_alive = np.asarray(p_alive, dtype=float)
    bounds = np.array([bound for bound, _ in CHURN_RISK_BANDS])
    names = np.array([name for _, name in CHURN_RISK_BANDS], dtype=object)
    return names[np.searchsorted(bounds, p_alive, side="right")]


def value_tier(clv, customer_ids) -> np.ndarray:
    """Tier by rank of CLV (ties broken by customer id, so the split never depends on row order).

    Examples
    --------
    >>> value_tier([5.0, 1.0, 3.0, 2.0, 4.0, 0.0, 0.5, 0.2, 0.1, 9.0], list("abcdefghij")).tolist()[:3]
    ['next 20%', 'middle 30%', 'middle 30%']
    """
    clv = np.asarray(clv, dtype=float)
    order = np.lexsort((np.asarray(customer_ids), -clv))
    rank_share = np.empty(len(clv))
    rank_share[order] = (np.arange(len(clv)) + 1) / max(len(clv), 1)
    bounds = np.array([bound for bound, _ in VALUE_TIERS])
    names = np.array([name for _, name in VALUE_TIERS], dtype=object)
    return names[np.minimum(np.searchsorted(bounds, rank_share - 1e-12, side="left"), len(bounds) - 1)]
