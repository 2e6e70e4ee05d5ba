"""Recommendations: every customer's list and the temporal-holdout metrics of every recommender, as tables.

Thin: reads the purchase history (intermediate.int_customer_product_days) and the segments, calls
python_models.recommend, writes customer_recommendations and recommendation_metrics. A shop without product ids
gets both tables empty, with the reason in the log and the metadata.
"""

import datetime as dt
import time

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.recommend import PurchaseHistory, RecommendSettings, day_number, recommend, with_targets
from python_models.recommend.pipeline import RECOMMENDATION_SCHEMA

from .skips import skipped
from .warehouse import Warehouse

GROUP = "recommendations"
HISTORY_SQL = "select customer_id, product_id, purchase_date from intermediate.int_customer_product_days"

METRICS_SCHEMA = pa.schema([
    ("recommender", pa.string()), ("metric", pa.string()), ("k", pa.int64()), ("item_scope", pa.string()),
    ("value", pa.float64()), ("customers", pa.int64()), ("test_start", pa.date32()), ("test_end", pa.date32()),
    ("target", pa.string()), ("target_value", pa.float64()), ("target_met", pa.bool_()),
])


class RecommendationConfig(Config):
    """Settings of the recommendations; python_models.recommend.RecommendSettings explains each."""

    k: int = 10
    # the holdout's test window: the last holdout_days days up to the snapshot, or from holdout_start (YYYY-MM-DD)
    holdout_days: int = 90
    holdout_start: str | None = None
    # auto: keep products already bought when >= 10% of the holdout's purchases were repurchases; always; never
    exclude_purchased: str = "auto"
    candidates_per_source: int = 30
    half_life_days: float = 180.0
    # the same as the dbt vars recommendation_min_support / recommendation_neighbours of item_similarity
    min_support: int = 2
    neighbours: int = 50
    l2_grid: list[float] = [50.0, 200.0, 800.0]
    ease_max_products: int = 5000
    als_factors: int = 64
    num_threads: int = 1
    random_state: int = 0

    def settings(self) -> RecommendSettings:
        return RecommendSettings(
            k=self.k, candidates_per_source=self.candidates_per_source, half_life_days=self.half_life_days,
            min_support=self.min_support, neighbours=self.neighbours, l2_grid=tuple(self.l2_grid),
            ease_max_products=self.ease_max_products, als_factors=self.als_factors, num_threads=self.num_threads,
            exclude_purchased=self.exclude_purchased, random_state=self.random_state)


@multi_asset(
    specs=[
        AssetSpec("customer_recommendations", deps=["int_customer_product_days", "customer_segments"],
                  group_name=GROUP,
                  description="One row per customer and recommended product (rank, score, source, reason, "
                              "is_repeat): the blend of the repeat, item k-NN, EASE^R, ALS and popularity "
                              "recommenders, learned on the temporal holdout."),
        AssetSpec("recommendation_metrics", deps=["int_customer_product_days", "customer_segments"],
                  group_name=GROUP,
                  description="One row per recommender, metric, k and item scope (all, repeat, new): recall, NDCG, "
                              "MAP, hit rate and coverage on a temporal holdout, with the blend's targets."),
    ]
)
def recommendations(context: AssetExecutionContext, config: RecommendationConfig, warehouse: Warehouse):
    started, cpu_started = time.perf_counter(), time.process_time()
    settings = config.settings()
    as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
    purchases = warehouse.read_frame(HISTORY_SQL, categorical=["customer_id", "product_id"])
    if purchases.empty:
        reason = ("no purchase line with a product id (transactions.product_id is missing or empty): no "
                  "recommendations, the table is written empty")
        yield skipped(context, "customer_recommendations", reason,
                      **warehouse.write_table("customer_recommendations", RECOMMENDATION_SCHEMA.empty_table()))
        yield skipped(context, "recommendation_metrics", reason,
                      **warehouse.write_table("recommendation_metrics", METRICS_SCHEMA.empty_table()))
        return

    segments = _segments(warehouse)
    customers = pd.Index(segments["customer_id"]).union(purchases["customer_id"].cat.categories)
    history = PurchaseHistory.from_frame(purchases, customers=customers)
    groups, names = _groups(history, segments)
    end = day_number(as_of) + 1  # windows end before this day: the snapshot date is in the history
    test_start = day_number(config.holdout_start) if config.holdout_start else end - config.holdout_days
    notes = []
    if test_start <= history.first_day or test_start >= end:
        notes.append(f"no holdout: the test window would start on {_date(test_start)}, but the history runs from "
                     f"{_date(history.first_day)} to {as_of}")
        test_start = None
    context.log.info(f"recommending for {history.shape[0]:,} customers over {history.shape[1]:,} products")
    run = recommend(history, end, test_start, settings, groups=groups, group_names=names, log=context.log.info)
    notes += run.notes
    for note in notes:
        context.log.info(note)

    metrics = METRICS_SCHEMA.empty_table()
    if run.holdout is not None and len(run.holdout.metrics):
        frame = with_targets(run.holdout.metrics).assign(test_start=_date(test_start), test_end=as_of)
        metrics = pa.Table.from_pandas(frame[METRICS_SCHEMA.names], schema=METRICS_SCHEMA, preserve_index=False)
    metadata = {
        "notes": MetadataValue.md("\n".join(f"- {note}" for note in notes) or "(none)"),
        "blend": MetadataValue.text(run.blend),
        "ease_l2": MetadataValue.float(float(run.l2)),
        "exclude_purchased": MetadataValue.bool(bool(run.exclude_purchased)),
        "seconds": MetadataValue.float(round(time.perf_counter() - started, 1)),
        # CPU seconds of the process: what the step costs whatever else shares the machine
        "cpu_seconds": MetadataValue.float(round(time.process_time() - cpu_started, 1)),
    }
    yield MaterializeResult(asset_key=AssetKey("customer_recommendations"), metadata={
        **warehouse.write_table("customer_recommendations", run.recommendations), **metadata})
    written = warehouse.write_table("recommendation_metrics", metrics)
    if metrics.num_rows:
        yield MaterializeResult(asset_key=AssetKey("recommendation_metrics"), metadata={
            **written, **metadata, "ndcg_at_10": MetadataValue.md(_ndcg_table(metrics.to_pandas()))})
    else:  # no holdout (too short a history) or nobody bought in both windows: the notes say which
        yield skipped(context, "recommendation_metrics", "; ".join(notes) or "no holdout", **written, **metadata)


def _segments(warehouse: Warehouse) -> pd.DataFrame:
    """customer_id, segment_id, segment_name of the current segments (none yet: an empty frame)."""
    if not warehouse.has_table("customer_segments"):
        return pd.DataFrame({"customer_id": pd.Series(dtype=object), "segment_id": pd.Series(dtype="int64"),
                             "segment_name": pd.Series(dtype=object)})
    return warehouse.read_frame("select customer_id, segment_id, segment_name from main.customer_segments")


def _groups(history: PurchaseHistory, segments: pd.DataFrame):
    """A segment number 0..n-1 per customer of the history (-1: none) and the segments' names."""
    if segments.empty:
        return None, None
    ids = np.sort(segments["segment_id"].unique())
    names = segments.drop_duplicates("segment_id").set_index("segment_id")["segment_name"].reindex(ids)
    code = pd.Series(np.searchsorted(ids, segments["segment_id"]), index=segments["customer_id"].to_numpy())
    groups = code.reindex(history.customers).fillna(-1).to_numpy(np.int64)
    return groups, names.to_numpy(dtype=object)


def _ndcg_table(metrics: pd.DataFrame) -> str:
    ndcg = metrics[(metrics["metric"] == "ndcg") & (metrics["k"] == 10)]
    table = ndcg.pivot_table(index="recommender", columns="item_scope", values="value", sort=False)
    return table.to_markdown(floatfmt=".3f")


def _date(day: int) -> dt.date:
    return (np.datetime64("1970-01-01", "D") + np.timedelta64(day, "D")).astype(dt.date)
