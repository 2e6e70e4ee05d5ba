"""One segmentation snapshot: fit, carry segment ids over from the previous snapshot, measure drift.

Shared by the current run (the `customer_segments` assets) and the monthly snapshot job, which differ only in
the schema they read features from and in what they publish.
"""

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass
from functools import cached_property

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa

from python_models.segmentation import (
    DEEP_ALGORITHMS,
    NOISE_LABEL,
    OUTLIER_NAME,
    SegmentationResult,
    SegmentScorer,
    profile_segments,
    segment_customers,
)
from python_models.tracking import (
    OUTLIER_ID,
    carry_segment_ids,
    carry_segment_names,
    drift_from_bins,
    feature_bins,
    numeric_columns,
)

from .warehouse import Warehouse


@dataclass
class Snapshot:
    """The inputs of one segmentation: features, purchases, RFM segments and slot labels at one date."""

    as_of: dt.date
    features: pd.DataFrame
    purchases: pd.DataFrame  # row (position in features), item, count: the matrix product taste is learned from
    rfm_segments: pd.DataFrame
    slot_labels: dict[str, str]

    @classmethod
    def read(cls, warehouse: Warehouse, schema_prefix: str = "") -> "Snapshot":
        """Read from the dbt schemas: `main`/`staging`, or the monthly job's `snapshot_main`/`snapshot_staging`."""
        main, staging = f"{schema_prefix}main", f"{schema_prefix}staging"
        intermediate = f"{schema_prefix}intermediate"
        slots = warehouse.read_frame(f"select dimension, slot, label from {main}.feature_slots")
        # rows numbered in the order the features are read, so the matrix lines up without a join in pandas
        purchases = warehouse.read_frame(f"""
            with customers as (
                select customer_id, row_number() over (order by customer_id) - 1 as row
                from {main}.customer_features
            )
            select c.row, i.item, cast(i.orders as double) as count
            from {intermediate}.int_customer_items as i
            inner join customers as c on c.customer_id = i.customer_id
            order by c.row, i.item""", categorical=["item"])
        return cls(
            as_of=warehouse.read_frame(f"select as_of_date from {staging}.stg_shop__as_of")["as_of_date"].iloc[0],
            features=warehouse.read_frame(f"select * from {main}.customer_features order by customer_id"),
            purchases=purchases,
            rfm_segments=warehouse.read_frame(f"select customer_id, rfm_segment from {main}.customer_rfm"),
            slot_labels={f"{r.dimension}_share_{r.slot:02d}": str(r.label) for r in slots.itertuples()},
        )


@dataclass
class SavedModel:
    """What a segmentation run keeps beside the warehouse (`models/<version>.joblib`): enough to assign later
    customers to its segments, with their published ids and names, without refitting."""

    version: str
    as_of: dt.date
    scorer: SegmentScorer
    segment_ids: dict[int, int]  # model label -> published segment id
    segment_names: dict[int, str]  # published segment id -> name

    def segment_ids_of(self, labels: np.ndarray) -> np.ndarray:
        return pd.Series(labels).map(self.segment_ids).to_numpy(dtype=np.int32)


@dataclass
class TrackedSnapshot:
    """A fitted snapshot whose segments carry stable ids, ready to be written."""

    snapshot: Snapshot
    result: SegmentationResult
    model: SavedModel
    refit: bool
    reference_snapshot: dt.date | None
    drift: pd.DataFrame
    bins: pd.DataFrame

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def segment_names(self) -> dict[int, str]:
        return self.model.segment_names

    def customer_segment_ids(self) -> np.ndarray:
        return self.model.segment_ids_of(self.result.labels)

    @cached_property
    def segments(self) -> pa.Table:
        """One row per customer: customer_segments (also the base of the history rows)."""
        ids = self.customer_segment_ids()
        n = len(ids)
        return pa.table({
            "customer_id": pa.array(self.snapshot.features["customer_id"], pa.string()),
            "segment_id": pa.array(ids, pa.int32()),
            "segment_name": pa.array(pd.Series(ids).map(self.segment_names).to_numpy(), pa.string()),
            "distance": pa.array(self.result.distances, pa.float64()),
            "is_outlier": pa.array(self.result.outlier_mask(), pa.bool_()),
            "method": _repeated(self.result.algorithm, n),
            "model_version": _repeated(self.version, n),
            "as_of": pa.array([self.snapshot.as_of] * n, pa.date32()),
        })

    @cached_property
    def matrix(self) -> np.ndarray:
        """The customers in the model's space (transformed features with taste)."""
        result = self.result
        return result.transformer.transform(result.model_frame(self.snapshot.features, self.snapshot.purchases))

    @property
    def autoencoder(self):
        """The autoencoder of the embedding candidates, or None when the model has none."""
        return getattr(self.result.model, "autoencoder", None)

    def embeddings(self) -> pa.Table:
        """One row per customer: customer_embeddings (no rows without an autoencoder)."""
        ae = self.autoencoder
        ids = pa.array(self.snapshot.features["customer_id"], pa.string())
        if ae is None:
            return pa.table({"customer_id": ids[:0], "model_version": pa.array([], pa.string())})
        Z = ae.transform(self.matrix)
        return pa.table({
            "customer_id": ids,
            "model_version": _repeated(embedding_version(ae), len(ids)),
            **{f"dim_{j + 1:02d}": pa.array(Z[:, j], pa.float64()) for j in range(Z.shape[1])},
        })

    def method_assignments(self) -> pa.Table:
        """One row per customer and fitted method: segment_assignments. The chosen method's segment ids are the
        published ones (those of customer_segments); another method's are its own, 1 = its largest segment."""
        ids = pa.array(self.snapshot.features["customer_id"], pa.string())
        n = len(ids)
        model = self.result.model
        if not hasattr(model, "assign_methods"):  # saved before the per-method choice: the chosen method only
            methods = {self.result.algorithm: (self.result.labels, np.full(n, np.nan))}
        else:
            methods = model.assign_methods(self.matrix)
        parts = []
        for method, (labels, confidence) in methods.items():
            published = (self.customer_segment_ids() if method == self.result.algorithm
                         else np.where(labels == NOISE_LABEL, OUTLIER_ID, labels + 1).astype(np.int32))
            parts.append(pa.table({
                "customer_id": ids,
                "method": _repeated(method, n),
                "segment_id": pa.array(published, pa.int32()),
                "confidence": pa.array(confidence, pa.float64(), from_pandas=True),
                "model_version": _repeated(self.version, n),
            }))
        return pa.concat_tables(parts)

    def taste_rows(self) -> pa.Table:
        """One row per customer and taste component: customer_taste (no rows without product taste)."""
        taste = self.model.scorer.taste
        k = 0 if taste is None else taste.n_components_
        ids = pa.array(self.snapshot.features["customer_id"], pa.string())
        n = len(ids)
        coords = taste.transform(self.snapshot.purchases, n) if k else np.zeros((n, 0))
        # k rows per customer, repeated in Arrow: no Python string object per row
        return pa.table({
            "customer_id": ids.take(pa.array(np.repeat(np.arange(n), k))),
            "component": pa.array(np.tile(np.arange(1, k + 1, dtype=np.int32), n), pa.int32()),
            "value": pa.array(coords.ravel(), pa.float64()),
            "model_version": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(k * n, dtype=np.int32)), pa.array([self.version])).cast(pa.string()),
        })

    def history(self) -> pa.Table:
        """One row per customer at this snapshot: segment_history."""
        segments = self.segments
        rfm = self.snapshot.rfm_segments.set_index("customer_id")["rfm_segment"]
        return pa.table({
            "snapshot_date": segments["as_of"],
            "customer_id": segments["customer_id"],
            "segment_id": segments["segment_id"],
            "segment_name": segments["segment_name"],
            "rfm_segment": pa.array(rfm.reindex(self.snapshot.features["customer_id"]).to_numpy(), pa.string()),
            "distance": segments["distance"],
            "model_version": segments["model_version"],
        })

    def profiles(self) -> pd.DataFrame:
        """One row per segment, with published ids and names: segment_profiles."""
        profiles = self.result.profiles
        ids = profiles["segment_id"].map(self.model.segment_ids)
        return (profiles.assign(segment_id=ids, segment_name=ids.map(self.segment_names))
                .sort_values("segment_id", kind="mergesort").reset_index(drop=True))

    def metrics(self, run_id: str) -> pd.DataFrame:
        """One row per candidate model: segmentation_metrics, with the representation it was fitted on."""
        return self.result.metrics.assign(feature_blocks=representation(self.result),
                                          outlier_share=float(self.result.outlier_mask().mean()),
                                          run_id=run_id, snapshot_date=self.snapshot.as_of,
                                          model_version=self.version)

    def drift_rows(self, threshold: float) -> pa.Table:
        """One row per numeric feature: segment_drift (psi and drifted are null without a reference)."""
        n = len(self.drift)
        return pa.table({
            "snapshot_date": pa.array([self.snapshot.as_of] * n, pa.date32()),
            "reference_snapshot": pa.array([self.reference_snapshot] * n, pa.date32()),
            "feature": pa.array(self.drift["feature"], pa.string()),
            "psi": pa.array(self.drift["psi"], pa.float64(), from_pandas=True),
            "threshold": pa.array([threshold] * n, pa.float64()),
            "drifted": pa.array(self.drift["drifted"].astype("boolean"), pa.bool_(), from_pandas=True),
        })

    def bin_rows(self) -> pd.DataFrame:
        """The feature distributions of this snapshot: feature_distributions."""
        return self.bins.assign(snapshot_date=self.snapshot.as_of)[
            ["snapshot_date", "feature", "bin", "lower_edge", "upper_edge", "customers"]]


def segment_snapshot(snapshot: Snapshot, config, preferred: tuple[str, int] | None = None,
                     store=None, log=None) -> SegmentationResult:
    """Segment the snapshot's customers with the settings of `config` (a SegmentationConfig), untracked.

    `preferred` is the previous snapshot's (algorithm, k), kept while it is within tolerance; `store` (an
    AutoencoderStore) keeps the trained autoencoder and gives it back while the features are unchanged."""
    autoencoder = None
    if set(config.algorithms) & set(DEEP_ALGORITHMS):
        from python_models.deep import CustomerAutoencoder

        autoencoder = CustomerAutoencoder(latent_dim=config.embedding_dim, training=config.autoencoder_training,
                                          epsilon=config.autoencoder_epsilon, random_state=config.random_state)
    return segment_customers(
        snapshot.features,
        k_range=range(config.k_min, config.k_max + 1),
        random_state=config.random_state,
        algorithms=tuple(config.algorithms),
        n_bootstrap=config.n_bootstrap,
        sample_size=config.silhouette_sample_size,
        block_weights=config.block_weights,
        slot_labels=snapshot.slot_labels,
        purchases=snapshot.purchases if config.taste_components > 0 else None,
        taste_components=config.taste_components,
        preferred=preferred,
        max_outlier_share=config.max_outlier_share,
        autoencoder=autoencoder,
        autoencoder_store=store,
        forced_algorithm=config.method or None,
        log=log,
    )


def autoencoder_store(warehouse: Warehouse):
    """The autoencoder artifacts beside the warehouse: `models/autoencoders/`."""
    from python_models.deep import AutoencoderStore

    return AutoencoderStore(warehouse.artifact_path("autoencoders", suffix=""))


def embedding_version(autoencoder) -> str:
    """`ae-<fingerprint>`: the autoencoder artifact an embedding comes from."""
    return f"ae-{getattr(autoencoder, 'fingerprint_', 'unsaved')[:10]}"


def _repeated(value: str, n: int) -> pa.Array:
    """One string repeated n times, dictionary-built in Arrow (no Python object per row)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(pa.string())


def representation(result: SegmentationResult) -> str:
    """The blocks and weights the segmentation was fitted on, in words (kept with the model version)."""
    scales = result.transformer.block_scale_
    weights = result.transformer.weights_
    taste = result.taste
    parts = []
    for block in scales:
        label = f"{block} {weights[block]:g}"
        if block == "taste" and taste is not None:
            label += f" ({taste.n_components_} components of {len(taste.items_)} items)"
        parts.append(label)
    clip = result.transformer.clip
    return "; ".join(parts) + f"; robust scaling, clipped at {clip:g}" if clip else "; ".join(parts)


def fit_snapshot(snapshot: Snapshot, warehouse: Warehouse, config, log=None) -> TrackedSnapshot:
    """Segment the snapshot, then match its segments to the latest earlier snapshot in segment_history.

    `config` is a SegmentationConfig. A snapshot written before (the same date) is refitted and replaced; ids
    are matched against the snapshot before it, never against itself.
    """
    features = snapshot.features
    result = segment_snapshot(snapshot, config, preferred=previous_choice(warehouse, snapshot.as_of),
                              store=autoencoder_store(warehouse), log=log)
    previous, next_id = _previous_segments(warehouse, snapshot.as_of, config.match_lookback)
    X = result.transformer.transform(result.model_frame(features, snapshot.purchases))
    ids = carry_segment_ids(X, features["customer_id"].to_numpy(),
                            result.model.cluster_centers_, previous, next_id=next_id, factor=config.match_factor)
    generated = result.profiles.set_index("segment_id")["segment_name"]
    previous_names = {} if previous is None else dict(zip(previous["segment_id"], previous["segment_name"]))
    names = carry_segment_names(ids.tolist(), [generated[label] for label in range(len(ids))], previous_names)
    model = SavedModel(
        version=model_version(result),
        as_of=snapshot.as_of,
        scorer=SegmentScorer(result, features, psi_threshold=config.drift_threshold),
        segment_ids={NOISE_LABEL: OUTLIER_ID, **{label: int(i) for label, i in enumerate(ids)}},
        segment_names={OUTLIER_ID: OUTLIER_NAME, **{int(i): name for i, name in zip(ids, names)}},
    )
    return _tracked(snapshot, warehouse, config, result, model, refit=True)


def score_snapshot(snapshot: Snapshot, warehouse: Warehouse, config, model: SavedModel) -> TrackedSnapshot:
    """Assign the snapshot's customers with a saved model, without refitting: its segments, ids and names."""
    features = snapshot.features
    assigned = model.scorer.assign(features, snapshot.purchases)
    labels = assigned["label"].to_numpy()
    profiles = profile_segments(features, labels, slot_labels=snapshot.slot_labels)
    result = SegmentationResult(
        customer_ids=features["customer_id"].to_numpy(), labels=labels, distances=assigned["distance"].to_numpy(),
        metrics=None, profiles=profiles, transformer=model.scorer.transformer, model=model.scorer.model,
        outliers=assigned["is_outlier"].to_numpy(), outlier_threshold=model.scorer.outlier_threshold,
        taste=model.scorer.taste)
    return _tracked(snapshot, warehouse, config, result, model, refit=False)


def _tracked(snapshot, warehouse, config, result, model, refit) -> TrackedSnapshot:
    """The snapshot with its drift against the previous snapshot's feature distributions."""
    features = snapshot.features
    numeric = numeric_columns(features)
    reference_date, reference = _previous_bins(warehouse, snapshot.as_of)
    drift = (drift_from_bins(reference, features, threshold=config.drift_threshold) if reference is not None
             else pd.DataFrame({"feature": numeric, "psi": np.nan, "drifted": pd.NA}))
    # after a refit the model's training bins are this snapshot's distributions already
    bins = model.scorer.reference_bins if refit else feature_bins(features, numeric)
    return TrackedSnapshot(snapshot=snapshot, result=result, model=model, refit=refit,
                           reference_snapshot=reference_date, drift=drift, bins=bins)


def previous_snapshot(warehouse: Warehouse, as_of: dt.date) -> dt.date | None:
    """The latest snapshot in segment_history before `as_of`, or None."""
    if not warehouse.has_table("segment_history"):
        return None
    latest = warehouse.read_frame("select max(snapshot_date) as d from main.segment_history "
                                  f"where snapshot_date < cast('{as_of.isoformat()}' as date)")["d"].iloc[0]
    return None if pd.isna(latest) else latest


def _previous_version(warehouse: Warehouse, as_of: dt.date) -> str | None:
    """The model version of the latest snapshot before `as_of`, or None."""
    date = previous_snapshot(warehouse, as_of)
    if date is None:
        return None
    return warehouse.read_frame("select any_value(model_version) as v from main.segment_history "
                                f"where snapshot_date = cast('{date.isoformat()}' as date)")["v"].iloc[0]


def previous_choice(warehouse: Warehouse, as_of: dt.date) -> tuple[str, int] | None:
    """(algorithm, k) of the latest snapshot's model before `as_of`, read from its version, or None."""
    version = _previous_version(warehouse, as_of)
    if version is None:
        return None
    algorithm, k, _ = str(version).split("-", 2)
    return algorithm, int(k.removeprefix("k"))


def previous_model(warehouse: Warehouse, as_of: dt.date) -> SavedModel | None:
    """The model saved for the latest snapshot before `as_of`, or None when there is no earlier snapshot."""
    version = _previous_version(warehouse, as_of)
    if version is None:
        return None
    path = warehouse.artifact_path(version)
    if not path.exists():
        raise FileNotFoundError(f"The model of the previous snapshot, {path}, is missing: refit instead.")
    saved = joblib.load(path)
    if not hasattr(saved.scorer, "max_outlier_share"):
        # saved before product taste and outlier-resistant scaling: it cannot score today's features
        warnings.warn(f"The model of the previous snapshot, {path.name}, was saved by an older version of the "
                      "segmentation and is not used: this snapshot is refitted and gets no model-health row.")
        return None
    return saved


def save_model(warehouse: Warehouse, tracked: TrackedSnapshot) -> None:
    """Keep the snapshot's model beside the warehouse, so later steps and runs use exactly this model."""
    joblib.dump(tracked.model, warehouse.artifact_path(tracked.version))


HEALTH_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("previous_model_version", pa.string()), ("previous_model_as_of", pa.date32()),
    ("refit", pa.bool_()), ("share_beyond_reference", pa.float64()), ("max_feature_psi", pa.float64()),
    ("max_psi_feature", pa.string()), ("stale", pa.bool_()), ("stale_reasons", pa.string()),
    ("agreement_with_refit", pa.float64()),
])


def model_health(tracked: TrackedSnapshot, previous: SavedModel | None) -> pa.Table:
    """How the previous snapshot's model fits this snapshot's customers: segment_model_health (no row without
    a previous model). After a refit, also the share of customers it puts in the segment the refit publishes."""
    if previous is None:
        return HEALTH_SCHEMA.empty_table()
    features = tracked.snapshot.features
    assigned = previous.scorer.assign(features, tracked.snapshot.purchases)
    staleness = previous.scorer.staleness(features, assigned)
    agreement = (float(np.mean(previous.segment_ids_of(assigned["label"].to_numpy())
                               == tracked.customer_segment_ids())) if tracked.refit else None)
    return pa.Table.from_pylist([{
        "snapshot_date": tracked.snapshot.as_of, "previous_model_version": previous.version,
        "previous_model_as_of": previous.as_of, "refit": tracked.refit,
        "share_beyond_reference": staleness.share_beyond_reference, "max_feature_psi": staleness.max_feature_psi,
        "max_psi_feature": staleness.max_psi_feature, "stale": staleness.stale,
        "stale_reasons": "; ".join(staleness.reasons), "agreement_with_refit": agreement,
    }], schema=HEALTH_SCHEMA)


def write_history(warehouse: Warehouse, tracked: TrackedSnapshot, threshold: float,
                  previous: SavedModel | None) -> dict[str, dict]:
    """Write this snapshot's slice of segment_history, segment_drift, feature_distributions and
    segment_model_health."""
    as_of = tracked.snapshot.as_of
    return {
        "segment_model_health": warehouse.replace_rows("segment_model_health", model_health(tracked, previous),
                                                       "snapshot_date", as_of),
        "segment_history": warehouse.replace_rows("segment_history", tracked.history(), "snapshot_date", as_of),
        "segment_drift": warehouse.replace_rows("segment_drift", tracked.drift_rows(threshold),
                                                "snapshot_date", as_of),
        "feature_distributions": warehouse.replace_rows("feature_distributions", tracked.bin_rows(),
                                                        "snapshot_date", as_of),
    }


def model_version(result: SegmentationResult) -> str:
    """`<algorithm>-k<k>-<hash of the centres>`: equal versions mean identical models."""
    digest = hashlib.sha256(np.round(result.model.cluster_centers_, 10).tobytes()).hexdigest()[:10]
    return f"{result.algorithm}-k{result.n_clusters}-{digest}"


def _previous_segments(warehouse: Warehouse, as_of: dt.date, lookback: int) -> tuple[pd.DataFrame | None, int]:
    """The segments a snapshot at `as_of` may inherit ids from, and the first id no earlier snapshot used.

    Those are the segments of the last `lookback` snapshots before `as_of`, each with its members (customer_id,
    segment_id, segment_name) at the latest of them it appears in, so that a segment missing for a month (the
    model chose fewer segments, or another algorithm) gets its id back when it returns. Snapshots are matched in
    date order, so later ones are renumbered when they are rebuilt.
    """
    if not warehouse.has_table("segment_history"):
        return None, 1
    date = f"cast('{as_of.isoformat()}' as date)"
    previous = warehouse.read_frame(f"""
        with recent as (
            select distinct snapshot_date from main.segment_history where snapshot_date < {date}
            order by snapshot_date desc limit {int(lookback)}
        ),
        last_seen as (
            select segment_id, max(snapshot_date) as snapshot_date from main.segment_history
            where snapshot_date in (select snapshot_date from recent) and segment_id > {OUTLIER_ID}
            group by segment_id
        )
        select h.customer_id, h.segment_id, h.segment_name
        from main.segment_history as h
        inner join last_seen as s on s.segment_id = h.segment_id and s.snapshot_date = h.snapshot_date
        order by h.segment_id, h.customer_id""")
    used = warehouse.read_frame(
        f"select coalesce(max(segment_id), 0) as top from main.segment_history where snapshot_date < {date}")
    return (previous if len(previous) else None), int(used["top"].iloc[0]) + 1


def _previous_bins(warehouse: Warehouse, as_of: dt.date) -> tuple[dt.date | None, pd.DataFrame | None]:
    """The feature distributions of the latest snapshot before `as_of` and its date, or (None, None)."""
    date = previous_snapshot(warehouse, as_of)
    if date is None:
        return None, None
    bins = warehouse.read_frame("select * exclude (snapshot_date) from main.feature_distributions "
                                f"where snapshot_date = cast('{date.isoformat()}' as date) order by feature, bin")
    return date, bins
