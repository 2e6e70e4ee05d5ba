"""Campaign tables through the real graph: segment_actions from the shared demo warehouse, then the experiment
assets on a copy of it with the example experiments.yml, outcomes added, rerun."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from tests.pipeline import ROOT, frame, query, settings

FIXTURES = Path(__file__).parent / "fixtures" / "campaigns"
CAMPAIGN_ASSETS = ["experiment_assignments", "experiment_results", "bandit_allocations", "bandit_simulation"]


def run_campaign_assets(data_dir: Path, database: Path, raise_on_error: bool = True):
    """Materialize only the campaign assets; their upstream tables are already in `database`."""
    from dagster_assets.definitions import defs

    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database)):
        job = defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                                      asset_selection=[AssetKey(k) for k in CAMPAIGN_ASSETS])


def materialization(result, name: str):
    [event] = [e for e in result.get_asset_materialization_events()
               if e.event_specific_data.materialization.asset_key == AssetKey(name)]
    return event.event_specific_data.materialization.metadata


@pytest.fixture(scope="module")
def campaign_warehouse(demo_warehouse, tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaigns")
    database = folder / "segments.duckdb"
    shutil.copy(demo_warehouse, database)
    data_dir = folder / "data"
    data_dir.mkdir()
    shutil.copy(FIXTURES / "experiments.yml", data_dir / "experiments.yml")
    return data_dir, database


def test_segment_actions_one_row_per_customer(demo_warehouse):
    [(customers, rows, distinct, actions, unmatched)] = query(demo_warehouse, """
        select (select count(*) from customer_360), count(*), count(distinct customer_id),
               count(distinct next_best_action), count(*) filter (where rule_id = '(no rule matched)')
        from segment_actions""")
    assert rows == distinct == customers and actions == 5 and unmatched == 0
    # the rule that chose each action holds for the customer: spot-check two rules against their sources
    [(bad,)] = query(demo_warehouse, """
        select count(*) from segment_actions a join customer_clv c using (customer_id)
        where (a.rule_id = 'dnd_churned_high_risk' and (a.lifecycle_stage <> 'churned' or c.churn_risk <> 'high'))
           or (a.rule_id = 'loyalty_champions' and a.rfm_segment <> 'Champions')""")
    assert bad == 0
    # new customers always get onboarding: the only rule ranked above it needs the churned stage
    [(new_not_onboarded,)] = query(demo_warehouse, """
        select count(*) from segment_actions where lifecycle_stage = 'new' and next_best_action <> 'onboarding'""")
    assert new_not_onboarded == 0


def test_the_playbook_rule_order_unit_test_passes(demo_warehouse, demo_data, tmp_path):
    """The dbt unit test on hand-made rows (models/marts/campaigns/_campaigns__models.yml), run by name."""
    database = tmp_path / "segments.duckdb"
    shutil.copy(demo_warehouse, database)  # the unit test reads its inputs' column types from the warehouse
    dbt = Path(sys.executable).with_name("dbt")
    with settings(SEGMENTS_DATA_DIR=str(demo_data[0]), SEGMENTS_DUCKDB_PATH=str(database)):
        run = subprocess.run([str(dbt), "test", "--profiles-dir", str(ROOT), "--select",
                              "segment_actions,test_type:unit"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert "PASS segment_actions::segment_actions_first_matching_rule_by_priority_wins" in run.stdout, run.stdout


def test_without_experiments_the_tables_are_empty_and_say_why(demo_warehouse, demo_data, tmp_path):
    database = tmp_path / "segments.duckdb"
    shutil.copy(demo_warehouse, database)
    result = run_campaign_assets(demo_data[0], database)
    assert result.success
    for name in ("experiment_assignments", "experiment_results", "bandit_allocations"):
        assert query(database, f"select count(*) from {name}") == [(0,)]
        assert "no experiments.yml" in materialization(result, name)["note"].value
    regret = frame(database, "select setting, algorithm, cumulative_regret from bandit_simulation where wave = 20")
    final = regret.pivot(index="setting", columns="algorithm", values="cumulative_regret")
    assert len(final) == 3 and (final["ucb1"] < final["uniform"]).all() and (final["thompson"] < final["uniform"]).all()


def test_declare_assign_add_outcomes_read_results(campaign_warehouse):
    data_dir, database = campaign_warehouse
    assert run_campaign_assets(data_dir, database).success
    first = frame(database, "select * from experiment_assignments order by experiment, customer_id")
    # the audience filter holds, and arms follow the declared shares (20/40/40)
    [(outside,)] = query(database, """
        select count(*) from experiment_assignments a join customer_360 c using (customer_id)
        where a.experiment = 'winback_offer'
          and not (c.rfm_segment in ('At Risk', 'Hibernating', 'About to Sleep') and c.net_revenue > 0)""")
    assert outside == 0
    winback = first[first["experiment"] == "winback_offer"]
    shares = winback["arm"].value_counts(normalize=True)
    assert abs(shares["control"] - 0.2) < 0.01 and abs(shares["discount_10"] - 0.4) < 0.01
    # results before any outcome: counts and SRM only
    before = frame(database, "select * from experiment_results where level = 'arm'")
    assert (before["conversions"] == 0).all() and not before["srm_flagged"].any()

    # outcomes: discount_10 converts at 35%, the others at 10%, over two waves
    rng = np.random.default_rng(0)
    rate = np.where(winback["arm"] == "discount_10", 0.35, 0.10)
    converted = rng.random(len(winback)) < rate
    outcomes = pd.DataFrame({
        "customer_id": winback["customer_id"], "experiment": "winback_offer", "converted": converted.astype(int),
        "revenue": np.where(converted, 40.0, 0.0), "observed_at": np.where(rng.random(len(winback)) < 0.5,
                                                                           "2025-12-20", "2025-12-27")})
    outcomes.to_csv(data_dir / "experiment_outcomes.csv", index=False)
    assert run_campaign_assets(data_dir, database).success

    again = frame(database, "select * from experiment_assignments order by experiment, customer_id")
    pd.testing.assert_frame_equal(first, again, check_dtype=False)  # nobody moved on the rerun
    results = frame(database, "select * from experiment_results where experiment = 'winback_offer'")
    arm = results[results["level"] == "arm"].set_index("arm")
    assert arm.loc["discount_10", "conversion_p_value"] < 0.05
    assert arm.loc["discount_10", "conversion_ci_low"] < 0.25 < arm.loc["discount_10", "conversion_ci_high"]
    assert arm.loc["free_shipping", "conversion_p_value"] > 0.001
    assert arm.loc["discount_10", "revenue_lift"] > 0 and arm.loc["discount_10", "revenue_p_value"] < 0.05
    assert (results["level"] == "arm_segment").sum() == 3 * winback["stratum"].nunique()

    allocations = frame(database, "select * from bandit_allocations where experiment = 'winback_offer'")
    assert (allocations["wave"] == 3).all()  # two waves observed
    sums = allocations.groupby(["stratum", "algorithm"])["share"].sum()
    assert np.allclose(sums, 1) and (allocations["share"] >= 0.05 - 1e-9).all()
    thompson = allocations[allocations["algorithm"] == "thompson"]
    favoured = thompson.loc[thompson.groupby("stratum")["share"].idxmax(), "arm"]
    assert (favoured == "discount_10").mean() > 0.5


def test_an_outcome_for_a_customer_never_assigned_fails_the_run(campaign_warehouse, tmp_path):
    data_dir, database = campaign_warehouse
    bad_dir = tmp_path / "data"
    bad_dir.mkdir()
    shutil.copy(data_dir / "experiments.yml", bad_dir / "experiments.yml")
    pd.DataFrame({"customer_id": ["nobody"], "experiment": ["winback_offer"], "converted": [1], "revenue": [1.0],
                  "observed_at": ["2025-12-20"]}).to_csv(bad_dir / "experiment_outcomes.csv", index=False)
    copy = tmp_path / "segments.duckdb"
    shutil.copy(database, copy)
    result = run_campaign_assets(bad_dir, copy, raise_on_error=False)
    assert not result.success
    messages = " ".join(str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure)
    assert "experiment_outcomes.csv" in messages and "'nobody'" in messages
