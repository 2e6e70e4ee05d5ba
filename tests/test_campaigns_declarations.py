"""Bad experiment declarations and outcome files get errors that name the file and the field."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from python_models.campaigns import (DeclarationError, Experiment, check_audience, check_outcomes,
                                     load_experiments, select_audience)

COLUMNS = ["customer_id", "rfm_segment", "recency", "segment_id"]


def write(tmp_path, text):
    path = tmp_path / "experiments.yml"
    path.write_text(text)
    return path


def test_no_file_means_no_experiments(tmp_path):
    assert load_experiments(tmp_path / "experiments.yml") == []


def test_a_good_file_loads(tmp_path):
    path = write(tmp_path, """
experiments:
  - name: x
    start: 2026-01-01
    control_share: 0.2
    arms: [{name: a, weight: 0.25}, {name: b, weight: 0.75}]
    audience: "recency > 30"
""")
    [e] = load_experiments(path)
    assert e.arm_names == ("control", "a", "b") and e.stratify_by == "segment_id"
    assert [round(s, 3) for s in e.shares] == [0.2, 0.2, 0.6]


def test_weights_that_do_not_sum_to_one(tmp_path):
    path = write(tmp_path, """
experiments:
  - {name: x, start: 2026-01-01, arms: [{name: a, weight: 0.5}, {name: b, weight: 0.4}]}
""")
    with pytest.raises(DeclarationError, match=r"experiments\.yml: experiment 'x', field 'arms': weights sum "
                                               r"to 0\.9, not 1"):
        load_experiments(path)


@pytest.mark.parametrize("text, message", [
    ("- {name: x, start: 2026-13-01, arms: [{name: a, weight: 1}]}", "field 'start'"),
    ("- {name: x, start: 2026-01-01, control_share: 1.5, arms: [{name: a, weight: 1}]}", "field 'control_share'"),
    ("- {name: x, start: 2026-01-01, arms: [{name: control, weight: 1}]}", "field 'arms'"),
    ("- {name: x, start: 2026-01-01, arms: [{name: a, weight: 1}], audiance: x}", "unknown field"),
    ("- {name: x, start: 2026-01-01, arms: [{name: a, weight: 1}]}\n- {name: x, start: 2026-01-01, arms: "
     "[{name: a, weight: 1}]}", "unique"),
])
def test_other_bad_fields(tmp_path, text, message):
    path = write(tmp_path, "experiments:\n" + "\n".join("  " + line for line in text.splitlines()))
    with pytest.raises(DeclarationError, match=message):
        load_experiments(path)


def test_unknown_column_in_the_audience_filter():
    with pytest.raises(DeclarationError, match="unknown column 'recncy'"):
        check_audience("recncy > 30", COLUMNS)


@pytest.mark.parametrize("audience", [
    "1 = 1; drop table customer_360",
    "recency > 30) union all select * from customer_360 where (true",
    "customer_id in (select customer_id from other_table)",
    "recency > (select max(recency) from customer_360)",
    "other.recency > 1",
    "recency > 1 -- comment",
    "recency >",
])
def test_filters_that_are_not_a_plain_expression_are_rejected(audience):
    with pytest.raises(DeclarationError):
        check_audience(audience, COLUMNS)


def test_audience_selects_by_the_filter_and_checks_the_stratification_column():
    con = duckdb.connect()
    con.execute("create table customer_360 as select * from (values ('a', 'Loyal', 10, 1), ('b', 'New', 50, 2))"
                " t(customer_id, rfm_segment, recency, segment_id)")
    e = Experiment("x", dt.date(2026, 1, 1), 0.5, (("o", 1.0),), audience="recency > 20")
    assert select_audience(con, e, table="customer_360")["customer_id"].tolist() == ["b"]
    bad = Experiment("x", dt.date(2026, 1, 1), 0.5, (("o", 1.0),), stratify_by="segmnt")
    with pytest.raises(DeclarationError, match="field 'stratify_by': unknown column 'segmnt'"):
        select_audience(con, bad, source="my/experiments.yml", table="customer_360")


def test_outcome_rows_for_customers_never_assigned():
    assignments = pd.DataFrame({"experiment": ["x", "x"], "customer_id": ["c1", "c2"], "arm": ["control", "o"]})
    outcomes = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "experiment": ["x", "y", "x"],
                             "converted": ["1", "0", "1"], "revenue": ["5", "0", "3"],
                             "observed_at": ["2026-01-05"] * 3})
    with pytest.raises(DeclarationError, match=r"data/experiment_outcomes\.csv: 2 row\(s\) for customers never "
                                               r"assigned .* line 3: customer 'c2' in experiment 'y'"):
        check_outcomes(outcomes, assignments, "data/experiment_outcomes.csv")
    with pytest.raises(DeclarationError, match="missing column"):
        check_outcomes(outcomes.drop(columns="revenue"), assignments)
    with pytest.raises(DeclarationError, match="column 'converted'"):
        check_outcomes(outcomes.assign(converted="yes").iloc[:1], assignments)
