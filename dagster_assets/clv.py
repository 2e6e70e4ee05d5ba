"""Customer lifetime value: BG/NBD + Gamma-Gamma fitted on the SQL summaries, scored and evaluated.

A shop whose data cannot identify the models (nobody bought twice, too little history for the holdout) gets its
customers without CLV scores and no holdout evaluation, with the reason in the metadata and the log
(dagster_assets.skips).
"""

import base64

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.clv import BetaGeoModel, ConvergenceError
from python_models.clv.fallback import fit_with_fallback
from python_models.clv.evaluation import holdout_by_frequency, plot_tracking, tracking_curve
from python_models.clv.scoring import at_least_one_day, score_customers, unscored_customers

from .skips import skipped, withdraw
from .warehouse import Warehouse


# Columns of customer_clv that come from customer_churn_risk (the snapshot's rows), text but for the probability.
CHURN_COLUMNS = ("churn_risk", "churn_probability", "churn_score_source", "churn_score_scope")


class ClvConfig(Config):
    """CLV settings. The discount rate is per month. Each model is fitted by plain maximum likelihood first and
    only penalised when that fit fails (python_models.clv.fallback); the penalty used is in clv_model_params."""

    horizon_months: int = 12
    monthly_discount_rate: float = 0.01


@multi_asset(
    specs=[
        # churn risk comes from the propensity asset's holdout (customer_churn_risk), so this runs after it
        AssetSpec("customer_clv", deps=["customer_clv_summary", "customer_churn_risk"], group_name="clv",
                  description="One row per customer: P(alive), expected purchases, expected order value, CLV and "
                              "value tier from BG/NBD + Gamma-Gamma; churn risk and probability from the purchase "
                              "score that wins the customer's scope on the temporal holdout, calibrated there "
                              "(customer_churn_risk)."),
        AssetSpec("clv_model_params", deps=["customer_clv_summary"], group_name="clv",
                  description="One row per fitted parameter of the CLV models, with the log-likelihood."),
    ]
)
def clv_scores(context: AssetExecutionContext, config: ClvConfig, warehouse: Warehouse):
    summary = warehouse.read_frame("select * from customer_clv_summary order by customer_id")
    try:
        scores, params = score_customers(summary, config.horizon_months, config.monthly_discount_rate)
        context.log.info(params.to_string(index=False))
        not_fitted = None
    except ConvergenceError as error:
        # every customer is still published, with churn risk where the propensity step could set it
        not_fitted = f"no CLV scores for the {len(summary)} customers: {error}"
        scores = unscored_customers(summary["customer_id"].to_numpy(), config.horizon_months)
    scores = scores.merge(_churn_rows(warehouse), on="customer_id", how="left", validate="one_to_one")
    scores = scores[[c for c in scores.columns if c != "value_tier"] + ["value_tier"]]
    unscored = int(scores["churn_risk"].isna().sum())
    if unscored:
        context.log.warning(f"{unscored} customers have no churn risk (see customer_churn_risk)")
    metadata = warehouse.write_table("customer_clv", scores)
    if not_fitted:
        yield skipped(context, "customer_clv", not_fitted, **metadata)
        withdraw(warehouse, tables=["clv_model_params"])
        yield skipped(context, "clv_model_params", not_fitted)
        return
    yield MaterializeResult(asset_key=AssetKey("customer_clv"), metadata=metadata)
    yield MaterializeResult(asset_key=AssetKey("clv_model_params"),
                            metadata=warehouse.write_table("clv_model_params", params))


def _churn_rows(warehouse: Warehouse) -> pd.DataFrame:
    """The snapshot's churn risk, set by the propensity asset (python_models.propensity.churn_risk); no rows when
    that step was skipped. Typed, so customers without a row still get text and number columns."""
    if warehouse.has_table("customer_churn_risk"):
        churn = warehouse.read_frame(f"select customer_id, {', '.join(CHURN_COLUMNS)} from customer_churn_risk "
                                     "where role = 'score'")
    else:
        churn = pd.DataFrame(columns=["customer_id", *CHURN_COLUMNS])
    return churn.astype({name: "float64" if name == "churn_probability" else "string"
                         for name in ("customer_id", *CHURN_COLUMNS)})


@multi_asset(
    specs=[AssetSpec("clv_holdout_evaluation", deps=["clv_calibration_summary", "int_customer_purchase_days"],
                     group_name="clv",
                     description="Per calibration-frequency bin: actual against BG/NBD-predicted holdout "
                                 "purchases, with MAE, RMSE and the total forecast error on the `all` row.")]
)
def clv_holdout_evaluation(context: AssetExecutionContext, warehouse: Warehouse):
    calibration = warehouse.read_frame("select * from clv_calibration_summary order by customer_id")
    if calibration.empty:
        as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
        yield _evaluation_skipped(context, warehouse, "no customer had bought by the calibration end "
                                  f"(SEGMENTS_CLV_CALIBRATION_END, by default 182 days before the snapshot {as_of}): "
                                  "the shop has less history than the holdout")
        return
    f, r, t = (calibration[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    t = at_least_one_day(t, int(calibration["period_days"].iloc[0]))
    duration = float(calibration["duration_holdout"].iloc[0])
    if duration <= 0:
        yield _evaluation_skipped(context, warehouse, f"the calibration end {calibration['calibration_end_date'].iloc[0]} "
                                  "is not before the snapshot: there is no holdout to compare with")
        return
    try:
        model = fit_with_fallback(BetaGeoModel, f, r, t)
    except ConvergenceError as error:
        yield _evaluation_skipped(context, warehouse, f"BG/NBD cannot be fitted on the {len(calibration)} customers "
                                  f"of the calibration period: {error}")
        return
    table = holdout_by_frequency(model, f, r, t, calibration["frequency_holdout"].to_numpy(float), duration)

    period_days = int(calibration["period_days"].iloc[0])
    # first and repeat purchase days of the calibration customers, up to the snapshot date
    days = warehouse.read_frame("""
        select d.purchase_date, d.days_since_previous is null as is_first
        from intermediate.int_customer_purchase_days as d
        inner join clv_calibration_summary as c on c.customer_id = d.customer_id
        where d.purchase_date <= (select as_of_date from staging.stg_shop__as_of)""")
    purchase_dates = pd.to_datetime(days["purchase_date"])
    start = purchase_dates.min()
    periods = (purchase_dates - start).dt.days.to_numpy() / period_days
    calibration_periods = (pd.to_datetime(calibration["calibration_end_date"].iloc[0]) - start).days / period_days
    is_first = days["is_first"].to_numpy(bool)
    curve = tracking_curve(model, periods[is_first], periods[~is_first],
                           int(np.ceil(calibration_periods + duration)), calibration_periods)
    png = base64.b64encode(plot_tracking(curve, period_days)).decode()
    metadata = warehouse.write_table("clv_holdout_evaluation", table)
    overall = table.iloc[-1]
    metadata.update({
        "mae": float(overall["mae"]), "rmse": float(overall["rmse"]),
        "total_error_pct": float(overall["total_error_pct"]),
        "tracking_curve": MetadataValue.md(f"![cumulative repeat purchases](data:image/png;base64,{png})"),
    })
    context.log.info(f"Holdout: MAE {overall['mae']:.3f}, total error {overall['total_error_pct']:.1f}%")
    yield MaterializeResult(asset_key=AssetKey("clv_holdout_evaluation"), metadata=metadata)


def _evaluation_skipped(context: AssetExecutionContext, warehouse: Warehouse, reason: str) -> MaterializeResult:
    withdraw(warehouse, tables=["clv_holdout_evaluation"])
    return skipped(context, "clv_holdout_evaluation", reason)
