"""Explanations of the current segmentation: readable rules, a 2-D map for BI, and an HTML report."""

import joblib
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from python_models.customer_map import customer_map
from python_models.explain import surrogate_rules
from python_models.report import segment_report
from python_models.tracking import NEW

from .history import Snapshot
from .skips import skipped, withdraw
from .warehouse import Warehouse

REPORT = "segment_report.html"
UPSTREAM = ["customer_segments", "segment_profiles", "customer_features", "feature_slots", "segment_transitions",
            "segment_drift", "int_customer_items"]


@multi_asset(
    specs=[
        AssetSpec("segment_rules", deps=UPSTREAM, group_name="segments",
                  description="Readable rules per segment from a shallow surrogate decision tree, with each rule's "
                              "precision, coverage and support and the tree's fidelity."),
        AssetSpec("customer_map", deps=UPSTREAM, group_name="segments",
                  description="2-D coordinates per customer for scatter plots: PCA for all (method 'pca'), "
                              "t-SNE on a seeded sample (method 'tsne')."),
        AssetSpec("segment_report", deps=UPSTREAM, group_name="segments",
                  description="HTML report beside the warehouse: sizes, profile heatmap, map, rules, the latest "
                              "transition matrix and feature drift."),
    ]
)
def segment_explanations(context: AssetExecutionContext, warehouse: Warehouse):
    if warehouse.read_frame("select count(*) as n from customer_segments")["n"].iloc[0] == 0:
        # the segmentation step was skipped (its metadata says why): nothing to explain, nothing stale left
        withdraw(warehouse, ["segment_rules", "customer_map"])
        warehouse.report_path(REPORT).unlink(missing_ok=True)
        for asset in ("segment_rules", "customer_map", "segment_report"):
            yield skipped(context, asset, "no segments to explain (the segmentation step was skipped)")
        return
    snapshot = Snapshot.read(warehouse)
    features = snapshot.features
    segments = warehouse.read_frame("select customer_id, segment_id, model_version from customer_segments "
                                    "order by customer_id")
    profiles = warehouse.read_frame("select * from segment_profiles order by segment_id")
    slots = warehouse.read_frame("select dimension, slot, label from feature_slots")
    if not features["customer_id"].equals(segments["customer_id"]):
        raise ValueError("customer_segments is not from the current customer_features: materialize it again")
    version = segments["model_version"].iloc[0]
    fitted = joblib.load(warehouse.artifact_path(version))
    segment_ids = segments["segment_id"].to_numpy()

    labels = {f"{row.dimension}_share_{row.slot:02d}": f"{row.label} share" for row in slots.itertuples()}
    rules = surrogate_rules(features.drop(columns="customer_id"), segment_ids, feature_labels=labels)
    X = fitted.scorer.transformer.transform(fitted.scorer.model_frame(features, snapshot.purchases))
    points = customer_map(X, features["customer_id"].to_numpy(), segment_ids=segment_ids)
    html = segment_report(profiles, points, title=f"Customer segments ({version})", rules=rules,
                          transitions=_latest_transitions(warehouse), drift=_latest_drift(warehouse))
    report = warehouse.report_path(REPORT)
    report.write_text(html, encoding="utf-8")
    context.log.info(f"Surrogate rules fidelity {rules.fidelity:.3f}; report at {report}")

    yield MaterializeResult(
        asset_key=AssetKey("segment_rules"),
        metadata={**warehouse.write_table("segment_rules", rules.rules.assign(
            fidelity=rules.fidelity, model_version=version)), "fidelity": rules.fidelity})
    yield MaterializeResult(asset_key=AssetKey("customer_map"),
                            metadata=warehouse.write_table("customer_map", points))
    yield MaterializeResult(asset_key=AssetKey("segment_report"),
                            metadata={"path": MetadataValue.path(str(report)),
                                      "size_kib": round(len(html.encode()) / 1024)})


def _latest_transitions(warehouse: Warehouse):
    """The migration matrix into the latest snapshot, labelled by segment id, or None with one snapshot only."""
    moves = warehouse.read_frame(
        f"select from_snapshot, to_snapshot, coalesce(cast(from_segment_id as varchar), '{NEW}') as from_segment, "
        "cast(to_segment_id as varchar) as to_segment, customers, share from segment_transitions "
        "where to_snapshot = (select max(to_snapshot) from segment_transitions)")
    return moves if len(moves) else None


def _latest_drift(warehouse: Warehouse):
    """PSI per feature at the latest snapshot that has a reference, or None."""
    drift = warehouse.read_frame(
        "select feature, psi, drifted from segment_drift where psi is not null and snapshot_date = "
        "(select max(snapshot_date) from segment_drift where psi is not null) order by feature")
    return drift if len(drift) else None
