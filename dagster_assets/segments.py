"""Behavioural segments: fit on customer_features, write segments, profiles and the k search."""

import hashlib

import joblib

import numpy as np
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, multi_asset

from python_models.segmentation import DEFAULT_BLOCK_WEIGHTS, segment_customers

from .warehouse import Warehouse


class SegmentationConfig(Config):
    """Settings of the segmentation run; the defaults suit most shops."""

    k_min: int = 2
    k_max: int = 10
    silhouette_sample_size: int = 10_000
    random_state: int = 0
    # each block's share of the distance (see python_models.segmentation.features)
    block_weights: dict[str, float] = dict(DEFAULT_BLOCK_WEIGHTS)


@multi_asset(
    specs=[
        AssetSpec("customer_segments", deps=["customer_features", "feature_slots"], group_name="segments",
                  description="One row per customer: behavioural segment, its name and the distance to its centre."),
        AssetSpec("segment_profiles", deps=["customer_features", "feature_slots"], group_name="segments",
                  description="One row per segment: size, share, feature means, lifts and a readable name."),
        AssetSpec("segmentation_metrics", deps=["customer_features"], group_name="segments",
                  description="One row per k tried: silhouette, Davies-Bouldin, Calinski-Harabasz and the choice."),
    ]
)
def segmentation(context: AssetExecutionContext, config: SegmentationConfig, warehouse: Warehouse):
    features = warehouse.read_frame("select * from customer_features order by customer_id")
    slots = warehouse.read_frame("select dimension, slot, label from feature_slots")
    as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
    slot_labels = {f"{row.dimension}_share_{row.slot:02d}": str(row.label) for row in slots.itertuples()}

    result = segment_customers(
        features,
        k_range=range(config.k_min, config.k_max + 1),
        sample_size=config.silhouette_sample_size,
        random_state=config.random_state,
        slot_labels=slot_labels,
        block_weights=config.block_weights,
    )
    version = model_version(result)
    context.log.info(f"Chose k={result.n_clusters} ({version}) over {len(features)} customers")
    # the fitted transform and model, so later steps (map, scoring) use exactly this model without refitting
    joblib.dump({"transformer": result.transformer, "model": result.model, "version": version, "as_of": as_of},
                warehouse.artifact_path(version))

    # segment ids start at 1 (1 = the largest) for analysts
    profiles = result.profiles.assign(segment_id=result.profiles["segment_id"] + 1)
    names = profiles.set_index("segment_id")["segment_name"]
    segment_ids = result.labels + 1
    segments = pa.table(
        {
            "customer_id": pa.array(features["customer_id"], pa.string()),
            "segment_id": pa.array(segment_ids, pa.int32()),
            "segment_name": pa.array(names.reindex(segment_ids).to_numpy(), pa.string()),
            "distance": pa.array(result.distances, pa.float64()),
            "model_version": pa.array([version] * len(features), pa.string()),
            "as_of": pa.array([as_of] * len(features), pa.date32()),
        }
    )
    yield MaterializeResult(asset_key=AssetKey("customer_segments"),
                            metadata=warehouse.write_table("customer_segments", segments))
    yield MaterializeResult(asset_key=AssetKey("segment_profiles"),
                            metadata=warehouse.write_table("segment_profiles", profiles))
    yield MaterializeResult(asset_key=AssetKey("segmentation_metrics"),
                            metadata=warehouse.write_table("segmentation_metrics", result.metrics))


def model_version(result) -> str:
    """`kmeans-k<k>-<hash of the centres>`: equal versions mean identical models."""
    digest = hashlib.sha256(np.round(result.model.cluster_centers_, 10).tobytes()).hexdigest()[:10]
    return f"kmeans-k{result.n_clusters}-{digest}"
