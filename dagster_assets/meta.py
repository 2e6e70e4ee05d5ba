"""Meta-learning: segments and behaviour of a new market from a few labelled customers (python_models.meta).

The groups of customers (``MetaConfig.task_column``, region by default) that hold labels from
``segment_labels.csv`` are the new markets: the prototypical network, meta-trained on the other groups' segments
and on pseudo-label tasks, assigns all their customers from those labels (``adapted_segments``); FOMAML and
Reptile, meta-trained on the other groups' (group x cutoff) behaviour tasks, are evaluated there against the
baselines (``meta_learning_metrics``). A shop without labels skips the step with the reason: there is nothing
to adapt to.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset

from python_models.meta.artifact import (fingerprint, load_behaviour_model, load_segment_model, save_artifact,
                                        segment_state)
from python_models.meta.evaluation import K_SHOTS, METRIC_COLUMNS
from python_models.meta.pipeline import (BEHAVIOUR_LABELS, MetaSettings, learn_behaviour,
                                        learn_segments)
from python_models.tracking import numeric_columns

from .skips import skipped, withdraw
from .warehouse import Warehouse

INPUTS = ["customer_features", "stg_shop__segment_labels", "meta_behavior_examples", "customer_segments"]
TABLES = ("adapted_segments", "meta_learning_metrics")
ASSETS = ("meta_segment_model", "meta_behavior_model", *TABLES)
# The columns of the two tables (models/staging/_ml__sources.yml), so a skipped step leaves them empty, not absent.
EMPTY = {
    "adapted_segments": "customer_id varchar, task varchar, label varchar, confidence double, method varchar, "
                        "model_version varchar, as_of date",
    "meta_learning_metrics": "method varchar, task varchar, k_shot integer, metric varchar, value double, "
                             "ci_low double, ci_high double, episodes integer, model_version varchar, "
                             "snapshot_date date",
}
NO_LABELS = ("no segment labels (segment_labels.csv is absent or none of its rows was accepted, see "
             "rejected_segment_labels): there is no new market to adapt to")
#: Fewer customers than this and there are no tasks to meta-train on.
MIN_CUSTOMERS = 50


class MetaConfig(Config):
    """Meta-learning settings (python_models.meta.pipeline.MetaSettings)."""

    # the column of customer_features (and meta_behavior_examples) whose values are tasks: region, age_band, gender
    task_column: str = "region"
    k_shots: list[int] = list(K_SHOTS)
    episodes: int = 100  # sampled episodes per (method, task family, k_shot)
    stunt_tasks: int = 32  # K-Means pseudo-label tasks on random feature subsets
    protonet_steps: int = 500
    # soft k-means steps refining a new region's prototypes over its unlabelled customers (transductive; 0: off)
    refine_steps: int = 3
    meta_steps: int = 100
    random_state: int = 0

    def settings(self) -> MetaSettings:
        return MetaSettings(task_column=self.task_column, k_shots=tuple(self.k_shots), episodes=self.episodes,
                            stunt_tasks=self.stunt_tasks, protonet_steps=self.protonet_steps,
                            refine_steps=self.refine_steps, meta_steps=self.meta_steps,
                            random_state=self.random_state)


def _skip(context, warehouse: Warehouse, reason: str):
    withdraw(warehouse, TABLES)
    with warehouse.connect() as con:
        for name, columns in EMPTY.items():
            con.execute(f"create table if not exists main.{name} ({columns})")
    for asset in ASSETS:
        yield skipped(context, asset, reason)


def _skip_reason(labels: pd.DataFrame, features: pd.DataFrame, column: str) -> str | None:
    if len(features) < MIN_CUSTOMERS:
        return f"{len(features)} customers, fewer than {MIN_CUSTOMERS}: too few to make tasks of"
    if labels["label"].nunique() < 2:
        return f"segment_labels.csv gives a single label ({labels['label'].iloc[0]!r}): nothing to tell apart"
    if column not in features.columns:
        return None  # a configuration mistake: raised below, not skipped
    if features[column].nunique() < 2:
        return (f"every customer has the same {column} ({features[column].iloc[0]!r}): no other task to "
                "meta-train on")
    return None


def _log_skipped(context, skipped_shots: list) -> list[str]:
    notes = [reason for _, reason in skipped_shots]
    for note in notes:
        context.log.info(f"not evaluated: {note}")
    return notes


def _segment_model(context, warehouse: Warehouse, features, labels, segments, settings: MetaSettings, as_of):
    """The prototypical network: trained (or loaded, when the artifact of this input exists), adapted, evaluated,
    saved. Returns the result, the artifact's version and the asset's materialization."""
    columns = numeric_columns(features)
    key = fingerprint({**settings.__dict__, "kind": "segments"}, features[columns].to_numpy(np.float64),
                      features[settings.task_column].astype(str).to_numpy(), labels.to_numpy(), segments.to_numpy())
    version = f"meta-segments-{key[:16]}"
    path = warehouse.artifact_path(version, ".pt")
    saved = load_segment_model(path)[:2] if path.exists() else None
    seg = learn_segments(features, labels, segments, settings, log=context.log.info, trained=saved)
    if saved is None:
        save_artifact(path, segment_state(seg.protonet, seg.global_model), {
            "fingerprint": key, "columns": seg.columns, "scaler": seg.scaler.to_dict(),
            "task_column": settings.task_column, "protonet_params": seg.protonet.get_params(),
            "training": seg.protonet.training_,
            "global_params": {k: getattr(seg.global_model, k) for k in (
                "hidden_dim", "embedding_dim", "steps", "batch_size", "learning_rate", "random_state")},
            "global_classes": seg.global_model.classes_.tolist(), "tasks": seg.training_tasks, "as_of": str(as_of)})
    return seg, version, MaterializeResult(asset_key=AssetKey("meta_segment_model"), metadata={
        "path": MetadataValue.path(str(path)), "model_version": MetadataValue.text(version),
        "reused": MetadataValue.bool(saved is not None),
        "held_out": MetadataValue.text(", ".join(seg.training_tasks["held_out"])),
        "training_tasks": MetadataValue.json(seg.training_tasks)})


def _behaviour_model(context, warehouse: Warehouse, examples, held_out: list[str], settings: MetaSettings, as_of):
    """FOMAML and Reptile: trained (or loaded), evaluated, saved; ``(None, None, skipped)`` without training tasks."""
    columns = numeric_columns(examples, exclude=("period", *BEHAVIOUR_LABELS))
    key = fingerprint({**settings.__dict__, "kind": "behaviour", "held_out": held_out},
                      examples[columns].to_numpy(np.float64), examples[settings.task_column].astype(str).to_numpy(),
                      examples[list(BEHAVIOUR_LABELS)].to_numpy(np.float64), examples["period"].to_numpy())
    version = f"meta-behaviour-{key[:16]}"
    path = warehouse.artifact_path(version, ".pt")
    saved = load_behaviour_model(path)[:2] if path.exists() else None
    beh = learn_behaviour(examples, held_out, settings, log=context.log.info, trained=saved)
    if beh is None:
        return None, None, skipped(context, "meta_behavior_model", (
            f"no {settings.task_column} outside the labelled ones has a cutoff with enough customers who bought and "
            "who did not: no behaviour tasks to meta-train on"))
    if saved is None:
        save_artifact(path, {**{name: learner.params_ for name, learner in beh.learners.items()},
                             "global": beh.global_model[1]}, {
            "fingerprint": key, "columns": beh.columns, "scaler": beh.scaler.to_dict(),
            "task_column": settings.task_column,
            "learners": {name: {"params": learner.get_params(), "training": learner.training_}
                         for name, learner in beh.learners.items()},
            "tasks": beh.training_tasks, "as_of": str(as_of)})
    return beh, version, MaterializeResult(asset_key=AssetKey("meta_behavior_model"), metadata={
        "path": MetadataValue.path(str(path)), "model_version": MetadataValue.text(version),
        "reused": MetadataValue.bool(saved is not None), "training_tasks": MetadataValue.json(beh.training_tasks)})


@multi_asset(
    specs=[
        AssetSpec("meta_segment_model", deps=INPUTS, group_name="meta",
                  description="The prototypical network (episodically trained encoder), the pooled classifier "
                              "and the feature scaler: a versioned artifact beside the warehouse."),
        AssetSpec("meta_behavior_model", deps=INPUTS, group_name="meta",
                  description="FOMAML and Reptile initial weights of the behaviour MLP (buy in the next 90 "
                              "days, next-period spend) and the pooled network: a versioned artifact."),
        AssetSpec("adapted_segments", deps=INPUTS, group_name="meta",
                  description="One row per customer of each task that has labelled customers: the label the "
                              "prototypical network adapted to those labels gives, and its confidence "
                              "(prototypes refined over the task's unlabelled customers: transductive)."),
        AssetSpec("meta_learning_metrics", deps=INPUTS, group_name="meta",
                  description="One row per (method, task, k_shot, metric): mean over sampled episodes on the "
                              "held-out tasks, with its 95% interval; meta-learners and baselines on the same "
                              "splits."),
    ]
)
def meta_learning(context: AssetExecutionContext, config: MetaConfig, warehouse: Warehouse):
    if not config.k_shots or min(config.k_shots) < 1 or config.episodes < 1:
        raise ValueError(f"MetaConfig needs k_shots of at least 1 and episodes of at least 1, got k_shots "
                         f"{config.k_shots} and episodes {config.episodes}")
    labels = warehouse.read_frame("select customer_id, label from staging.stg_shop__segment_labels "
                                  "order by customer_id")
    if labels.empty:  # the usual shop: skipped before anything else is read
        yield from _skip(context, warehouse, NO_LABELS)
        return
    features = warehouse.read_frame("select * from customer_features order by customer_id")
    reason = _skip_reason(labels, features, config.task_column)
    if reason:
        yield from _skip(context, warehouse, reason)
        return
    if config.task_column not in features.columns:
        raise ValueError(f"MetaConfig.task_column {config.task_column!r} is not a column of customer_features; "
                         f"categorical columns there: {', '.join(features.select_dtypes('object').columns)}")
    settings = config.settings()
    as_of = warehouse.read_frame("select as_of_date from staging.stg_shop__as_of")["as_of_date"].iloc[0]
    # the shop's current segments are training tasks where the segmentation ran (a run may leave it out)
    segments = (warehouse.read_frame("select customer_id, segment_name from customer_segments")
                if warehouse.has_table("customer_segments")
                else pd.DataFrame({"customer_id": pd.Series(dtype=str), "segment_name": pd.Series(dtype=str)}))

    seg, segment_version, result = _segment_model(context, warehouse, features, labels, segments, settings, as_of)
    yield result
    examples = warehouse.read_frame("select * exclude (cutoff_date, customer_id) from meta_behavior_examples "
                                    "order by period, customer_id")
    if config.task_column not in examples.columns:
        raise ValueError(f"MetaConfig.task_column {config.task_column!r} is not a column of meta_behavior_examples")
    beh, behaviour_version, result = _behaviour_model(context, warehouse, examples, seg.training_tasks["held_out"],
                                                      settings, as_of)
    yield result
    frames = [seg.metrics] + ([beh.metrics] if beh is not None else [])
    notes = _log_skipped(context, seg.skipped + (beh.skipped if beh is not None else []))

    adapted = seg.adapted.assign(model_version=segment_version, as_of=as_of)
    yield MaterializeResult(asset_key=AssetKey("adapted_segments"), metadata={
        **warehouse.write_table("adapted_segments", adapted),
        "tasks": MetadataValue.text(", ".join(sorted(adapted["task"].unique()))),
        # per task: prototypes refined over its unlabelled customers (transductive) or the labels' means (guard)
        "refined": MetadataValue.json(seg.refined)})
    metrics = pd.concat([f for f in frames if len(f)] or [pd.DataFrame(columns=list(METRIC_COLUMNS))],
                        ignore_index=True)
    metrics = metrics.astype({"k_shot": "int32", "episodes": "int32"}).assign(
        model_version=np.where(metrics["task"].str.startswith("behaviour:"), behaviour_version, segment_version),
        snapshot_date=as_of)
    table = pa.Table.from_pandas(metrics[[*METRIC_COLUMNS, "model_version", "snapshot_date"]], preserve_index=False)
    yield MaterializeResult(asset_key=AssetKey("meta_learning_metrics"), metadata={
        **warehouse.write_table("meta_learning_metrics", table),
        "not_evaluated": MetadataValue.md("\n".join(f"- {n}" for n in notes) or "(none)")})
