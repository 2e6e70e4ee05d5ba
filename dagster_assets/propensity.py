"""P(purchase in the next 90 days): gradient boosting, checked against BG/NBD on a temporal holdout; and churn risk
from the score that wins each scope of that holdout.

A shop with less than one horizon of history gets none of these; with less than two, propensity without the
holdout (no evaluation, no churn risk): the reason is in the metadata and the log (dagster_assets.skips).
"""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.propensity import (candidate_scores, churn_levels, churn_risk, churn_sources, compare_on_holdout,
                                      fit_propensity, unlearnable)

from .skips import skipped, withdraw
from .warehouse import Warehouse

# Churn risk should tell customers apart: fewer than two levels holding this share of today's customers is flagged.
MIN_LEVEL_SHARE = 0.10


class PropensityConfig(Config):
    """`churn_high_share` / `churn_low_share`: the share of holdout customers the `high` / `low` churn-risk levels
    are cut to hold (as closely as ties in the calibrated probability allow); `churn_min_bin_size`: the fewest
    holdout customers a calibrated purchase rate rests on (python_models.clv.churn)."""

    random_state: int = 0
    churn_high_share: float = 0.25
    churn_low_share: float = 0.25
    churn_min_bin_size: int = 50


@multi_asset(
    specs=[
        AssetSpec("customer_propensity", deps=["propensity_examples"], group_name="clv",
                  description="One row per customer: probability of a purchase in the next 90 days."),
        AssetSpec("propensity_evaluation", deps=["propensity_examples"], group_name="clv",
                  description="AUC on the temporal holdout of gradient boosting and BG/NBD, overall and for "
                              "one-time and repeat buyers, with the best score per scope."),
        AssetSpec("customer_churn_risk", deps=["propensity_examples"], group_name="clv",
                  description="One row per customer at the holdout cutoff (role test, with the outcome) and at the "
                              "snapshot (role score): churn probability and risk level from the score that wins "
                              "the customer's scope on the holdout, calibrated there. customer_clv takes the "
                              "snapshot's rows."),
    ]
)
def propensity(context: AssetExecutionContext, config: PropensityConfig, warehouse: Warehouse):
    examples = warehouse.read_frame("select * from propensity_examples order by role, customer_id")
    train, test, score = (examples[examples["role"] == role].reset_index(drop=True)
                          for role in ("train", "test", "score"))
    as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
    # a shop with less history than one horizon has no labelled window to learn from: nothing to publish
    problem = "no customer has bought yet" if score.empty else unlearnable(test)
    if problem:
        reason = f"no purchase propensity: at the cutoff one horizon before the snapshot {as_of}, {problem}"
        withdraw(warehouse, tables=["customer_propensity", "propensity_evaluation", "customer_churn_risk"])
        for asset in ("customer_propensity", "propensity_evaluation", "customer_churn_risk"):
            yield skipped(context, asset, reason)
        return
    # the cutoffs are one horizon apart (dbt var propensity_horizon_days)
    horizon_days = (pd.to_datetime(score["cutoff_date"].iloc[0]) - pd.to_datetime(test["cutoff_date"].iloc[0])).days

    # the production model learns from the latest labelled window, then scores today's customers
    model = fit_propensity(test, random_state=config.random_state)
    current_scores = candidate_scores(model, score, horizon_days)
    scores = pd.DataFrame({
        "customer_id": score["customer_id"].to_numpy(),
        f"p_purchase_{horizon_days}d": current_scores["gradient_boosting"].to_numpy(),
        "as_of": score["cutoff_date"].to_numpy(),
    })
    yield MaterializeResult(asset_key=AssetKey("customer_propensity"),
                            metadata=warehouse.write_table("customer_propensity", scores))

    # the same procedure one horizon earlier, judged on what followed: the holdout that evaluates the scores and
    # calibrates churn risk; a shop with less than two horizons of history has none
    problem = unlearnable(train)
    if problem:
        reason = (f"no temporal holdout: at the cutoff two horizons before the snapshot {as_of}, {problem}; "
                  "customer_propensity is published without an evaluation")
        withdraw(warehouse, tables=["propensity_evaluation", "customer_churn_risk"])
        yield skipped(context, "propensity_evaluation", reason)
        yield skipped(context, "customer_churn_risk", reason)
        return
    holdout_scores = candidate_scores(fit_propensity(train, random_state=config.random_state), test, horizon_days)
    evaluation = compare_on_holdout(test, holdout_scores)
    unavailable = {**holdout_scores.attrs["unavailable"], **current_scores.attrs["unavailable"]}
    for name, why in unavailable.items():
        context.log.warning(f"{name} is not compared (no AUC): {why}")
    for row in evaluation[evaluation["best_in_scope"]].itertuples():
        context.log.info(f"{row.scope}: {row.score} wins with AUC {row.auc:.3f}")
    evaluation_metadata = warehouse.write_table("propensity_evaluation", evaluation)
    if unavailable:
        evaluation_metadata["unavailable_scores"] = MetadataValue.json(unavailable)
    yield MaterializeResult(asset_key=AssetKey("propensity_evaluation"), metadata=evaluation_metadata)

    holdout_risk, current_risk, thresholds = churn_risk(test, holdout_scores, score, current_scores, evaluation,
                                                        config.churn_high_share, config.churn_low_share,
                                                        config.churn_min_bin_size)
    levels = churn_levels(holdout_risk, test["purchased_next_horizon"], current_risk, thresholds)
    table = pd.concat([
        pd.DataFrame({"role": role, "cutoff_date": frame["cutoff_date"].to_numpy(),
                      "customer_id": frame["customer_id"].to_numpy(), **risk,
                      "purchased_next_horizon": frame["purchased_next_horizon"].to_numpy()})
        for role, frame, risk in (("test", test, holdout_risk), ("score", score, current_risk))
    ], ignore_index=True)
    table["horizon_days"] = horizon_days
    metadata = warehouse.write_table("customer_churn_risk", table)

    telling_apart = int((levels["share"] >= MIN_LEVEL_SHARE).sum())
    degenerate = telling_apart < 2
    sources = {scope: f"{source} (winner of {fitted_on})" if source else "none: no score defined on the holdout"
               for scope, (source, fitted_on) in churn_sources(evaluation).items()}
    metadata.update({
        "churn_high_from": thresholds.high_from, "churn_low_to": thresholds.low_to,
        "churn_score_sources": MetadataValue.json(sources),
        "churn_levels": MetadataValue.md(levels.to_markdown(index=False, floatfmt=".3f")),
        "churn_levels_over_10pct": telling_apart, "churn_risk_degenerate": degenerate,
    })
    context.log.info(f"churn risk levels (cut on the holdout):\n{levels.to_string(index=False)}")
    if degenerate:
        context.log.warning(
            f"churn_risk tells customers apart poorly: only {telling_apart} level(s) hold at least "
            f"{MIN_LEVEL_SHARE:.0%} of today's customers (the winning scores barely separate them on the holdout, "
            f"or today's customers fall outside the holdout's range); see churn_levels")
    yield MaterializeResult(asset_key=AssetKey("customer_churn_risk"), metadata=metadata)
