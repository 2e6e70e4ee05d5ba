"""Bandits against a uniform split on known conversion rates: cumulative regret wave by wave.

Each wave sends ``wave_size`` customers, split by the algorithm's shares (whole customers, largest remainders);
their conversions are drawn from the true rates with a seeded generator; the algorithm then sees them. Regret is
the expected conversions lost against sending everyone to the best arm: sum over arms of customers x (best rate -
arm's rate), accumulated over the waves.
"""

import numpy as np
import pandas as pd

from .assignment import apportion
from .bandits import DEFAULT_FLOOR, thompson_shares, ucb1_shares

# Three known reward settings (true conversion rates per arm) the simulation and its tests use.
REWARD_SETTINGS = {
    "two_arms_5_vs_10pct": (0.05, 0.10),
    "three_arms_2_4_6pct": (0.02, 0.04, 0.06),
    "four_arms_close_top": (0.10, 0.12, 0.15, 0.20),
}
ALGORITHMS = ("ucb1", "thompson", "uniform")


def simulate_bandits(rates, n_waves: int = 20, wave_size: int = 1000, floor: float = DEFAULT_FLOOR,
                     seed: int = 0) -> pd.DataFrame:
    """Cumulative regret per wave of UCB1, Thompson sampling and a uniform split on ``rates``.

    Returns one row per algorithm and wave: ``algorithm, wave, customers, conversions, regret,
    cumulative_regret, best_arm_share`` (the wave's share sent to the best arm).

    Examples
    --------
    >>> sim = simulate_bandits((0.05, 0.10), n_waves=20, seed=1)
    >>> last = sim[sim.wave == 20].set_index("algorithm")["cumulative_regret"]
    >>> bool(last["ucb1"] < last["uniform"] and last["thompson"] < last["uniform"])
    True
    """
    rates = np.asarray(rates, dtype=float)
    gaps = rates.max() - rates
    rows = []
    for a, algorithm in enumerate(ALGORITHMS):
        rng = np.random.default_rng([seed, a])
        pulls = np.zeros(len(rates))
        successes = np.zeros(len(rates))
        regret = 0.0
        for wave in range(1, n_waves + 1):
            if algorithm == "ucb1":
                shares = ucb1_shares(pulls, successes, floor)
            elif algorithm == "thompson":
                shares = thompson_shares(pulls, successes, floor, seed=seed * 1000 + wave)
            else:
                shares = np.full(len(rates), 1 / len(rates))
            sent = apportion(wave_size, shares)
            converted = rng.binomial(sent, rates)
            pulls += sent
            successes += converted
            wave_regret = float(sent @ gaps)
            regret += wave_regret
            rows.append((algorithm, wave, int(sent.sum()), int(converted.sum()), wave_regret, regret,
                         sent[rates.argmax()] / sent.sum()))
    return pd.DataFrame(rows, columns=["algorithm", "wave", "customers", "conversions", "regret",
                                       "cumulative_regret", "best_arm_share"])
