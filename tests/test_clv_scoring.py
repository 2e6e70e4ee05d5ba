"""Scoring edge cases that real order lines produce (the demo shop has both)."""

from pathlib import Path

import numpy as np
import pandas as pd

from python_models.clv.scoring import score_customers, value_tier

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow"


def cdnow_like_summary() -> pd.DataFrame:
    # the CDNOW calibration summary (data/cdnow), in weeks, plus two edge-case customers appended at the end
    summary = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    summary = summary.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    edge = pd.DataFrame({"customer_id": ["free_repeat", "first_seen_today"], "frequency": [2, 0],
                         "recency": [10.0, 0.0], "T": [30.0, 0.0], "monetary_value": [0.0, 0.0]})
    return pd.concat([summary.astype({"customer_id": str}), edge], ignore_index=True).assign(period_days=7)


def test_free_repeat_purchases_and_new_customers_are_scored():
    summary = cdnow_like_summary()
    scores, params = score_customers(summary)
    assert scores.notna().all().all() and len(scores) == 2359
    by_id = scores.set_index("customer_id")
    # no spend information: both get the population's expected spend, like a customer without repeat purchases
    one_time = scores[summary["frequency"].eq(0)].iloc[0]
    assert by_id.loc["free_repeat", "expected_order_value"] == one_time["expected_order_value"]
    assert by_id.loc["first_seen_today", "p_alive"] == 1.0
    # the Gamma-Gamma fit used the 946 paying repeaters only, with the plain MLE (CDNOW: p 6.25, q 3.74, v 15.44)
    spend = params[params["model"] == "gamma_gamma"].set_index("parameter")
    assert spend["customers"].iloc[0] == 946 and spend["penalizer"].iloc[0] == 0
    assert np.allclose(spend["value"].loc[["p", "q", "v"]], [6.2488, 3.7446, 15.4477], atol=1e-3)


def test_value_tiers_split_by_rank_with_id_tiebreak():
    tiers = value_tier(np.ones(10), [f"c{i}" for i in range(10)])
    assert tiers.tolist() == ["top 10%"] + ["next 20%"] * 2 + ["middle 30%"] * 3 + ["bottom 40%"] * 4
