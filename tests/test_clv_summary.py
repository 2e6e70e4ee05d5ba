"""customer_clv_summary reproduces the published CDNOW summaries from the raw CDNOW sample.

Expected values: data/cdnow/cdnow_customers_summary.csv (lifetimes 0.11.3 datasets: frequency, recency, T in
weeks, 39-week calibration ending 1997-09-30) and cdnowSummary_cbs.csv (BTYD 2.4.3 cdnowSummary: x.star, the
repeat transactions of weeks 40-78).
"""

from pathlib import Path

import pandas as pd
import pytest

from python_models.datasets import write_cdnow
from tests.pipeline import dbt_build, frame, query

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow"
SELECT = ["+customer_clv_summary", "+clv_calibration_summary", "rejected_transactions"]


@pytest.fixture(scope="module")
def cdnow_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cdnow")
    write_cdnow(folder)
    return folder


def published_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW / "cdnow_customers_summary.csv").rename(columns={"ID": "customer_id"})


def assert_matches_published(summary: pd.DataFrame) -> pd.DataFrame:
    summary = summary.assign(customer_id=summary["customer_id"].astype(int))
    merged = published_summary().merge(summary, on="customer_id", suffixes=("_published", ""), validate="1:1")
    assert len(merged) == 2357
    assert (merged["frequency"] == merged["frequency_published"]).all()
    # the file is rounded to 2 decimals
    assert (merged["recency"].round(2) - merged["recency_published"]).abs().max() < 1e-9
    assert (merged["T"].round(2) - merged["T_published"]).abs().max() < 1e-9
    return merged


def test_summary_at_calibration_end_reproduces_cdnow_summary(cdnow_dir, tmp_path):
    database = tmp_path / "cdnow.duckdb"
    dbt_build(cdnow_dir, database, SELECT, SEGMENTS_AS_OF="1997-09-30")
    assert_matches_published(frame(database, "select * from customer_clv_summary"))
    # the later purchases are quarantined as future-dated, not lost
    accepted, rejected = query(database, """select (select count(*) from staging.stg_shop__transactions),
        (select count(*) from rejected_transactions where reject_reason = 'future_order_ts')""")[0]
    assert accepted + rejected == 6919


def test_calibration_split_reproduces_cdnow_holdout(cdnow_dir, tmp_path):
    database = tmp_path / "cdnow_split.duckdb"
    dbt_build(cdnow_dir, database, SELECT, SEGMENTS_AS_OF="1998-06-30",
              SEGMENTS_CLV_CALIBRATION_END="1997-09-30")
    merged = assert_matches_published(frame(database, "select * from clv_calibration_summary"))
    holdout = pd.read_csv(CDNOW / "cdnowSummary_cbs.csv")
    holdout["customer_id"] = holdout["cust"]
    merged = merged.merge(holdout, on="customer_id", validate="1:1")
    assert (merged["frequency_holdout"] == merged["x.star"]).all()
    assert merged["frequency_holdout"].sum() == 1882 and merged["frequency"].sum() == 2457
    assert merged["duration_holdout"].eq(273 / 7).all()
    # mean repeat spend: zbar in cdnow_customers_summary_with_transactions.csv, rounded to cents
    zbar = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    merged = merged.merge(zbar.rename(columns={"ID": "customer_id"}), on="customer_id")
    assert (merged["monetary_value"] - merged["zbar"]).abs().max() <= 0.005 + 1e-3
