"""From warehouse frames to tasks, models, adapted segments and metrics: what the Dagster assets call.

Tasks are slices of customers by ``task_column`` (``region`` by default; any categorical column of
``customer_features`` and ``meta_behavior_examples`` works) and, for behaviour, by cutoff period. The groups that
hold labelled customers are **held out**: nothing of theirs is trained on except unlabelled features (STUNT's
pseudo-labels), and every metric is measured on them.

- Segment tasks for meta-training: STUNT pseudo-label tasks over all customers, and the shop's current segments
  (``customer_segments``) in each group that is not held out.
- Evaluated assignment families: ``labels:<group>`` (the labelled customers of a held-out group, their labels
  from the file) and ``segments:<group>`` (all customers of a held-out group, the shop's segments as labels).
- Adapted segments: every customer of a held-out group gets the label of the nearest prototype; the prototypes
  are the labels' means refined over the group's unlabelled customers (transductive, see :mod:`.protonet`).
- Behaviour tasks: (group, cutoff) slices of ``meta_behavior_examples``; the held-out groups' slices are
  evaluated as ``behaviour:<group>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..deep.runtime import seeded
from ..tracking import numeric_columns
from .baselines import GlobalClassifier, fit_global_behaviour
from .evaluation import K_SHOTS, METRIC_COLUMNS, evaluate_assignment, evaluate_behaviour
from .features import FeatureScaler
from .maml import BehaviourMetaLearner, BehaviourTask
from .protonet import PrototypicalNetwork
from .tasks import Task, stunt_tasks

__all__ = ["BEHAVIOUR_LABELS", "BehaviourResult", "MetaSettings", "SegmentResult", "behaviour_tasks",
           "learn_behaviour", "learn_segments"]

#: Columns of meta_behavior_examples that are not features: keys, groupings and the two outcomes.
BEHAVIOUR_LABELS = ("purchased_next_horizon", "spend_next_horizon")


@dataclass
class MetaSettings:
    """What the meta-learning step does; the Dagster config mirrors it."""

    task_column: str = "region"
    k_shots: tuple[int, ...] = K_SHOTS
    episodes: int = 100
    stunt_tasks: int = 32
    protonet_steps: int = 500
    refine_steps: int = 3  # soft k-means steps over a new task's unlabelled customers (0: inductive prototypes)
    meta_steps: int = 100
    random_state: int = 0


@dataclass
class SegmentResult:
    protonet: PrototypicalNetwork
    global_model: GlobalClassifier
    scaler: FeatureScaler
    columns: list[str]
    adapted: pd.DataFrame
    metrics: pd.DataFrame
    skipped: list = field(default_factory=list)
    training_tasks: dict = field(default_factory=dict)
    refined: dict = field(default_factory=dict)  # group -> whether its adapted prototypes are the refined ones


def learn_segments(features: pd.DataFrame, labels: pd.DataFrame, segments: pd.DataFrame, settings: MetaSettings,
                   log=print, trained: tuple | None = None) -> SegmentResult:
    """Meta-train the prototypical network, adapt it to every held-out group's labels, evaluate on held-out tasks.

    ``features``: customer_features (one row per customer, ``settings.task_column`` among its columns);
    ``labels``: ``customer_id, label``; ``segments``: ``customer_id, segment_name`` (may be empty);
    ``trained``: ``(protonet, global_model)`` saved from the same input (no training then).
    """
    with seeded(settings.random_state):  # one thread and seeded torch throughout: the same input, the same tables
        return _learn_segments(features, labels, segments, settings, log, trained)


def _learn_segments(features, labels, segments, settings: MetaSettings, log, trained) -> SegmentResult:
    column = settings.task_column
    columns = numeric_columns(features)
    scaler = FeatureScaler().fit(features[columns].to_numpy(np.float64))
    X = scaler.transform(features[columns].to_numpy(np.float64))
    group = features[column].astype(str).to_numpy()
    row_of = pd.Series(np.arange(len(features)), index=features["customer_id"])
    labelled = labels[labels["customer_id"].isin(row_of.index)]
    label_rows = row_of[labelled["customer_id"]].to_numpy()
    held_out = sorted(set(group[label_rows]))
    rng = np.random.default_rng(settings.random_state)

    seg = segments.set_index("customer_id")["segment_name"].reindex(features["customer_id"]).to_numpy()
    if trained is not None:
        protonet, global_model = trained
        protonet.refine_steps = settings.refine_steps  # an adaptation setting, not a trained weight
        counts = {"reused": True}
        log("protonet: input unchanged, reusing the saved meta_segment_model")
    else:
        pseudo = stunt_tasks(X, settings.stunt_tasks, rng)
        past = [Task(f"segments:{g}", X[(group == g) & pd.notna(seg)],
                     seg[(group == g) & pd.notna(seg)].astype(str))
                for g in sorted(set(group) - set(held_out)) if ((group == g) & pd.notna(seg)).sum() > 1]
        past = [t for t in past if t.n_classes >= 2]
        log(f"protonet: {len(pseudo)} STUNT pseudo-label tasks, {len(past)} segment tasks outside the held-out "
            f"{column} {', '.join(held_out)}")
        protonet = PrototypicalNetwork(steps=settings.protonet_steps, refine_steps=settings.refine_steps,
                                       random_state=settings.random_state)
        protonet.fit(pseudo + past, log=log)
        # every training task pooled, each task's labels its own classes
        global_model = GlobalClassifier(random_state=settings.random_state).fit(
            [Task(t.name, t.X, np.char.add(f"{t.name}:", np.asarray(t.labels).astype(str))) for t in pseudo + past])
        counts = {"pseudo": len(pseudo), "segments": len(past)}

    adapted, frames, skipped, refined = [], [], [], {}
    for g in held_out:
        in_group = label_rows[group[label_rows] == g]
        y = labelled["label"].to_numpy()[group[label_rows] == g].astype(str)
        rows = np.flatnonzero(group == g)
        unlabelled = np.setdiff1d(rows, in_group)  # the group's other customers: those to be assigned
        predictor = protonet.adapt(X[in_group], y, X_unlabelled=X[unlabelled])
        refined[g] = predictor.refined_
        log(f"protonet: {g}: " + (f"prototypes refined over its {len(unlabelled)} unlabelled customers"
                                  if predictor.refined_ else "the labels' means (the refined prototypes would "
                                  "give some labelled customer another label)"))
        proba = predictor.predict_proba(X[rows])
        adapted.append(pd.DataFrame({
            "customer_id": features["customer_id"].to_numpy()[rows], "task": g,
            "label": predictor.classes_[proba.argmax(1)], "confidence": proba.max(1), "method": "protonet"}))
        # the labels' task is its few labelled customers: the group's others are its unlabelled ones
        for task, others in ((Task(f"labels:{g}", X[in_group], y), X[unlabelled]),
                             (Task(f"segments:{g}", X[rows][pd.notna(seg[rows])],
                                   seg[rows][pd.notna(seg[rows])].astype(str))
                              if pd.notna(seg[rows]).sum() > 1 else None, X[rows][pd.isna(seg[rows])])):
            if task is None or task.n_classes < 2:
                continue
            metrics, why = evaluate_assignment(task, protonet, global_model, settings.k_shots, settings.episodes,
                                               settings.random_state, X_unlabelled=others)
            frames.append(metrics)
            skipped += why
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(METRIC_COLUMNS))
    return SegmentResult(protonet, global_model, scaler, columns,
                         pd.concat(adapted, ignore_index=True), metrics, skipped,
                         {**counts, "held_out": held_out}, refined)


@dataclass
class BehaviourResult:
    learners: dict
    global_model: tuple
    scaler: FeatureScaler
    columns: list[str]
    metrics: pd.DataFrame
    skipped: list = field(default_factory=list)
    training_tasks: dict = field(default_factory=dict)


def behaviour_tasks(examples: pd.DataFrame, X: np.ndarray, held_out: list[str], column: str) -> dict[str, list]:
    """The (group, cutoff) tasks of ``examples`` (rows of ``X``, its scaled features): ``{"train": [...], group:
    [...]}``, each held-out group's tasks under its name, every other group's under ``"train"``."""
    group = examples[column].astype(str).to_numpy()
    bought = examples["purchased_next_horizon"].to_numpy().astype(np.float32)
    spend = examples["spend_next_horizon"].to_numpy(np.float64)
    tasks: dict[str, list] = {"train": [], **{g: [] for g in held_out}}
    for (g, period), idx in examples.groupby([group, examples["period"].to_numpy()]).indices.items():
        tasks[g if g in held_out else "train"].append(BehaviourTask(f"{g}@{period}", X[idx], bought[idx], spend[idx]))
    return tasks


def learn_behaviour(examples: pd.DataFrame, held_out: list[str], settings: MetaSettings, log=print,
                    trained: tuple | None = None) -> BehaviourResult | None:
    """Meta-train FOMAML and Reptile on the (group, cutoff) tasks outside ``held_out``; evaluate them and the
    baselines on the held-out groups' tasks. None when there is nothing to train or evaluate on (logged).
    ``trained``: ``(learners, global_model)`` saved from the same input (no training then)."""
    with seeded(settings.random_state):
        return _learn_behaviour(examples, held_out, settings, log, trained)


def _learn_behaviour(examples, held_out, settings: MetaSettings, log, trained) -> BehaviourResult | None:
    column = settings.task_column
    columns = numeric_columns(examples, exclude=("period", *BEHAVIOUR_LABELS))
    scaler = FeatureScaler().fit(examples[columns].to_numpy(np.float64))
    tasks = behaviour_tasks(examples, scaler.transform(examples[columns].to_numpy(np.float64)), held_out, column)
    learner_settings = dict(meta_steps=settings.meta_steps, random_state=settings.random_state)
    trainable = [t for t in tasks["train"] if t.class_counts().min() > BehaviourMetaLearner().k_shot]
    if not trainable:
        log(f"behaviour: no task outside the held-out {column} has more than "
            f"{BehaviourMetaLearner().k_shot} customers who bought and who did not: nothing to meta-train on")
        return None
    log(f"behaviour: {len(trainable)} training tasks ({column} x cutoff), held out: {', '.join(held_out)}")
    if trained is not None:
        learners, global_model = trained
        log("behaviour: input unchanged, reusing the saved meta_behavior_model")
    else:  # the pooled model is both the `global` baseline and the meta-learners' starting point
        global_model = fit_global_behaviour(trainable, BehaviourMetaLearner().hidden_dim,
                                            random_state=settings.random_state)
        learners = {name: BehaviourMetaLearner(algorithm, **learner_settings).fit(trainable, log=log,
                                                                                  init=global_model[1])
                    for name, algorithm in (("maml", "fomaml"), ("reptile", "reptile"))}
    frames, skipped = [], []
    for g in held_out:
        if not tasks[g]:
            skipped.append((None, f"behaviour:{g}: no customer of {g} had bought by any cutoff"))
            continue
        metrics, why = evaluate_behaviour(tasks[g], learners, global_model, f"behaviour:{g}", settings.k_shots,
                                          settings.episodes, settings.random_state)
        frames.append(metrics)
        skipped += why
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(METRIC_COLUMNS))
    return BehaviourResult(learners, global_model, scaler, columns, metrics, skipped,
                           {"train": len(trainable), "held_out": held_out})
