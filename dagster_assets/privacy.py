"""Differentially private segment counts for sharing outside the company, with the privacy budget recorded.

Optional: releases need a secret, SEGMENTS_PRIVACY_SECRET, that seeds the noise (python_models.privacy.release_rng).
Without it the tables are written empty and the run says why.
"""

import pandas as pd
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, EnvVar, MaterializeResult, multi_asset

from python_models.privacy import laplace_counts, release_rng

from .warehouse import Warehouse

SECRET_ENV_VAR = "SEGMENTS_PRIVACY_SECRET"
MIN_GROUP_ENV_VAR = "SEGMENTS_MIN_GROUP_SIZE"  # read by dbt's transition tables too (macros/migration_matrix.sql)
RELEASED_TABLE = "segment_counts_dp"

COUNTS_SCHEMA = pa.schema([("as_of", pa.date32()), ("segment_id", pa.int64()), ("segment_name", pa.string()),
                           ("customers_dp", pa.int64()), ("epsilon", pa.float64())])
RELEASES_SCHEMA = pa.schema([("release_id", pa.string()), ("released_table", pa.string()), ("as_of", pa.date32()),
                             ("mechanism", pa.string()), ("epsilon", pa.float64()), ("sensitivity", pa.float64()),
                             ("counts", pa.int64())])


def min_group_size() -> int:
    """The smallest group whose figures BI-facing tables show (SEGMENTS_MIN_GROUP_SIZE, default 10)."""
    value = EnvVar(MIN_GROUP_ENV_VAR).get_value() or "10"
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"{MIN_GROUP_ENV_VAR} must be a whole number of customers, at least 1; got {value!r}")
    return int(value)


class PrivacyConfig(Config):
    """`epsilon`: the privacy budget one release of the segment counts spends (smaller = more noise: the noise's
    standard deviation is 1.41 / epsilon customers)."""
    epsilon: float = 1.0


@multi_asset(
    specs=[
        AssetSpec(RELEASED_TABLE, deps=["customer_segments"], group_name="privacy",
                  description="One row per segment at the snapshot: its customer count with Laplace noise "
                              "(epsilon-differential privacy), for sharing outside."),
        AssetSpec("privacy_releases", deps=["customer_segments"], group_name="privacy",
                  description="One row per differentially private release: what was released, when (as_of), "
                              "the mechanism and the epsilon it spent. Budgets add up over releases."),
    ]
)
def segment_counts_dp(context: AssetExecutionContext, config: PrivacyConfig, warehouse: Warehouse):
    if not config.epsilon > 0:
        raise ValueError(f"PrivacyConfig.epsilon must be positive, got {config.epsilon}")
    secret = EnvVar(SECRET_ENV_VAR).get_value()
    sizes = warehouse.read_frame("select as_of, segment_id, any_value(segment_name) as segment_name, "
                                 "any_value(model_version) as model_version, count(*) as customers "
                                 "from customer_segments group by as_of, segment_id order by segment_id")
    if not secret or sizes.empty:
        reason = (f"{SECRET_ENV_VAR} is not set: no differentially private release" if not secret
                  else "no segments to release")
        context.log.info(reason)
        yield MaterializeResult(asset_key=AssetKey(RELEASED_TABLE), metadata={
            **warehouse.write_table(RELEASED_TABLE, COUNTS_SCHEMA.empty_table()), "skipped": reason})
        if not warehouse.has_table("privacy_releases"):
            warehouse.write_table("privacy_releases", RELEASES_SCHEMA.empty_table())
        yield MaterializeResult(asset_key=AssetKey("privacy_releases"), metadata={"skipped": reason})
        return
    as_of = pd.Timestamp(sizes["as_of"].iloc[0]).date()
    # one release per (snapshot, segmentation, epsilon): run again, it draws the same noise and spends nothing new;
    # another epsilon or other segments are a new release, and the ledger adds it up
    release_id = f"{RELEASED_TABLE}@{as_of:%Y-%m-%d}/{sizes['model_version'].iloc[0]}/epsilon={config.epsilon:g}"
    noisy = laplace_counts(sizes["customers"], config.epsilon, release_rng(secret, release_id))
    counts = pa.table({"as_of": pa.array([as_of] * len(sizes), pa.date32()),
                       "segment_id": sizes["segment_id"].astype("int64"), "segment_name": sizes["segment_name"],
                       "customers_dp": noisy, "epsilon": [config.epsilon] * len(sizes)}, schema=COUNTS_SCHEMA)
    yield MaterializeResult(asset_key=AssetKey(RELEASED_TABLE), metadata=warehouse.write_table(RELEASED_TABLE, counts))
    release = pa.table({"release_id": [release_id], "released_table": [RELEASED_TABLE],
                        "as_of": pa.array([as_of], pa.date32()), "mechanism": ["laplace"],
                        "epsilon": [config.epsilon], "sensitivity": [1.0], "counts": [len(sizes)]},
                       schema=RELEASES_SCHEMA)
    metadata = warehouse.replace_rows("privacy_releases", release, "release_id", release_id)
    spent = float(warehouse.read_frame("select sum(epsilon) as spent from privacy_releases")["spent"].iloc[0])
    context.log.info(f"released {len(sizes)} segment counts with epsilon {config.epsilon}; "
                     f"{spent:g} spent over all releases in privacy_releases")
    yield MaterializeResult(asset_key=AssetKey("privacy_releases"), metadata={**metadata, "epsilon_spent": spent})
