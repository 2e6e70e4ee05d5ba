"""Campaigns on segments: experiments declared in a file, their assignments and results, and bandits.

* :func:`load_experiments` - read and check ``experiments.yml`` (:class:`Experiment`, :class:`DeclarationError`).
* :func:`select_audience` / :func:`check_audience` - the eligible customers, from a checked SQL filter.
* :func:`assign` - hashed, stratified, sticky arms for an audience.
* :func:`check_outcomes` / :func:`experiment_results` - lift, 95% CIs, p-values and SRM per arm and segment.
* :func:`conversion_test`, :func:`revenue_test`, :func:`srm_test` - the tests themselves (scipy).
* :func:`ucb1_shares`, :func:`thompson_shares` - the next wave's allocation; :func:`bandit_allocations` - per
  experiment, stratum and arm; :func:`simulate_bandits` - regret against a uniform split.

Playbooks (the next best action per customer) are SQL: the dbt model ``segment_actions`` and the seed
``campaign_playbook``.
"""

from .allocations import bandit_allocations
from .assignment import apportion, assign
from .audience import check_audience, select_audience
from .bandits import prob_best, thompson_posteriors, thompson_shares, ucb1_bounds, ucb1_shares, with_floor
from .declarations import CONTROL, DeclarationError, Experiment, load_experiments, parse_experiments
from .hashing import unit_hash
from .results import check_outcomes, customer_outcomes, experiment_results
from .simulation import REWARD_SETTINGS, simulate_bandits
from .stats import conversion_test, revenue_test, srm_test

__all__ = [
    "CONTROL", "DeclarationError", "Experiment", "load_experiments", "parse_experiments", "check_audience",
    "select_audience", "unit_hash", "apportion", "assign", "check_outcomes", "customer_outcomes",
    "experiment_results", "conversion_test", "revenue_test", "srm_test", "ucb1_bounds", "ucb1_shares",
    "thompson_posteriors", "prob_best", "thompson_shares", "with_floor", "bandit_allocations",
    "REWARD_SETTINGS", "simulate_bandits",
]
