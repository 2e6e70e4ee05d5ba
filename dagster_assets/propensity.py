"""P(purchase in the next 90 days): gradient boosting, checked against BG/NBD on a temporal holdout."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, multi_asset

from python_models.propensity import FEATURES, compare_on_holdout, fit_propensity

from .warehouse import Warehouse


class PropensityConfig(Config):
    random_state: int = 0


@multi_asset(
    specs=[
        AssetSpec("customer_propensity", deps=["propensity_examples"], group_name="clv",
                  description="One row per customer: probability of a purchase in the next 90 days."),
        AssetSpec("propensity_evaluation", deps=["propensity_examples"], group_name="clv",
                  description="AUC on the temporal holdout of gradient boosting and BG/NBD, overall and for "
                              "one-time and repeat buyers, with the best score per scope."),
    ]
)
def propensity(context: AssetExecutionContext, config: PropensityConfig, warehouse: Warehouse):
    examples = warehouse.read_frame("select * from propensity_examples order by role, customer_id")
    train, test, score = (examples[examples["role"] == role] for role in ("train", "test", "score"))
    # the cutoffs are one horizon apart (dbt var propensity_horizon_days)
    horizon_days = (pd.to_datetime(score["cutoff_date"].iloc[0]) - pd.to_datetime(test["cutoff_date"].iloc[0])).days
    evaluation = compare_on_holdout(train, test, horizon_days, config.random_state)
    for row in evaluation[evaluation["best_in_scope"]].itertuples():
        context.log.info(f"{row.scope}: {row.score} wins with AUC {row.auc:.3f}")

    # the production model learns from the latest labelled window, then scores today's customers
    model = fit_propensity(test, random_state=config.random_state)
    scores = pd.DataFrame({
        "customer_id": score["customer_id"].to_numpy(),
        f"p_purchase_{horizon_days}d": model.predict_proba(score[FEATURES].to_numpy(float))[:, 1],
        "as_of": score["cutoff_date"].to_numpy(),
    })
    yield MaterializeResult(asset_key=AssetKey("customer_propensity"),
                            metadata=warehouse.write_table("customer_propensity", scores))
    yield MaterializeResult(asset_key=AssetKey("propensity_evaluation"),
                            metadata=warehouse.write_table("propensity_evaluation", evaluation))
