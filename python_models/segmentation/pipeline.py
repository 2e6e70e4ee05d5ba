"""One-call segmentation used by the orchestration layer: transform, choose a model, profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics.pairwise import euclidean_distances

from .embedding import DEEP_ALGORITHMS
from .features import CustomerFeatureTransformer
from .taste import TasteModel, taste_columns
from .model_selection import ALGORITHMS, NOISE_LABEL, ModelSelector
from .profiles import OUTLIER_NAME, profile_segments

#: Fewer customers (extreme ones left out) and the embedding candidates are skipped: an autoencoder of a handful of
#: customers learns nothing the features do not already say.
MIN_AUTOENCODER_CUSTOMERS = 50

__all__ = [
    "MIN_AUTOENCODER_CUSTOMERS",
    "NOISE_LABEL",
    "OUTLIER_NAME",
    "SegmentationResult",
    "extreme_customers",
    "segment_customers",
    "with_taste",
]


@dataclass
class SegmentationResult:
    """Output of :func:`segment_customers`.

    Attributes
    ----------
    customer_ids : ndarray or None
        Identifier of each row (``None`` when the id column is absent).
    labels : ndarray of shape (n_customers,)
        Segment of each customer; 0 is the largest segment, -1 the
        customers left unassigned (outliers; HDBSCAN only).
    distances : ndarray of shape (n_customers,)
        Euclidean distance of each customer to its own segment centre
        (outliers: to the nearest centre), in the transformed feature space
        (a typicality score: small = core member, large = borderline).
    metrics : DataFrame
        One row per candidate model (see ``ModelSelector.metrics_``).
    profiles : DataFrame
        One row per segment (see :func:`profile_segments`), plus a row
        ``-1`` named :data:`OUTLIER_NAME` when there are outliers.
    transformer : CustomerFeatureTransformer
        Fitted preprocessing.
    model : ModelSelector
        Fitted model choice; its ``predict`` assigns new rows.
    outliers : ndarray of bool, shape (n_customers,)
        Extreme customers (see :func:`segment_customers`): left out of the
        model fit and the model choice, then assigned to their nearest
        segment like everyone else.
    outlier_threshold : float
        Outlier score beyond which a customer is extreme (see
        :meth:`CustomerFeatureTransformer.outlier_scores`).
    max_outlier_share : float
        At most this share of the customers is extreme.
    taste : TasteModel or None
        Product taste learned from the purchases (``None`` when none were
        given); its ``taste_NN`` columns are the ``taste`` block.
    autoencoder : CustomerAutoencoder or None
        The fitted autoencoder whose embedding the ``ae_kmeans`` and
        ``idec`` candidates cluster (``None`` without them).
    autoencoder_reused : bool
        Whether the autoencoder was loaded from its store instead of
        trained (the features and settings were unchanged).

    See Also
    --------
    SegmentScorer : assigns new customers with ``transformer`` and ``model``
        (see :meth:`scorer`).
    """

    customer_ids: np.ndarray | None
    labels: np.ndarray
    distances: np.ndarray
    metrics: pd.DataFrame
    profiles: pd.DataFrame
    transformer: CustomerFeatureTransformer
    model: ModelSelector
    outliers: np.ndarray | None = None
    outlier_threshold: float = np.inf
    max_outlier_share: float = 0.0
    taste: TasteModel | None = None
    autoencoder: object | None = None
    autoencoder_reused: bool = False

    @property
    def n_clusters(self) -> int:
        """Number of segments, outliers excluded."""
        return self.model.n_clusters_

    @property
    def algorithm(self) -> str:
        """Algorithm of the chosen model: kmeans, gmm, ward, hdbscan, ae_kmeans or idec."""
        return self.model.algorithm_

    def embedding(self, features: pd.DataFrame, purchases: pd.DataFrame | None = None) -> np.ndarray:
        """The autoencoder's embedding of customers (rows of ``features``, with their purchases for taste)."""
        if self.autoencoder is None:
            raise ValueError("This segmentation has no autoencoder: fit it with the ae_kmeans or idec candidates.")
        return self.autoencoder.transform(self.transformer.transform(self.model_frame(features, purchases)))

    @property
    def segment_names(self) -> dict:
        """Mapping segment id -> readable name."""
        return dict(
            zip(self.profiles["segment_id"].tolist(), self.profiles["segment_name"])
        )

    def scorer(self, features: pd.DataFrame, **kwargs):
        """The fitted segmentation, frozen for scoring later data without refitting.

        Parameters
        ----------
        features : DataFrame
            The features this result was fitted on (for the staleness
            references).
        **kwargs
            Passed to :class:`SegmentScorer` (``psi_threshold``,
            ``id_column``, ``drift_features``).

        Returns
        -------
        SegmentScorer
        """
        from .scoring import SegmentScorer

        return SegmentScorer(self, features, **kwargs)

    def assignments(self, id_column: str = "customer_id") -> pd.DataFrame:
        """One row per customer: id, segment id, segment name, distance.

        Parameters
        ----------
        id_column : str, default="customer_id"
            Name of the identifier column in the output.

        Returns
        -------
        DataFrame
            Columns ``id_column`` (row position when no ids were given),
            ``segment_id``, ``segment_name``, ``distance_to_centre``,
            ``is_outlier``.
        """
        ids = (
            self.customer_ids
            if self.customer_ids is not None
            else np.arange(len(self.labels))
        )
        names = self.segment_names
        return pd.DataFrame(
            {
                id_column: ids,
                "segment_id": self.labels,
                "segment_name": pd.Series(self.labels).map(names).to_numpy(),
                "distance_to_centre": self.distances,
                "is_outlier": self.outlier_mask(),
            }
        )

    def model_frame(self, features: pd.DataFrame, purchases: pd.DataFrame | None = None) -> pd.DataFrame:
        """``features`` with the taste columns the model was fitted on (see :func:`with_taste`)."""
        return with_taste(features, self.taste, purchases)

    def outlier_mask(self) -> np.ndarray:
        """:attr:`outliers`, all False when none were flagged."""
        if self.outliers is None:
            return np.zeros(len(self.labels), dtype=bool)
        return np.asarray(self.outliers, dtype=bool)


def segment_customers(
    features,
    k_range=None,
    random_state=0,
    *,
    algorithms=ALGORITHMS,
    n_bootstrap=5,
    block_weights=None,
    skew_transform="log",
    n_init=3,
    sample_size=10_000,
    silhouette_tol=0.01,
    model_params=None,
    slot_labels=None,
    id_column="customer_id",
    outlier_threshold=6.0,
    max_outlier_share=0.02,
    preferred=None,
    purchases=None,
    taste_components=8,
    autoencoder=None,
    autoencoder_store=None,
    forced_algorithm=None,
    log=None,
):
    """Transform, choose a clustering model (algorithm and k) and profile customers in one call.

    The features go through :class:`CustomerFeatureTransformer` (skew
    correction, robust standardisation with clipping, block weights);
    extreme customers are set aside; :class:`ModelSelector` fits every
    candidate algorithm and k on the others, scores them (silhouette,
    Davies-Bouldin, Calinski-Harabasz, bootstrap stability) and keeps one by
    its documented rule (:func:`choose_candidate`); every customer, extreme
    ones included, goes to the nearest segment of the chosen model;
    :func:`profile_segments` describes and names the segments.

    **Taste**: with ``purchases`` (the customer x product matrix in long
    form), a :class:`TasteModel` learns ``taste_components`` coordinates
    per customer (TF-IDF + truncated SVD), added as the ``taste`` block.

    **Extreme customers** (wholesale buyers, one-off giants): those whose
    outlier score (:meth:`CustomerFeatureTransformer.outlier_scores`: the
    largest robust z-score over the behaviour columns, before
    clipping) exceeds ``outlier_threshold``, at most the ``max_outlier_share``
    most extreme customers. They never define a segment and never block the
    model choice: they are left out of every fit and score, then assigned to
    their nearest segment and flagged (``outliers``, published as
    ``is_outlier``).

    Parameters
    ----------
    features : DataFrame
        The ``customer_features`` table, one row per customer.
    k_range : iterable of int, default=None
        Candidate numbers of segments of K-Means, the mixture and Ward
        (``None``: 4..10, see ``DEFAULT_K_RANGE``; HDBSCAN finds its own).
    random_state : int, default=0
        Seed of every random step; the same input and seed give the same
        segments, labels and names.
    algorithms : sequence of str, default=("kmeans", "gmm", "ward", "hdbscan")
        Candidate algorithms (see :class:`ModelSelector`).
    n_bootstrap : int, default=5
        Resamples of the stability score (0 turns it off, and with it the
        stability step of the choice rule).
    block_weights : dict, default=None
        See :class:`CustomerFeatureTransformer`.
    skew_transform : {"log", "yeo-johnson"} or None, default="log"
        See :class:`CustomerFeatureTransformer`.
    n_init : int, default=3
        k-means++ restarts of every K-Means fit (see :class:`ModelSelector`).
    sample_size : int, default=10_000
        Rows of the evaluation sample all candidates are scored on (see
        :class:`ModelSelector`).
    silhouette_tol : float, default=0.01
        Silhouette tolerance of the choice rule (see :class:`ModelSelector`).
    model_params : dict, default=None
        Further :class:`ModelSelector` parameters, e.g.
        ``{"hdbscan_min_cluster_sizes": (0.02,), "stability_threshold": 0.7}``.
    slot_labels : dict of str to str, default=None
        Readable names of category/channel slots, used in the profiles.
    id_column : str, default="customer_id"
        Identifier column (excluded from the model, kept in the result).
    outlier_threshold : float, default=6.0
        Outlier score beyond which a customer is extreme (twice the clip of
        the robust standardisation).
    max_outlier_share : float, default=0.02
        At most this share of the customers is set aside as extreme.
    preferred : tuple of (str, int) or None, default=None
        Last snapshot's ``(algorithm, k)``, kept while within tolerance
        (see :func:`choose_candidate`).
    purchases : DataFrame or None, default=None
        One row per customer and item bought: ``row`` (position of the
        customer in ``features``), ``item``, ``count`` (see
        :class:`TasteModel`). ``None``: no taste block.
    taste_components : int, default=8
        Taste coordinates learned from ``purchases``.
    autoencoder : CustomerAutoencoder or None, default=None
        Settings of the autoencoder the embedding candidates (``"ae_kmeans"``,
        ``"idec"`` in ``algorithms``) cluster; it gets the transformer's
        layout and is fitted on the customers who are not extreme (``None``:
        the default settings, seeded with ``random_state``).
    autoencoder_store : AutoencoderStore or None, default=None
        Where trained autoencoders are kept: one of the same features and
        settings is loaded instead of trained again.
    forced_algorithm : str or None, default=None
        Apply the choice rule to this algorithm's candidates only (all are
        still fitted and reported).
    log : callable or None, default=None
        Receives progress lines of the long steps (e.g. a Dagster logger).

    Returns
    -------
    SegmentationResult
        ``labels`` (0 = largest segment, -1 = outliers, HDBSCAN only),
        ``distances`` (to the own segment centre; outliers: to the nearest
        centre), ``metrics`` (``ModelSelector.metrics_``: one row per
        candidate), ``profiles`` (one row per segment, plus
        ``"Unassigned (outliers)"`` for -1), ``algorithm``, ``n_clusters``
        and the fitted ``transformer`` and ``model``.

    See Also
    --------
    ModelSelector : the model choice, its scores and its rule.
    SegmentScorer : scoring later customers with the fitted result.

    Examples
    --------
    Two kinds of customers:

    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({
    ...     "customer_id": [f"c{i}" for i in range(200)],
    ...     "order_count": np.r_[rng.poisson(1, 100) + 1, rng.poisson(20, 100) + 1],
    ...     "days_since_last_order": np.r_[rng.uniform(200, 400, 100),
    ...                                    rng.uniform(1, 30, 100)],
    ... })
    >>> res = segment_customers(df, k_range=range(2, 5))
    >>> res.algorithm, res.n_clusters
    ('kmeans', 2)
    >>> sorted(res.profiles["segment_name"])
    ['Active frequent buyers', 'Lapsed occasional buyers']
    >>> res.metrics.groupby("algorithm", sort=False).size().to_dict()
    {'kmeans': 3, 'gmm': 3, 'ward': 3, 'hdbscan': 3}
    >>> res.assignments().columns.tolist()
    ['customer_id', 'segment_id', 'segment_name', 'distance_to_centre', 'is_outlier']

    A wholesale buyer is set aside from the fit, then joins the nearest segment, flagged:

    >>> big = pd.DataFrame({"customer_id": ["w"], "order_count": [90_000],
    ...                     "days_since_last_order": [3.0]})
    >>> res = segment_customers(pd.concat([df, big], ignore_index=True), k_range=range(2, 5))
    >>> res.n_clusters, int(res.outlier_mask().sum()), res.assignments().iloc[-1]["segment_name"]
    (2, 1, 'Active frequent buyers')

    Three odd customers, and HDBSCAN as the only candidate: they are left
    unassigned (label -1) and get a profile row of their own.

    >>> odd = pd.DataFrame({"customer_id": ["x1", "x2", "x3"], "order_count": [300, 1, 150],
    ...                     "days_since_last_order": [700.0, 0.0, 2000.0]})
    >>> res = segment_customers(pd.concat([df, odd], ignore_index=True), algorithms=("hdbscan",),
    ...                         model_params={"hdbscan_min_cluster_sizes": (0.2,)})
    >>> res.algorithm, res.n_clusters, res.labels[-3:].tolist()
    ('hdbscan', 2, [-1, -1, -1])
    >>> res.profiles[["segment_id", "segment_name", "size"]]
       segment_id              segment_name  size
    0          -1     Unassigned (outliers)     3
    1           0  Lapsed occasional buyers   100
    2           1    Active frequent buyers   100
    """
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a pandas DataFrame.")
    taste = None
    if purchases is not None:
        taste = TasteModel(n_components=taste_components, random_state=random_state)
        features = _append_taste(features, taste.fit_transform(purchases, len(features)))
    transformer = CustomerFeatureTransformer(
        block_weights=block_weights,
        skew_transform=skew_transform,
        id_columns=(id_column,),
    )
    X = transformer.fit_transform(features)
    outliers = extreme_customers(
        transformer.outlier_scores(features), outlier_threshold, max_outlier_share
    )
    fitted_autoencoder, reused, deep_skipped = None, False, {}
    if set(algorithms) & set(DEEP_ALGORITHMS):
        n_fit = int((~outliers).sum())
        try:
            if n_fit < MIN_AUTOENCODER_CUSTOMERS:
                raise ValueError(f"{n_fit} customers, fewer than the {MIN_AUTOENCODER_CUSTOMERS} an autoencoder "
                                 "is trained on")
            fitted_autoencoder, reused = _fit_autoencoder(autoencoder, transformer, X[~outliers], random_state,
                                                          autoencoder_store, log)
        except ValueError as error:  # the feature-space candidates go on; the model selection says if they cannot
            deep_skipped = {a: f"no autoencoder: {error}" for a in algorithms if a in DEEP_ALGORITHMS}
            algorithms = tuple(a for a in algorithms if a not in DEEP_ALGORITHMS)
            if not algorithms:
                raise ValueError(f"The embedding candidates cannot be fitted: {error}") from error
            if log is not None:
                log(f"embedding candidates skipped: no autoencoder ({error})")
    model = ModelSelector(
        **{
            **(model_params or {}),
            "autoencoder": fitted_autoencoder,
            "forced_algorithm": forced_algorithm,
            "perturbation_scale": perturbation_scale(transformer),
            "algorithms": algorithms,
            "k_range": k_range,
            "random_state": random_state,
            "n_init": n_init,
            "sample_size": sample_size,
            "n_bootstrap": n_bootstrap,
            "silhouette_tol": silhouette_tol,
            "preferred": preferred,
        }
    ).fit(X[~outliers])
    model.skipped_.update(deep_skipped)
    labels = model.predict(X) if outliers.any() else model.labels_
    labels = extremes_to_nearest(X, labels, outliers, model.cluster_centers_)
    distances = _distances_to_own_centre(X, model.cluster_centers_, labels)
    profiles = profile_segments(
        features, labels, slot_labels=slot_labels, id_columns=(id_column,),
        noise_label=NOISE_LABEL,
    )
    ids = features[id_column].to_numpy() if id_column in features.columns else None
    return SegmentationResult(
        customer_ids=ids,
        labels=labels,
        distances=distances,
        metrics=model.metrics_,
        profiles=profiles,
        transformer=transformer,
        model=model,
        outliers=outliers,
        outlier_threshold=float(outlier_threshold),
        max_outlier_share=float(max_outlier_share),
        taste=taste,
        autoencoder=fitted_autoencoder,
        autoencoder_reused=reused,
    )


def perturbation_scale(transformer):
    """Units of the transformed matrix per standardised unit of each column: the transformer's weight, 0 for the
    one-hot indicators (a categorical level is not perturbed a little)."""
    scale = transformer.weight_.copy()
    for _, idx in transformer.onehot_groups():
        scale[idx] = 0.0
    return scale


def _fit_autoencoder(template, transformer, X, random_state, store, log):
    """The autoencoder of the embedding candidates, with the transformer's layout: trained, or loaded from the
    store when it holds one of the same features and settings. Returns (autoencoder, reused)."""
    from sklearn.base import clone

    from ..deep import CustomerAutoencoder, autoencoder_layout

    template = CustomerAutoencoder(random_state=random_state) if template is None else clone(template)
    autoencoder = template.set_params(**autoencoder_layout(transformer))
    if store is None:
        return autoencoder.fit(X, log=log), False
    names = transformer.get_feature_names_out().tolist()
    transforms = {name: {"centre": float(c), "scale": float(s), "clip": float(b), "weight": float(w)}
                  for name, c, s, b, w in zip(names, transformer.mean_, transformer.scale_, transformer.clip_,
                                              transformer.weight_)}
    return store.fit(autoencoder, X, log=log, metadata={
        "features": names, "transforms": transforms,
        "skew_columns": [str(c) for c in transformer.skew_columns_],
        "categorical_columns": [str(c) for c in transformer.categorical_columns_]})


def with_taste(features, taste, purchases):
    """``features`` with the ``taste_NN`` columns of ``taste`` computed from ``purchases`` appended.

    Unchanged when there is no taste model (or it learned no component).

    Parameters
    ----------
    features : DataFrame
        One row per customer.
    taste : TasteModel or None
        Fitted taste model.
    purchases : DataFrame or None
        ``row`` (position in ``features``), ``item``, ``count``.

    Returns
    -------
    DataFrame
    """
    if taste is None or taste.n_components_ == 0:
        return features
    if purchases is None:
        raise ValueError("This segmentation uses product taste: pass the customers' purchases as well.")
    return _append_taste(features, taste.transform(purchases, len(features)))


def _append_taste(features, coords):
    """``features`` with the taste coordinates as ``taste_NN`` columns (unchanged without any)."""
    if not coords.shape[1]:
        return features
    frame = pd.DataFrame(coords, columns=taste_columns(coords.shape[1]), index=features.index)
    return pd.concat([features.drop(columns=frame.columns, errors="ignore"), frame], axis=1)


def extremes_to_nearest(X, labels, extreme, centers):
    """``labels`` with every extreme row given its nearest centre, also beyond an HDBSCAN segment's radius.

    An extreme customer is flagged, never left unassigned: the noise segment stays HDBSCAN's own.
    """
    stray = np.flatnonzero(np.asarray(extreme) & (labels == NOISE_LABEL))
    if not stray.size or not len(centers):
        return labels
    labels = labels.copy()
    labels[stray] = euclidean_distances(X[stray], centers).argmin(axis=1)
    return labels


def extreme_customers(scores, threshold, max_share):
    """Rows whose outlier score exceeds ``threshold``, at most the ``max_share`` highest (ties: earlier row).

    Examples
    --------
    >>> extreme_customers(np.array([1.0, 9.0, 7.0, 2.0]), 6.0, 0.25).tolist()
    [False, True, False, False]
    """
    scores = np.asarray(scores, dtype=np.float64)
    cap = int(np.floor(max_share * scores.size))
    out = np.zeros(scores.size, dtype=bool)
    over = np.flatnonzero(scores > threshold)
    if cap and over.size:
        order = over[np.argsort(-scores[over], kind="stable")]
        out[order[:cap]] = True
    return out


def _distances_to_own_centre(X, centers, labels, chunk_rows=65_536):
    """Euclidean distance of each row to its segment's centre; rows labelled -1: to the nearest centre.

    A block of ``chunk_rows`` rows at a time, so the temporary memory is one
    block of ``X`` (about 20 MB for 40 columns), never a rows x centres
    matrix of the whole data. NaN for every row when there is no centre
    (every row an outlier).
    """
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    labels = np.asarray(labels)
    out = np.empty(X.shape[0])
    if centers.shape[0] == 0:
        out[:] = np.nan
        return out
    for start in range(0, X.shape[0], chunk_rows):
        block = X[start:start + chunk_rows]
        own = labels[start:start + chunk_rows]
        assigned = own >= 0
        diff = block - centers[np.where(assigned, own, 0)]
        dist = np.einsum("ij,ij->i", diff, diff)
        noise = np.flatnonzero(~assigned)
        if noise.size:
            rows = block[noise]
            nearest = np.full(noise.size, np.inf)
            for centre in centers:  # a few centres: one pass each over the few noise rows
                d = rows - centre
                np.minimum(nearest, np.einsum("ij,ij->i", d, d), out=nearest)
            dist[noise] = nearest
        out[start:start + chunk_rows] = np.sqrt(dist)
    return out
