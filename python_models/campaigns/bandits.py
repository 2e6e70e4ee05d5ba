"""Next-wave allocations from the outcomes so far: UCB1 and Thompson sampling (Beta-Bernoulli), with a floor.

Both see, per arm, ``pulls`` (customers sent so far) and ``successes`` (conversions among them). UCB1 gives the
wave to the arm with the highest upper confidence bound ``mean + sqrt(2 ln N / pulls)`` (N = all pulls; an arm
never pulled has an infinite bound; ties share). Thompson sampling gives each arm the posterior probability that
it is the best, from a Beta(1 + successes, 1 + failures) posterior per arm (a uniform prior), estimated with
seeded draws. Then every arm gets at least ``floor`` of the wave, so no arm starves: share = floor + (1 - K floor)
x raw share.
"""

import numpy as np

DEFAULT_FLOOR = 0.05
THOMPSON_DRAWS = 20_000


def with_floor(shares, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """``floor + (1 - K floor) * shares``: every arm keeps at least ``floor`` (a uniform split when K floor >= 1).

    Examples
    --------
    >>> with_floor([1.0, 0.0, 0.0], 0.1).round(2).tolist()
    [0.8, 0.1, 0.1]
    """
    shares = np.asarray(shares, dtype=float)
    k = len(shares)
    if floor * k >= 1:
        return np.full(k, 1 / k)
    return floor + (1 - k * floor) * shares / shares.sum()


def ucb1_bounds(pulls, successes) -> np.ndarray:
    """UCB1 upper bounds: mean + sqrt(2 ln N / pulls); infinite for an arm not pulled yet.

    Examples
    --------
    >>> ucb1_bounds([100, 100, 0], [10, 20, 0]).round(3).tolist()
    [0.426, 0.526, inf]
    """
    pulls, successes = np.asarray(pulls, float), np.asarray(successes, float)
    total = pulls.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        bonus = np.sqrt(2 * np.log(max(total, 1)) / pulls)
        bounds = successes / pulls + bonus
    return np.where(pulls > 0, bounds, np.inf)


def ucb1_shares(pulls, successes, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """The next wave's shares under UCB1: the arm with the highest bound, floored.

    Examples
    --------
    >>> ucb1_shares([100, 100], [10, 20], floor=0.05).round(3).tolist()
    [0.05, 0.95]
    """
    bounds = ucb1_bounds(pulls, successes)
    best = (bounds == bounds.max()).astype(float)
    return with_floor(best / best.sum(), floor)


def thompson_posteriors(pulls, successes) -> tuple[np.ndarray, np.ndarray]:
    """Beta posterior parameters (alpha, beta) per arm from a uniform Beta(1, 1) prior."""
    pulls, successes = np.asarray(pulls, float), np.asarray(successes, float)
    return 1 + successes, 1 + pulls - successes


def prob_best(pulls, successes, seed: int = 0, draws: int = THOMPSON_DRAWS) -> np.ndarray:
    """P(arm has the highest conversion rate) under the Beta posteriors, from seeded draws.

    Examples
    --------
    >>> prob_best([1000, 1000], [100, 150], seed=0).round(2).tolist()
    [0.0, 1.0]
    """
    alpha, beta = thompson_posteriors(pulls, successes)
    if np.all(alpha == alpha[0]) and np.all(beta == beta[0]):  # the same posterior: equally likely, exactly
        return np.full(len(alpha), 1 / len(alpha))
    samples = np.random.default_rng(seed).beta(alpha, beta, size=(draws, len(alpha)))
    winners = samples.argmax(axis=1)
    return np.bincount(winners, minlength=len(alpha)) / draws


def thompson_shares(pulls, successes, floor: float = DEFAULT_FLOOR, seed: int = 0) -> np.ndarray:
    """The next wave's shares under Thompson sampling: each arm's probability of being best, floored.

    Examples
    --------
    >>> thompson_shares([0, 0], [0, 0], floor=0.05).tolist()
    [0.5, 0.5]
    """
    return with_floor(prob_best(pulls, successes, seed), floor)
