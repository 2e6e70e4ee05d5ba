"""Predictive validity of the segments: eta² of next-90-day spend and purchases on a temporal holdout.

The features are rebuilt as of a cutoff one horizon before the snapshot (dbt, into separate `holdout_*` schemas,
as the monthly snapshot job does), those customers are segmented with the current run's settings and get their
RFM segment at the cutoff, and each segmentation is scored by how much of the variance of what the customers
did between the cutoff and the snapshot lies between its segments (python_models.segmentation.validity).
"""

import datetime as dt
import time

import pandas as pd
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset
from dagster_dbt import DbtCliResource

from python_models.segmentation import segment_validity as validity_rows

from .history import Snapshot, model_version, segment_snapshot
from .segments import INPUTS as SEGMENTATION_INPUTS
from .segments import SegmentationConfig
from .snapshots import build_past_features
from .warehouse import Warehouse

SCHEMA_PREFIX = "holdout"
MIN_CUSTOMERS = 3  # the fewest customers the model selection compares clusterings on
SEGMENTATION_OP = "segmentation"  # the op of the current run's segments, whose settings the holdout reuses

VALIDITY_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("holdout_start", pa.date32()), ("holdout_end", pa.date32()),
    ("segmentation", pa.string()), ("outcome", pa.string()), ("eta_squared", pa.float64()),
    ("n_customers", pa.int64()), ("n_segments", pa.int64()), ("model_version", pa.string()),
    ("algorithm", pa.string()), ("k", pa.int64()),
])


class ValidityConfig(Config):
    """The holdout: features as of `horizon_days` before the snapshot, outcomes over the days after."""

    horizon_days: int = 90


@multi_asset(
    specs=[AssetSpec(
        "segment_validity",
        deps=[*SEGMENTATION_INPUTS, "int_orders"],
        group_name="segments",
        description="One row per snapshot, segmentation (behavioural, rfm) and outcome (next-90-day spend and "
                    "purchase days): eta², the share of the outcome's variance explained by the segment, on a "
                    "temporal holdout (features and segments as of 90 days before the snapshot).")],
)
def segment_validity(context: AssetExecutionContext, config: ValidityConfig, dbt: DbtCliResource,
                     warehouse: Warehouse):
    started = time.perf_counter()
    if config.horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {config.horizon_days}")
    as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
    cutoff = as_of - dt.timedelta(days=config.horizon_days)
    known = warehouse.read_frame(f"select count(distinct customer_id) as n from intermediate.int_orders "
                                 f"where is_purchase and order_date <= {_date(cutoff)}")["n"].iloc[0]
    if known < MIN_CUSTOMERS:
        yield _skipped(warehouse, context, as_of, f"{known} customers with a purchase on or before the cutoff "
                                                  f"{cutoff} ({config.horizon_days} days before the snapshot "
                                                  f"{as_of}), fewer than the {MIN_CUSTOMERS} a segmentation needs: "
                                                  "the shop has less history than the horizon")
        return

    build_past_features(dbt, cutoff, SCHEMA_PREFIX)
    built = time.perf_counter()
    snapshot = Snapshot.read(warehouse, f"{SCHEMA_PREFIX}_")
    if len(snapshot.features) < MIN_CUSTOMERS:
        yield _skipped(warehouse, context, as_of, f"{len(snapshot.features)} customers in the features as of the "
                                                  f"cutoff {cutoff}, fewer than {MIN_CUSTOMERS}")
        return
    segmentation_config = SegmentationConfig(**_segmentation_settings(context))
    try:
        result = segment_snapshot(snapshot, segmentation_config)
    except ValueError as error:  # no usable segmentation at the cutoff: a diagnostic must not fail the run
        yield _skipped(warehouse, context, as_of, f"no segmentation of the customers as of the cutoff {cutoff}: "
                                                  f"{error}")
        return
    segmented = time.perf_counter()

    outcomes = warehouse.read_frame(_outcomes_sql(cutoff, as_of)).set_index("customer_id")
    ids = snapshot.features["customer_id"].to_numpy()
    rfm = snapshot.rfm_segments.set_index("customer_id")["rfm_segment"]
    horizon = config.horizon_days
    outcomes.columns = [f"{name}_next_{horizon}d" for name in outcomes.columns]  # spend_next_90d, ...
    table = validity_rows(outcomes, {
        "behavioural": pd.Series(result.labels, index=ids),
        "rfm": rfm.reindex(ids),
    })
    behavioural = table["segmentation"] == "behavioural"
    table = table.assign(
        snapshot_date=as_of, holdout_start=cutoff, holdout_end=as_of,
        model_version=pd.Series(model_version(result), index=table.index).where(behavioural),
        algorithm=pd.Series(result.algorithm, index=table.index).where(behavioural),
        k=pd.Series(result.n_clusters, index=table.index, dtype="Int64").where(behavioural),
    )
    rows = pa.Table.from_pandas(table[VALIDITY_SCHEMA.names], schema=VALIDITY_SCHEMA, preserve_index=False)
    metadata = warehouse.replace_rows("segment_validity", rows, "snapshot_date", as_of)
    for row in table.itertuples():
        context.log.info(f"{row.segmentation} on {row.outcome}: eta² {row.eta_squared:.3f} "
                         f"({row.n_segments} segments, {row.n_customers} customers)")
    finished = time.perf_counter()
    timings = {"dbt_build_s": built - started, "segmentation_s": segmented - built,
               "total_s": finished - started}
    context.log.info("segment_validity took " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    yield MaterializeResult(asset_key=AssetKey("segment_validity"), metadata={
        **metadata, "holdout_start": str(cutoff), "holdout_end": str(as_of),
        "behavioural_model": f"{result.algorithm}, k={result.n_clusters} ({model_version(result)})",
        **{name: MetadataValue.float(round(value, 1)) for name, value in timings.items()},
    })


def _segmentation_settings(context: AssetExecutionContext) -> dict:
    """The settings the current run gives the segmentation op (its defaults when it gets none)."""
    ops = context.run.run_config.get("ops") or {}
    settings = dict(((ops.get(SEGMENTATION_OP) or {}).get("config")) or {})
    settings.pop("refit", None)  # the holdout model is always fitted: there is no saved model at the cutoff
    return settings


def _outcomes_sql(cutoff: dt.date, end: dt.date) -> str:
    """Per customer known at the cutoff: net spend (purchases less returns) and purchase days (same-day orders
    merged, as in customer_rfm) dated after the cutoff and up to `end`, 0 when none."""
    return f"""
        with known as (
            select customer_id from {SCHEMA_PREFIX}_main.customer_features
        ),
        later as (
            select customer_id, order_date, net_amount, is_purchase
            from intermediate.int_orders
            where order_date > {_date(cutoff)} and order_date <= {_date(end)}
        )
        select
            known.customer_id,
            coalesce(sum(later.net_amount), 0)::double as spend,
            count(distinct case when later.is_purchase then later.order_date end)::double as purchases
        from known
        left join later on later.customer_id = known.customer_id
        group by known.customer_id
        order by known.customer_id"""


def _skipped(warehouse: Warehouse, context: AssetExecutionContext, as_of: dt.date, reason: str):
    """No rows for this snapshot (earlier rows for it are removed), and why."""
    context.log.warning(f"segment_validity: no rows for {as_of}: {reason}")
    metadata = warehouse.replace_rows("segment_validity", VALIDITY_SCHEMA.empty_table(), "snapshot_date", as_of)
    return MaterializeResult(asset_key=AssetKey("segment_validity"),
                             metadata={**metadata, "skipped": MetadataValue.text(reason)})


def _date(value: dt.date) -> str:
    return f"cast('{value.isoformat()}' as date)"
