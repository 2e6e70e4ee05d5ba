"""Campaigns: experiments declared in SEGMENTS_DATA_DIR/experiments.yml, their assignments, results and bandits.

Thin assets over python_models.campaigns. Without an experiments.yml (most shops) the experiment tables are
written empty and the metadata says why. The playbook (segment_actions) is a dbt model.
"""

from pathlib import Path

import pandas as pd
import pyarrow as pa
from dagster import AssetExecutionContext, Config, EnvVar, MaterializeResult, MetadataValue, asset

from python_models.campaigns import REWARD_SETTINGS, check_outcomes, load_experiments, select_audience, simulate_bandits
from python_models.campaigns import bandit_allocations as allocation_rows
from python_models.campaigns import experiment_results as results_rows
from python_models.campaigns.assignment import assign
from python_models.campaigns.bandits import DEFAULT_FLOOR
from python_models.campaigns.results import OUTCOME_COLUMNS, RESULT_COLUMNS

from .project import PROJECT_ROOT
from .warehouse import Warehouse

EXPERIMENTS_FILE = "experiments.yml"
OUTCOMES_FILE = "experiment_outcomes.csv"
GROUP = "campaigns"

ASSIGNMENTS_SCHEMA = pa.schema([
    ("experiment", pa.string()), ("customer_id", pa.string()), ("arm", pa.string()), ("stratum", pa.string()),
    ("unit_hash", pa.float64()), ("assigned_on", pa.date32()),
])
_RESULT_TYPES = {"experiment": pa.string(), "level": pa.string(), "stratum": pa.string(), "arm": pa.string(),
                 "is_control": pa.bool_(), "customers": pa.int64(), "conversions": pa.int64(),
                 "srm_flagged": pa.bool_(), "outcomes_observed_to": pa.date32()}
RESULTS_SCHEMA = pa.schema([(c, _RESULT_TYPES.get(c, pa.float64())) for c in RESULT_COLUMNS])
ALLOCATIONS_SCHEMA = pa.schema([
    ("experiment", pa.string()), ("stratum", pa.string()), ("wave", pa.int64()), ("algorithm", pa.string()),
    ("arm", pa.string()), ("pulls", pa.int64()), ("successes", pa.int64()), ("conversion_rate", pa.float64()),
    ("ucb_bound", pa.float64()), ("posterior_alpha", pa.float64()), ("posterior_beta", pa.float64()),
    ("prob_best", pa.float64()), ("share", pa.float64()), ("floor", pa.float64()),
])
SIMULATION_SCHEMA = pa.schema([
    ("setting", pa.string()), ("true_rates", pa.string()), ("algorithm", pa.string()), ("wave", pa.int64()),
    ("customers", pa.int64()), ("conversions", pa.int64()), ("regret", pa.float64()),
    ("cumulative_regret", pa.float64()), ("best_arm_share", pa.float64()),
])


class BanditConfig(Config):
    """The bandits' settings."""

    floor: float = DEFAULT_FLOOR  # every arm keeps at least this share of a wave
    seed: int = 0  # Thompson sampling's draws and the simulation's outcomes
    n_waves: int = 20  # simulation only
    wave_size: int = 1000  # simulation only


def data_dir() -> Path:
    """SEGMENTS_DATA_DIR as dbt reads it (relative paths against the project root)."""
    path = Path(EnvVar("SEGMENTS_DATA_DIR").get_value() or "data/demo").expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _experiments():
    path = data_dir() / EXPERIMENTS_FILE
    return path, load_experiments(path)


def _write(warehouse: Warehouse, name: str, frame: pd.DataFrame, schema: pa.Schema,
           **metadata) -> MaterializeResult:
    """Replace `main.<name>` with `frame` typed as `schema`; the metadata adds the notes given."""
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    return MaterializeResult(metadata={**warehouse.write_table(name, table),
                                       **{k: MetadataValue.text(str(v)) for k, v in metadata.items()}})


def _no_experiments(path: Path) -> str:
    return f"no {EXPERIMENTS_FILE} in {path.parent}: no experiments declared, so the table is empty"


def _assignments(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.has_table("experiment_assignments"):
        return pd.DataFrame(columns=ASSIGNMENTS_SCHEMA.names)
    return warehouse.read_frame("select * from main.experiment_assignments")


def _outcomes(assignments: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    path = data_dir() / OUTCOMES_FILE
    if not path.exists():
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                              zip(OUTCOME_COLUMNS, [str, str, bool, float, object])})
        return empty, f"no {OUTCOMES_FILE} in {path.parent}: no outcomes yet (nobody converted so far)"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return check_outcomes(raw, assignments, str(path)), f"{len(raw)} outcome rows from {path}"


@asset(deps=["customer_360"], group_name=GROUP,
       description="One row per experiment and assigned customer: the arm (control = the holdout), the stratum "
                   "at assignment and the date. Sticky: a customer keeps the arm on every later run.")
def experiment_assignments(context: AssetExecutionContext, warehouse: Warehouse):
    path, experiments = _experiments()
    if not experiments:
        context.log.info(_no_experiments(path))
        return _write(warehouse, "experiment_assignments", pd.DataFrame(columns=ASSIGNMENTS_SCHEMA.names),
                      ASSIGNMENTS_SCHEMA, note=_no_experiments(path))
    as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
    previous = _assignments(warehouse)
    frames, notes = [], []
    with warehouse.connect(read_only=True) as con:
        for experiment in experiments:
            if experiment.start > as_of:
                notes.append(f"{experiment.name}: starts {experiment.start}, after the snapshot {as_of}: "
                             "nobody assigned yet")
                continue
            audience = select_audience(con, experiment, str(path))
            assigned = assign(experiment, audience, previous, assigned_on=as_of)
            frames.append(assigned)
            counts = assigned["arm"].value_counts().reindex(experiment.arm_names, fill_value=0)
            notes.append(f"{experiment.name}: {len(assigned)} customers ("
                         + ", ".join(f"{arm} {n}" for arm, n in counts.items()) + ")")
    for note in notes:
        context.log.info(note)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ASSIGNMENTS_SCHEMA.names)
    return _write(warehouse, "experiment_assignments", rows, ASSIGNMENTS_SCHEMA, experiments="\n".join(notes))


@asset(deps=["experiment_assignments"], group_name=GROUP,
       description="Per experiment and arm, and per arm x stratum: conversion and revenue per customer, lift "
                   "against control with 95% CIs and p-values, and the sample-ratio-mismatch check.")
def experiment_results(context: AssetExecutionContext, warehouse: Warehouse):
    path, experiments = _experiments()
    if not experiments:
        return _write(warehouse, "experiment_results", pd.DataFrame(columns=RESULT_COLUMNS), RESULTS_SCHEMA,
                      note=_no_experiments(path))
    assignments = _assignments(warehouse)
    outcomes, source = _outcomes(assignments)
    results = results_rows(experiments, assignments, outcomes)
    flagged = results.loc[(results["level"] == "arm") & results["srm_flagged"], "experiment"].unique()
    for name in flagged:
        context.log.warning(f"{name}: sample-ratio mismatch (p < 0.001): the arms' sizes do not match the "
                            "declared shares; check the assignment before reading the results")
    return _write(warehouse, "experiment_results", results, RESULTS_SCHEMA, outcomes=source,
                  srm_flagged=", ".join(flagged) or "none")


@asset(deps=["experiment_assignments"], group_name=GROUP,
       description="The next wave's share per experiment, stratum and arm under UCB1 and Thompson sampling, "
                   "with each arm's bound or posterior, from the outcomes so far; every arm keeps a floor.")
def bandit_allocations(context: AssetExecutionContext, config: BanditConfig, warehouse: Warehouse):
    path, experiments = _experiments()
    if not experiments:
        return _write(warehouse, "bandit_allocations", pd.DataFrame(columns=ALLOCATIONS_SCHEMA.names),
                      ALLOCATIONS_SCHEMA, note=_no_experiments(path))
    assignments = _assignments(warehouse)
    outcomes, source = _outcomes(assignments)
    rows = allocation_rows(experiments, assignments, outcomes, floor=config.floor, seed=config.seed)
    return _write(warehouse, "bandit_allocations", rows, ALLOCATIONS_SCHEMA, outcomes=source)


@asset(group_name=GROUP,
       description="Cumulative regret per wave of UCB1, Thompson sampling and a uniform split, simulated on "
                   "three known reward settings (python_models.campaigns.simulation).")
def bandit_simulation(context: AssetExecutionContext, config: BanditConfig, warehouse: Warehouse):
    frames = []
    for setting, rates in REWARD_SETTINGS.items():
        sim = simulate_bandits(rates, n_waves=config.n_waves, wave_size=config.wave_size, floor=config.floor,
                               seed=config.seed)
        frames.append(sim.assign(setting=setting, true_rates=", ".join(f"{r:g}" for r in rates)))
    table = pd.concat(frames, ignore_index=True)
    final = table[table["wave"] == config.n_waves]
    summary = "; ".join(f"{s}: " + ", ".join(f"{r.algorithm} {r.cumulative_regret:.0f}" for r in g.itertuples())
                        for s, g in final.groupby("setting", sort=False))
    context.log.info(f"cumulative regret after {config.n_waves} waves - {summary}")
    return _write(warehouse, "bandit_simulation", table, SIMULATION_SCHEMA, final_regret=summary)


CAMPAIGN_ASSETS = [experiment_assignments, experiment_results, bandit_allocations, bandit_simulation]
