"""Behavioural segments of the current snapshot: fit (or score with the saved model), keep ids stable, publish."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.privacy import suppress_small_groups
from python_models.segmentation import DEFAULT_BLOCK_WEIGHTS
from python_models.tracking import PSI_SIGNIFICANT

from .history import Snapshot, fit_snapshot, previous_model, save_model, score_snapshot, write_history
from .privacy import min_group_size
from .skips import segmentation_skipped, skipped, withdraw
from .warehouse import Warehouse

INPUTS = ["customer_features", "feature_slots", "customer_rfm", "stg_shop__as_of", "int_customer_items"]
# The embedding tables this step publishes beside the segments (emptied, like them, when it is skipped).
DEEP_TABLES = ("segment_assignments", "customer_embeddings")


class SegmentationConfig(Config):
    """Settings of the segmentation run; the defaults suit most shops."""

    # False: assign customers with the previous snapshot's saved model instead of refitting (the first snapshot
    # has none, so it is fitted); see README
    refit: bool = True
    # candidate algorithms and numbers of segments (see python_models.segmentation.model_selection); ae_kmeans and
    # idec cluster the autoencoder's embedding, starting from the feature-space choice (python_models.segmentation.
    # embedding)
    algorithms: list[str] = ["kmeans", "gmm", "ward", "hdbscan", "ae_kmeans", "idec"]
    # publish this algorithm's best candidate instead of the rule's choice among all ("": the rule decides)
    method: str = ""
    k_min: int = 4  # segments to act on; see DEFAULT_K_RANGE in python_models.segmentation.scores
    k_max: int = 10
    n_bootstrap: int = 5
    silhouette_sample_size: int = 10_000
    random_state: int = 0
    # each block's share of the distance (see python_models.segmentation.features)
    block_weights: dict[str, float] = dict(DEFAULT_BLOCK_WEIGHTS)
    # product-taste coordinates learned from the customer x product matrix (0: no taste block)
    taste_components: int = 8
    # the autoencoder of the embedding candidates: its coordinates (with 16, K-Means on the embedding ended up to
    # 0.02 ARI further from the planted personas than with 32 on generated shops), and how it trains ("plain";
    # "noise" or "adversarial": inputs moved by autoencoder_epsilon standardised units, so small changes move
    # customers less)
    embedding_dim: int = 32
    autoencoder_training: str = "plain"
    autoencoder_epsilon: float = 0.25
    # at most this share of customers is set aside as extreme (never defines a segment; flagged is_outlier)
    max_outlier_share: float = 0.02
    # a segment keeps its id when its centre moved less than this multiple of the typical spacing of centres
    match_factor: float = 0.5
    # segments of this many earlier snapshots may pass on their id (one that skipped a month gets it back)
    match_lookback: int = 3
    # population stability index above which a feature counts as shifted since the previous snapshot
    drift_threshold: float = PSI_SIGNIFICANT


@multi_asset(
    specs=[
        AssetSpec("customer_segments", deps=INPUTS, group_name="segments",
                  description="One row per customer: behavioural segment (stable id), its name and the distance "
                              "to its centre."),
        AssetSpec("segment_profiles", deps=INPUTS, group_name="segments",
                  description="One row per segment: size, share, feature means, lifts, top features and name."),
        AssetSpec("segmentation_metrics", deps=INPUTS, group_name="segments",
                  description="One row per candidate model (algorithm x k): silhouette, Davies-Bouldin, "
                              "Calinski-Harabasz, bootstrap stability, and the choice."),
        AssetSpec("segment_assignments", deps=INPUTS, group_name="segments",
                  description="One row per customer and fitted method (kmeans, gmm, ward, hdbscan, ae_kmeans, "
                              "idec): the segment the rule's best candidate of that method gives, and its "
                              "confidence."),
        AssetSpec("customer_embeddings", deps=INPUTS, group_name="segments",
                  description="One row per customer: the autoencoder's embedding of the customer's features "
                              "(dim_01 ..), with the version of the autoencoder artifact."),
        AssetSpec("customer_taste", deps=INPUTS, group_name="segments",
                  description="One row per customer and taste component: the customer's coordinates learned from "
                              "the customer x product purchase matrix (TF-IDF + truncated SVD), the segmentation's "
                              "taste block."),
        AssetSpec("segment_history", deps=INPUTS, group_name="history",
                  description="One row per customer per snapshot: segment, RFM segment and model. This run "
                              "writes the current snapshot; the monthly job writes month ends."),
        AssetSpec("segment_drift", deps=INPUTS, group_name="history",
                  description="One row per snapshot and numeric feature: PSI against the previous snapshot and "
                              "whether it is beyond the threshold."),
        AssetSpec("feature_distributions", deps=INPUTS, group_name="history",
                  description="One row per snapshot, numeric feature and decile bin: the distribution drift is "
                              "measured against."),
        AssetSpec("segment_model_health", deps=INPUTS, group_name="history",
                  description="One row per snapshot: whether the previous snapshot's model still fits (share of "
                              "customers far from their centre, largest feature PSI, stale) and how often it "
                              "agrees with the refit."),
    ]
)
def segmentation(context: AssetExecutionContext, config: SegmentationConfig, warehouse: Warehouse):
    snapshot = Snapshot.read(warehouse)
    try:
        previous = previous_model(warehouse, snapshot.as_of)
    except FileNotFoundError as missing:  # models/ beside the warehouse deleted: a refit does without it
        if not config.refit:
            raise
        context.log.warning(f"{missing} Refitting without it (no model-health row for this snapshot).")
        previous = None
    if config.refit or previous is None:
        try:
            tracked = fit_snapshot(snapshot, warehouse, config, log=context.log.info)
        except ValueError as error:  # too few or too alike customers: no segments published, and why
            yield from segmentation_skipped(context, warehouse, snapshot, str(error))
            withdraw(warehouse, DEEP_TABLES)
            for asset in DEEP_TABLES:
                yield skipped(context, asset, f"no segments at {snapshot.as_of}: {error}")
            return
        save_model(warehouse, tracked)
        context.log.info(f"Chose {tracked.result.algorithm} with {tracked.result.n_clusters} segments "
                         f"({tracked.version}) over {len(tracked.result.labels)} customers, "
                         f"{int(tracked.result.outlier_mask().sum())} set aside as extreme")
        for method, reason in tracked.result.model.skipped_.items():
            context.log.info(f"{method}: no usable candidate ({reason})")
    else:
        tracked = score_snapshot(snapshot, warehouse, config, previous)
        context.log.info(f"Scored {len(tracked.result.labels)} customers with {tracked.version} (no refit)")

    yield MaterializeResult(asset_key=AssetKey("customer_segments"),
                            metadata=warehouse.write_table("customer_segments", tracked.segments))
    profiles, smallest = tracked.profiles(), min_group_size()
    shown = suppress_small_groups(profiles, "size", smallest,
                                  columns=[c for c in profiles.columns if c not in ("segment_id", "segment_name")])
    if shown["is_suppressed"].any():
        context.log.info(f"segment_profiles: {int(shown['is_suppressed'].sum())} segment(s) under "
                         f"{smallest} customers shown without figures")
    yield MaterializeResult(asset_key=AssetKey("segment_profiles"),
                            metadata=warehouse.write_table("segment_profiles", shown))
    yield MaterializeResult(asset_key=AssetKey("customer_taste"),
                            metadata=warehouse.write_table("customer_taste", tracked.taste_rows()))
    yield MaterializeResult(asset_key=AssetKey("segment_assignments"),
                            metadata=warehouse.write_table("segment_assignments", tracked.method_assignments()))
    embedding_metadata = {}
    if tracked.autoencoder is not None:
        history = tracked.autoencoder.history_
        embedding_metadata = {"autoencoder_reused": MetadataValue.bool(bool(tracked.result.autoencoder_reused)),
                              "epochs": MetadataValue.int(history.epochs),
                              "best_validation_loss": MetadataValue.float(history.best_validation_loss)}
    yield MaterializeResult(asset_key=AssetKey("customer_embeddings"),
                            metadata={**warehouse.write_table("customer_embeddings", tracked.embeddings()),
                                      **embedding_metadata})
    if tracked.refit:
        metrics = warehouse.write_table("segmentation_metrics", tracked.metrics(context.run_id))
    else:
        metrics = {"note": MetadataValue.text(f"unchanged: customers scored with {tracked.version}")}
    yield MaterializeResult(asset_key=AssetKey("segmentation_metrics"), metadata=metrics)
    for name, metadata in write_history(warehouse, tracked, config.drift_threshold, previous).items():
        yield MaterializeResult(asset_key=AssetKey(name), metadata=metadata)
