"""Real data through the same door as the demo data: UCI Online Retail as distributed, mapped by columns.yml."""

from pathlib import Path

import pandas as pd
import pytest

from tests.pipeline import query

ONLINE_RETAIL = Path(__file__).resolve().parent.parent / "data" / "online_retail"


@pytest.fixture(scope="module")
def online_retail(online_retail_warehouse):
    """The session's whole-graph build of Online Retail (tests/conftest.py)."""
    return online_retail_warehouse


def test_online_retail_lines_reconcile_with_published_counts(online_retail):
    raw = pd.read_parquet(ONLINE_RETAIL / "online_retail.parquet")
    accepted = query(online_retail, "select count(*) from staging.stg_shop__transactions")[0][0]
    rejected = dict(query(online_retail, "select reject_reason, count(*) from rejected_transactions group by 1"))
    assert accepted + sum(rejected.values()) == len(raw) == 541_909
    # data/online_retail/README.md: 135,080 rows without CustomerID (both negative-price rows are among them)
    assert rejected.pop("missing_customer_id") == 135_080
    # exact duplicates over the contract's columns among the rows that have a customer, recounted with pandas
    mapped = ["InvoiceNo", "CustomerID", "InvoiceDate", "StockCode", "Quantity", "UnitPrice"]
    with_customer = raw[raw["CustomerID"].notna()]
    assert rejected == {"duplicate_line": int(with_customer.duplicated(subset=mapped).sum())}


def test_online_retail_customers_and_returns(online_retail):
    # 4,339 customers with a purchase (README: after dropping missing CustomerID and cancellations)
    assert query(online_retail, "select count(*) from customer_features") == [(4339,)]
    # cancellations (negative quantities) are accepted as returns, not rejected
    returns = query(online_retail, "select count(*) from staging.stg_shop__transactions where is_return")[0][0]
    raw = pd.read_parquet(ONLINE_RETAIL / "online_retail.parquet")
    with_customer = raw[raw["CustomerID"].notna()].drop_duplicates(
        subset=["InvoiceNo", "CustomerID", "InvoiceDate", "StockCode", "Quantity", "UnitPrice"])
    assert returns == int((with_customer["Quantity"] < 0).sum())
