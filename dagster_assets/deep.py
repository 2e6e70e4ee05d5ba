"""Deep-model assets beside the segmentation: the anomaly review list, and synthetic customers.

The autoencoder embedding and the deep clustering candidates are part of the segmentation step itself
(`customer_embeddings`, `segment_assignments`, see segments.py); these assets read the model that step saved.
"""

import joblib
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.deep.anomalies import DETECTORS, review_anomalies, shared_basket_counts
from python_models.deep.synthetic import generate_synthetic, synthetic_quality

from .history import Snapshot, SavedModel
from .skips import skipped, withdraw
from .warehouse import Warehouse

UPSTREAM = ["customer_segments", "customer_features", "int_customer_items"]

#: Fewer customers than this and no one is called anomalous: the shop has no bulk to stand out from.
MIN_CUSTOMERS = 50


class AnomalyConfig(Config):
    """The review list: how many customers it flags and which detector scores them."""

    flag_share: float = 0.02  # the top 2% of scores are flagged for review
    detector: str = "auto"  # "auto": the better on anomalies planted into the shop; or isolation_forest, autoencoder
    planted_share: float = 0.02  # anomalies planted into a copy of the shop's customers to judge the detectors
    random_state: int = 0


def _skip_reason(warehouse: Warehouse, features, too_few: str) -> str | None:
    """Why a deep step cannot run on this snapshot (no segments, or too few customers), or None."""
    if warehouse.read_frame("select count(*) as n from customer_segments")["n"].iloc[0] == 0:
        return "no segments at this snapshot (the segmentation step was skipped)"
    if len(features) < MIN_CUSTOMERS:
        return f"{len(features)} customers, fewer than {MIN_CUSTOMERS}: {too_few}"
    return None


def _skip(context, warehouse: Warehouse, assets: tuple[str, ...], reason: str):
    """Empty the step's tables (nothing stale left) and report each asset skipped, with the reason."""
    withdraw(warehouse, assets)
    for asset in assets:
        yield skipped(context, asset, reason)


def current_model(warehouse: Warehouse, features) -> tuple[str, SavedModel]:
    """The model version of customer_segments and the model it saved, checked against the current features."""
    segments = warehouse.read_frame("select customer_id, model_version from customer_segments order by customer_id")
    if not features["customer_id"].equals(segments["customer_id"]):
        raise ValueError("customer_segments is not from the current customer_features: materialize it again")
    version = segments["model_version"].iloc[0]
    return version, joblib.load(warehouse.artifact_path(version))


@multi_asset(
    specs=[
        AssetSpec("customer_anomalies", deps=UPSTREAM, group_name="anomalies",
                  description="One row per customer: anomaly score, percentile, flagged for review (top 2%), the "
                              "detector and the three features that contribute most."),
        AssetSpec("anomaly_metrics", deps=UPSTREAM, group_name="anomalies",
                  description="One row per detector (autoencoder, isolation_forest): AUROC and recall at the flag "
                              "rate on anomalies planted into the shop's customers, and which one scores the list."),
    ]
)
def anomalies(context: AssetExecutionContext, config: AnomalyConfig, warehouse: Warehouse):
    if config.detector not in ("auto", *DETECTORS):
        raise ValueError(f"detector must be 'auto' or one of {DETECTORS}, got {config.detector!r}")
    if not 0 < config.flag_share < 1:
        raise ValueError(f"flag_share must be between 0 and 1, got {config.flag_share}")
    snapshot = Snapshot.read(warehouse)
    features = snapshot.features
    reason = _skip_reason(warehouse, features, "no bulk for anyone to stand out from")
    if reason:
        yield from _skip(context, warehouse, ("customer_anomalies", "anomaly_metrics"), reason)
        return
    version, model = current_model(warehouse, features)
    frame = model.scorer.model_frame(features, snapshot.purchases)
    shared = shared_basket_counts(snapshot.purchases, len(features))
    review = review_anomalies(frame, shared, model.scorer.transformer, flag_share=config.flag_share,
                              detector=config.detector, planted_share=config.planted_share,
                              random_state=config.random_state, log=context.log.info)
    for row in review.metrics.itertuples():
        context.log.info(f"{row.detector}: {row.note}")
    customers = review.customers.assign(flag_share=config.flag_share, model_version=version, as_of=snapshot.as_of)
    metrics = review.metrics.assign(snapshot_date=snapshot.as_of, run_id=context.run.run_id)
    yield MaterializeResult(asset_key=AssetKey("customer_anomalies"), metadata={
        **warehouse.write_table("customer_anomalies", customers),
        "detector": MetadataValue.text(review.detector),
        "flagged": MetadataValue.int(int(customers["flagged"].sum()))})
    yield MaterializeResult(asset_key=AssetKey("anomaly_metrics"),
                            metadata=warehouse.write_table("anomaly_metrics", metrics))


class SyntheticConfig(Config):
    """Synthetic customers: how many, and the real customers held out to test them on."""

    n_customers: int = 10_000  # at most this many (never more than the shop has)
    test_share: float = 0.3  # real customers the generator never sees: train-on-synthetic is tested on them
    random_state: int = 0


@multi_asset(
    specs=[
        AssetSpec("synthetic_customers", deps=UPSTREAM, group_name="synthetic",
                  description="Synthetic customers drawn from a variational autoencoder of the customers' "
                              "features and segments, none closer to a real customer than real customers are to "
                              "each other (1st percentile): for sharing and testing without real rows."),
        AssetSpec("synthetic_quality", deps=UPSTREAM, group_name="synthetic",
                  description="One row per measure: train-on-synthetic/test-on-real segment accuracy against "
                              "train-on-real, and distances from synthetic rows to their closest real record."),
    ]
)
def synthetic(context: AssetExecutionContext, config: SyntheticConfig, warehouse: Warehouse):
    snapshot = Snapshot.read(warehouse)
    features = snapshot.features
    reason = _skip_reason(warehouse, features, "too few to learn from and to hide among")
    if reason:
        yield from _skip(context, warehouse, ("synthetic_customers", "synthetic_quality"), reason)
        return
    version, model = current_model(warehouse, features)
    frame = model.scorer.model_frame(features, snapshot.purchases)
    segments = warehouse.read_frame("select segment_id from customer_segments order by customer_id")["segment_id"]
    made = generate_synthetic(frame, segments.to_numpy(), model.scorer.transformer,
                              min(config.n_customers, len(features)), test_share=config.test_share,
                              random_state=config.random_state, log=context.log.info)
    quality = synthetic_quality(frame, segments.to_numpy(), model.scorer.transformer, made,
                                random_state=config.random_state)
    for row in quality.itertuples():
        context.log.info(f"{row.measure}: {row.value:.4g} ({row.description})")
    rows = made.rows.rename(columns={"customer_id": "synthetic_id"}).assign(
        distance_to_closest_real=made.distance_to_closest_real, model_version=version)
    rows = rows.drop(columns=[c for c in rows.columns if str(c).startswith("taste_")])
    yield MaterializeResult(asset_key=AssetKey("synthetic_customers"),
                            metadata=warehouse.write_table("synthetic_customers", rows))
    yield MaterializeResult(asset_key=AssetKey("synthetic_quality"), metadata=warehouse.write_table(
        "synthetic_quality", quality.assign(snapshot_date=snapshot.as_of, model_version=version)))
