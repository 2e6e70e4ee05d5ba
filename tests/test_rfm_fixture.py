"""RFM values, scores and segment names on a hand-computed fixture (worked in tests/fixtures/rfm_shop/README.md)."""

from decimal import Decimal
from pathlib import Path

import pytest

from tests.pipeline import dbt_build, query

FIXTURE = Path(__file__).parent / "fixtures" / "rfm_shop"

EXPECTED = {
    # customer: frequency, recency, T, days_since_last_order, net_revenue, monetary_value, r, f, m, segment
    "alice": (2, 345, 355, 10, Decimal("100.00"), Decimal("33.33"), 4, 5, 4, "Loyal"),
    "bob": (1, 184, 305, 121, Decimal("50.00"), Decimal("25.00"), 2, 3, 3, "At Risk"),
    "carol": (0, 0, 0, 0, Decimal("15.00"), Decimal("15.00"), 5, 1, 1, "New"),
    "dave": (0, 0, 333, 333, Decimal("15.00"), Decimal("15.00"), 1, 1, 1, "Hibernating"),
    "erin": (1, 151, 182, 31, Decimal("120.00"), Decimal("60.00"), 3, 3, 5, "Need Attention"),
}


@pytest.fixture(scope="module")
def rfm_database(tmp_path_factory):
    database = tmp_path_factory.mktemp("rfm") / "rfm.duckdb"
    dbt_build(FIXTURE, database, ["+customer_rfm", "rejected_transactions"], SEGMENTS_AS_OF="2025-12-31")
    return database


def test_rfm_values_scores_and_segments_match_hand_computation(rfm_database):
    rows = query(rfm_database, """
        select customer_id, frequency, recency, T, days_since_last_order, net_revenue, monetary_value,
               r_score, f_score, m_score, rfm_segment
        from customer_rfm order by customer_id""")
    assert {row[0]: tuple(row[1:]) for row in rows} == EXPECTED


def test_rfm_fixture_accepts_every_line(rfm_database):
    assert query(rfm_database, "select count(*) from staging.stg_shop__transactions") == [(11,)]
    assert query(rfm_database, "select count(*) from rejected_transactions") == [(0,)]
