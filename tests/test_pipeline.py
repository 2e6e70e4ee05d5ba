"""The whole graph, materialized in process into a temporary DuckDB file from generated demo data."""


import duckdb
import pandas as pd
import pytest
import sqlalchemy
from sklearn.metrics import adjusted_rand_score

from tests.pipeline import frame, materialize_all, query

PUBLISHED_TABLES = ["customer_rfm", "customer_behavior", "customer_features", "feature_slots",
                    "rejected_transactions", "customer_segments", "segment_profiles", "segmentation_metrics",
                    "segment_rules", "customer_map", "customer_360", "customer_clv", "clv_model_params",
                    "clv_holdout_evaluation", "customer_propensity", "propensity_evaluation", "customer_lifecycle",
                    "lifecycle_transitions", "segment_history", "segment_drift", "feature_distributions",
                    "segment_transitions", "rfm_segment_transitions", "customer_taste", "customer_churn_risk",
                    "segment_validity"]


def test_every_input_line_is_accepted_or_rejected_as_planted(demo_data, demo_warehouse):
    _, truth = demo_data
    accepted = query(demo_warehouse, "select count(*) from staging.stg_shop__transactions")[0][0]
    rejected = dict(query(demo_warehouse, "select reject_reason, count(*) from rejected_transactions group by 1"))
    assert accepted + sum(rejected.values()) == truth["input_rows"]
    assert rejected == truth["rejected_by_reason"]
    assert accepted == truth["accepted_rows"]
    returns = query(demo_warehouse, "select count(*) from staging.stg_shop__transactions where is_return")[0][0]
    assert returns == truth["returns"]


def test_segments_recover_planted_personas(demo_data, demo_warehouse):
    data_dir, _ = demo_data
    personas = pd.read_csv(data_dir / "ground_truth" / "personas.csv", dtype=str)
    segments = frame(demo_warehouse, "select customer_id, segment_id from customer_segments")
    joined = personas.merge(segments, on="customer_id", validate="one_to_one")
    assert len(joined) == len(personas)
    assert adjusted_rand_score(joined["persona"], joined["segment_id"]) >= 0.85

    # every candidate algorithm was scored, k = 4..10 where k is chosen, and the rule picked the planted number
    metrics = frame(demo_warehouse, "select * from segmentation_metrics order by algorithm, k")
    assert set(metrics["algorithm"]) == {"kmeans", "gmm", "ward", "hdbscan", "ae_kmeans", "idec"}
    assert metrics["chosen"].sum() == 1
    for algorithm in ("kmeans", "gmm", "ward"):
        assert metrics.loc[metrics["algorithm"] == algorithm, "k"].tolist() == list(range(4, 11))
    # the embedding candidates refine the feature-space choice: one each, at the planted k
    assert metrics.loc[metrics["algorithm"].isin(["ae_kmeans", "idec"]), "k"].tolist() == [personas["persona"].nunique()] * 2
    assert metrics["run_id"].nunique() == 1 and metrics["stability"].notna().all()
    chosen = metrics[metrics["chosen"]].iloc[0]
    assert chosen["stability"] >= 0.8
    assert chosen["k"] == segments["segment_id"].nunique() == personas["persona"].nunique()


def test_segment_profiles_describe_every_segment(demo_warehouse):
    profiles = frame(demo_warehouse, "select * from segment_profiles order by segment_id")
    sizes = frame(demo_warehouse, "select segment_id, count(*) as n from customer_segments group by 1 order by 1")
    assert profiles["size"].tolist() == sizes["n"].tolist()
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["segment_name"].is_unique and profiles["segment_name"].str.len().min() > 3


def test_segments_are_explained_by_rules_a_map_and_a_report(demo_warehouse):
    rules = frame(demo_warehouse, "select * from segment_rules")
    assert rules["fidelity"].iloc[0] >= 0.85
    segment_ids = {row[0] for row in query(demo_warehouse, "select distinct segment_id from customer_segments")}
    assert set(rules["segment"]) == segment_ids
    assert rules["precision"].between(0, 1).all() and rules["coverage"].between(0, 1).all()
    counts = dict(query(demo_warehouse, "select method, count(*) from customer_map group by 1"))
    customers = query(demo_warehouse, "select count(*) from customer_features")[0][0]
    assert counts == {"pca": customers, "tsne": min(customers, 5000)}
    report = (demo_warehouse.parent / "reports" / demo_warehouse.stem / "segment_report.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and report.count("<img ") >= 3


def test_customer_360_has_one_row_per_customer_with_both_segments(demo_warehouse):
    (customers, rows, unsegmented, no_rfm), = query(demo_warehouse, """
        select (select count(*) from customer_features), count(*),
               count(*) filter (where segment_id is null), count(*) filter (where rfm_segment is null)
        from customer_360""")
    assert rows == customers > 0
    assert unsegmented == 0 and no_rfm == 0


def test_bi_tools_read_customer_360_read_only(demo_warehouse):
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        count = con.sql("select count(*) from customer_360").fetchall()[0][0]
    engine = sqlalchemy.create_engine(f"duckdb:///{demo_warehouse}", connect_args={"read_only": True})
    with engine.connect() as con:
        assert con.execute(sqlalchemy.text("select count(*) from customer_360")).scalar() == count > 0
    engine.dispose()


def failure_message(result) -> str:
    return "\n".join(str(event.event_specific_data.error) for event in result.all_events
                     if event.is_step_failure)


def test_missing_transactions_file_fails_naming_it(tmp_path):
    empty = tmp_path / "empty_data"
    empty.mkdir()
    result = materialize_all(empty, tmp_path / "w.duckdb", raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "transactions.csv" in message and str(empty) in message


def test_missing_required_column_fails_naming_file_and_column(demo_data, tmp_path):
    data_dir, _ = demo_data
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = pd.read_csv(data_dir / "transactions.csv", dtype=str, nrows=100)
    lines.drop(columns=["unit_price"]).to_csv(broken / "transactions.csv", index=False)
    result = materialize_all(broken, tmp_path / "w.duckdb", raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "'unit_price'" in message and str(broken / "transactions.csv") in message
