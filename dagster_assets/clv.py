"""Customer lifetime value: BG/NBD + Gamma-Gamma fitted on the SQL summaries, scored and evaluated."""

import base64

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.clv import BetaGeoModel, GammaGammaModel
from python_models.clv.fallback import finite_mean_spend, fit_with_fallback
from python_models.clv.evaluation import holdout_by_frequency, plot_tracking, tracking_curve
from python_models.clv.scoring import churn_risk_band, value_tier

from .warehouse import Warehouse


class ClvConfig(Config):
    """CLV settings. The discount rate is per month. Each model is fitted by plain maximum likelihood first and
    only penalised when that fit fails (python_models.clv.fallback); the penalty used is in clv_model_params."""

    horizon_months: int = 12
    monthly_discount_rate: float = 0.01


def at_least_one_day(T: np.ndarray, period_days: int) -> np.ndarray:
    """Customers first seen on the snapshot day have T = 0, which the models cannot score: count them one day old."""
    return np.maximum(T, 1.0 / period_days)


@multi_asset(
    specs=[
        AssetSpec("customer_clv", deps=["customer_clv_summary"], group_name="clv",
                  description="One row per customer: P(alive), expected purchases, expected order value, CLV, "
                              "churn risk and value tier from BG/NBD + Gamma-Gamma."),
        AssetSpec("clv_model_params", deps=["customer_clv_summary"], group_name="clv",
                  description="One row per fitted parameter of the CLV models, with the log-likelihood."),
    ]
)
def clv_scores(context: AssetExecutionContext, config: ClvConfig, warehouse: Warehouse):
    summary = warehouse.read_frame("select * from customer_clv_summary order by customer_id")
    period_days = int(summary["period_days"].iloc[0])
    f, r, t, m = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value"))
    t = at_least_one_day(t, period_days)

    purchases = fit_with_fallback(BetaGeoModel, f, r, t)
    repeaters = (f > 0) & (m > 0)
    spend = fit_with_fallback(GammaGammaModel, f[repeaters], m[repeaters], acceptable=finite_mean_spend)
    p_alive = purchases.probability_alive(f, r, t)
    clv = spend.customer_lifetime_value(purchases, f, r, t, m, time_months=config.horizon_months,
                                        discount_rate=config.monthly_discount_rate, time_unit_days=period_days)
    scores = pd.DataFrame({
        "customer_id": summary["customer_id"],
        "p_alive": p_alive,
        **{f"expected_purchases_{days}d": purchases.expected_purchases(days / period_days, f, r, t)
           for days in (30, 90, 365)},
        "expected_order_value": spend.expected_average_value(f, m),
        f"clv_{config.horizon_months}m": clv,
        "churn_risk": churn_risk_band(p_alive),
        "value_tier": value_tier(clv, summary["customer_id"].to_numpy()),
    })
    params = pd.DataFrame(
        [{"model": name, "parameter": key, "value": value, "log_likelihood": model.log_likelihood_,
          "penalizer": model.penalizer, "customers": model.n_customers_}
         for name, model in (("bg_nbd", purchases), ("gamma_gamma", spend))
         for key, value in model.params_.items()]
    )
    context.log.info(f"BG/NBD {purchases.params_}, Gamma-Gamma {spend.params_}")
    yield MaterializeResult(asset_key=AssetKey("customer_clv"), metadata=warehouse.write_table("customer_clv", scores))
    yield MaterializeResult(asset_key=AssetKey("clv_model_params"),
                            metadata=warehouse.write_table("clv_model_params", params))


@multi_asset(
    specs=[AssetSpec("clv_holdout_evaluation", deps=["clv_calibration_summary", "int_customer_purchase_days"],
                     group_name="clv",
                     description="Per calibration-frequency bin: actual against BG/NBD-predicted holdout "
                                 "purchases, with MAE, RMSE and the total forecast error on the `all` row.")]
)
def clv_holdout_evaluation(context: AssetExecutionContext, warehouse: Warehouse):
    calibration = warehouse.read_frame("select * from clv_calibration_summary order by customer_id")
    f, r, t = (calibration[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    t = at_least_one_day(t, int(calibration["period_days"].iloc[0]))
    model = fit_with_fallback(BetaGeoModel, f, r, t)
    duration = float(calibration["duration_holdout"].iloc[0])
    table = holdout_by_frequency(model, f, r, t, calibration["frequency_holdout"].to_numpy(float), duration)

    period_days = int(calibration["period_days"].iloc[0])
    # first and repeat purchase days of the calibration customers, in periods since the first purchase in the data
    days = warehouse.read_frame(f"""
        with days as (
            select d.purchase_date, d.days_since_previous is null as is_first
            from intermediate.int_customer_purchase_days as d
            inner join clv_calibration_summary as c on c.customer_id = d.customer_id
            cross join staging.stg_shop__as_of as a
            where d.purchase_date <= a.as_of_date
        )
        select date_diff('day', min(purchase_date) over (), purchase_date) / {period_days} as period, is_first
        from days""")
    start_to_calibration_end = warehouse.read_frame(f"""
        select date_diff('day', min(d.purchase_date), max(c.calibration_end_date)) / {period_days} as periods,
               date_diff('day', min(d.purchase_date), max(a.as_of_date)) / {period_days} as total
        from intermediate.int_customer_purchase_days as d, clv_calibration_summary as c, staging.stg_shop__as_of as a
        """).iloc[0]
    curve = tracking_curve(model, days.loc[days["is_first"], "period"], days.loc[~days["is_first"], "period"],
                           int(np.ceil(start_to_calibration_end["total"])), start_to_calibration_end["periods"])
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
