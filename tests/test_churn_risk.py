"""Churn risk from the score that wins the temporal holdout, calibrated there.

Hand-made cases with answers worked out by hand, then UCI Online Retail through the real graph, where BG/NBD's
P(alive) (the old churn rule) put all 4,339 customers at "low" risk.
"""

import numpy as np
import pandas as pd
import pytest

from python_models.clv.churn import RiskThresholds, calibrate_purchase_score, risk_thresholds
from python_models.propensity import SCORES, churn_risk, compare_on_holdout
from tests.pipeline import frame, query


def test_calibration_and_cut_points_on_a_hand_made_holdout():
    # 8 holdout customers by score; isotonic pools the violating pair (3, 4) into one block bought at rate 1/2:
    # purchase rates 0, 0, .5, .5, 1, 1, 1, 1, so churn probabilities 1, 1, .5, .5, 0, 0, 0, 0
    score = np.arange(1.0, 9.0)
    purchased = np.array([0, 0, 1, 0, 1, 1, 1, 1], bool)
    churn = 1.0 - calibrate_purchase_score(score, purchased, min_bin_size=1).predict(score)
    assert churn.tolist() == [1.0, 1.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    # high: at or above 1 holds 2/8 = the target quarter; low: at or below 0 holds 4/8, the closest to a quarter
    # the ties allow (at or below .5 would hold 6/8)
    thresholds = risk_thresholds(churn, high_share=0.25, low_share=0.25)
    assert thresholds == RiskThresholds(low_to=0.0, high_from=1.0)
    assert thresholds.level(churn).tolist() == ["high"] * 2 + ["medium"] * 2 + ["low"] * 4
    # scores beyond the holdout's range take the rate at its nearest end
    assert (1.0 - calibrate_purchase_score(score, purchased, min_bin_size=1).predict([-5.0, 50.0])).tolist() == [1, 0]
    # a holdout where every customer gets the same probability cannot tell anyone apart: no cut points
    assert risk_thresholds([0.4] * 5) == RiskThresholds(None, None)
    assert RiskThresholds(None, None).level([0.4, 0.9]).tolist() == ["medium", "medium"]


def test_no_calibrated_rate_rests_on_a_handful_of_customers():
    # scores 1..100; the three lowest did not buy, from 4 on every even score bought. Alone, those three form an
    # isotonic block with rate 0 (churn probability 1, and every lower score today would be clipped to it); in
    # bins of 50 they share the rate of scores 1-50: 24 buyers (4, 6, ..., 50) of 50
    score = np.arange(1.0, 101.0)
    purchased = (score > 3) & (score % 2 == 0)
    alone = calibrate_purchase_score(score, purchased, min_bin_size=1, max_bins=100)
    assert alone.predict([1.0, -10.0]).tolist() == [0.0, 0.0]
    binned = calibrate_purchase_score(score, purchased, min_bin_size=50)
    assert binned.predict([1.0, -10.0]).tolist() == pytest.approx([0.48, 0.48])
    # the top bin (51-100): 25 buyers (52, ..., 100) of 50
    assert binned.predict([100.0]).tolist() == pytest.approx([0.5])


def hand_made_holdout():
    # four one-time buyers (frequency 0) and four repeat buyers; gradient boosting ranks the one-time buyers
    # perfectly, BG/NBD expected purchases the repeat buyers, and each is useless in the other scope
    holdout = pd.DataFrame({"frequency": [0, 0, 0, 0, 2, 3, 1, 4],
                            "purchased_next_horizon": [False, False, True, True, False, True, False, True]})
    scores = pd.DataFrame({"gradient_boosting": [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5],
                           "bg_nbd_p_alive": [1.0] * 4 + [0.9] * 4,
                           "bg_nbd_expected_purchases": [0.3] * 4 + [0.1, 0.6, 0.2, 0.9]})[list(SCORES)]
    return holdout, scores


def test_each_scope_is_calibrated_on_its_own_winner():
    holdout, scores = hand_made_holdout()
    evaluation = compare_on_holdout(holdout, scores)
    winners = evaluation[evaluation["best_in_scope"]].set_index("scope")["score"].to_dict()
    # one-time: gradient boosting AUC 1, the others 0.5; repeat: expected purchases AUC 1, gradient boosting and
    # P(alive) tie at 0.5 (the first listed wins); all customers, 16 buyer/non-buyer pairs: gradient boosting
    # 10/16 (its constant 0.5 for repeat buyers ties 4 pairs), expected purchases 14/16 (its constant 0.3 for
    # one-time buyers ties 4 pairs)
    assert winners == {"one-time buyers": "gradient_boosting", "repeat buyers": "bg_nbd_expected_purchases",
                       "all customers": "bg_nbd_expected_purchases"}
    assert evaluation.groupby("scope")["best_in_scope"].sum().eq(1).all()

    today = pd.DataFrame({"frequency": [0, 0, 5]})
    today_scores = pd.DataFrame({"gradient_boosting": [0.05, 0.35, 0.5], "bg_nbd_p_alive": [1.0, 1.0, 0.9],
                                 "bg_nbd_expected_purchases": [0.3, 0.3, 0.7]})[list(SCORES)]
    past, now, thresholds = churn_risk(holdout, scores, today, today_scores, evaluation, min_bin_size=1)
    # both winners separate their scope perfectly: churn probability 1 for who did not buy, 0 for who did
    assert past["churn_probability"].tolist() == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert thresholds == RiskThresholds(low_to=0.0, high_from=1.0)
    assert past["churn_risk"].tolist() == ["high", "high", "low", "low", "high", "low", "high", "low"]
    assert past["churn_score_source"].tolist() == ["gradient_boosting"] * 4 + ["bg_nbd_expected_purchases"] * 4
    # today: 0.05 is below every holdout score (clipped to the lowest, who did not buy), 0.35 lies between two
    # one-time buyers who bought (0.3, 0.4), 0.7 between two repeat buyers who bought (0.6, 0.9)
    assert now["churn_probability"].tolist() == [1.0, 0.0, 0.0]
    assert now["churn_risk"].tolist() == ["high", "low", "low"]
    assert now["churn_score_scope"].tolist() == ["one-time buyers", "one-time buyers", "repeat buyers"]


def test_a_scope_without_a_defined_auc_borrows_the_overall_winner():
    holdout, scores = hand_made_holdout()
    holdout["purchased_next_horizon"] = [True] * 4 + [False, True, False, True]  # every one-time buyer bought
    evaluation = compare_on_holdout(holdout, scores)
    assert not evaluation.loc[evaluation["scope"] == "one-time buyers", "best_in_scope"].any()
    past, _, _ = churn_risk(holdout, scores, holdout, scores, evaluation, min_bin_size=1)
    overall = evaluation[(evaluation["scope"] == "all customers") & evaluation["best_in_scope"]]["score"].item()
    assert (past["churn_score_scope"].iloc[:4] == "all customers").all()
    assert (past["churn_score_source"].iloc[:4] == overall).all()


@pytest.fixture(scope="module")
def online_retail(online_retail_warehouse):
    """The whole graph on UCI Online Retail (shared with the segment acceptance test, see conftest.py)."""
    return online_retail_warehouse


def test_online_retail_churn_risk_tells_customers_apart(online_retail):
    clv = frame(online_retail, """
        select c.customer_id, c.churn_risk, c.churn_probability, c.churn_score_source, c.churn_score_scope,
               case when s.frequency = 0 then 'one-time buyers' else 'repeat buyers' end as scope
        from customer_clv as c inner join customer_clv_summary as s using (customer_id)""")
    assert len(clv) == 4339 and clv["churn_risk"].notna().all()
    shares = clv["churn_risk"].value_counts(normalize=True)
    assert (shares >= 0.10).sum() >= 2, shares
    # the levels are cut on the probability: every high above every medium above every low
    by_level = clv.groupby("churn_risk")["churn_probability"].agg(["min", "max"])
    assert by_level.loc["high", "min"] > by_level.loc["medium", "max"]
    assert by_level.loc["medium", "min"] > by_level.loc["low", "max"]
    # the source recorded is the score that wins the customer's own scope on the holdout
    winners = frame(online_retail, "select scope, score from propensity_evaluation where best_in_scope")
    expected = clv[["scope"]].merge(winners, on="scope", how="left")["score"]
    assert clv["churn_score_source"].tolist() == expected.tolist()
    assert (clv["churn_score_scope"] == clv["scope"]).all()


def test_online_retail_high_risk_buys_less_in_the_holdout(online_retail):
    # the holdout: the customers with a purchase up to the snapshot minus 90 days, and whether they bought in the
    # 90 days after, from the accepted order lines (not from the pipeline's labels)
    truth = frame(online_retail, """
        with cutoff as (select as_of_date - interval 90 day as cutoff_date, as_of_date
                        from staging.stg_shop__as_of),
        before as (select distinct t.customer_id from staging.stg_shop__transactions as t, cutoff
                   where t.quantity > 0 and t.order_date <= cutoff.cutoff_date),
        after as (select distinct t.customer_id from staging.stg_shop__transactions as t, cutoff
                  where t.quantity > 0 and t.order_date > cutoff.cutoff_date
                    and t.order_date <= cutoff.as_of_date)
        select before.customer_id, after.customer_id is not null as bought
        from before left join after using (customer_id)""")
    cutoff = query(online_retail, "select cast(as_of_date - interval 90 day as date) from staging.stg_shop__as_of")
    holdout = frame(online_retail, "select * from customer_churn_risk where role = 'test'")
    assert holdout["cutoff_date"].eq(pd.Timestamp(cutoff[0][0])).all()
    joined = holdout.merge(truth, on="customer_id", how="outer", validate="one_to_one", indicator=True)
    assert (joined["_merge"] == "both").all() and len(joined) == 3370
    # the outcome the calibration learned from is this one
    assert (joined["bought"] == joined["purchased_next_horizon"]).all()
    rates = joined.groupby("churn_risk")["bought"].mean()
    assert rates["high"] < rates["medium"] < rates["low"], rates
    assert rates["low"] - rates["high"] > 0.3, rates
