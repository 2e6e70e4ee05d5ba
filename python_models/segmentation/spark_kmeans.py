"""K-Means through Spark MLlib, for feature tables too large for one machine's memory.

The number of segments and the transform are chosen on a sample with the scikit-learn path
(:func:`segment_customers`, K-Means candidates, its choice rule); the transform is then applied to every customer
inside Spark (Arrow batches through ``mapInArrow``), MLlib's K-Means refines the sample's centres over all
non-extreme customers, and the assignments stay a Spark DataFrame, to be written back as a Spark table. The taste
block (learned from the customer x product matrix) is left out: it needs that matrix in one machine's memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .pipeline import segment_customers
from .scores import DEFAULT_K_RANGE

ID_COLUMN = "customer_id"


class SparkKMeans:
    """K-Means segments of a Spark DataFrame of customer features (``customer_features``' columns).

    Parameters
    ----------
    k_range : sequence of int
        Numbers of segments the choice rule compares (on the sample).
    sample_size : int
        Customers sampled (without replacement) to fit the transform and choose k.
    random_state : int
        Seed of the sample, of the scikit-learn choice and of MLlib's K-Means.
    n_bootstrap : int
        Bootstrap refits per candidate in the choice (see :class:`ModelSelector`).
    block_weights : dict or None
        Each feature block's share of the distance (see :class:`CustomerFeatureTransformer`).
    outlier_threshold, max_outlier_share : float
        Extreme customers (outlier score above the threshold, at most this share, the sample's quantile) are left
        out of the fit and given the nearest segment, as in :func:`segment_customers`.
    max_iter, tol : int, float
        MLlib's K-Means iterations and convergence tolerance.

    Attributes
    ----------
    sample_result_ : SegmentationResult
        The scikit-learn segmentation of the sample (its transformer, its chosen k).
    n_clusters_ : int
        The chosen number of segments.
    model_ : pyspark.mllib.clustering.KMeansModel
        MLlib's K-Means, fitted on every non-extreme customer from the sample's centres.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    extreme_cutoff_ : float
        Outlier score above which a customer is extreme.

    Examples
    --------
    Needs a Spark session (the ``spark`` extra and Java), so it is not run as a doctest:

    >>> features = spark.table("main.customer_features")          # doctest: +SKIP
    >>> model = SparkKMeans(sample_size=50_000).fit(features)     # doctest: +SKIP
    >>> model.transform(features).write.saveAsTable("main.customer_segments_mllib")  # doctest: +SKIP
    """

    def __init__(self, k_range=DEFAULT_K_RANGE, sample_size=50_000, random_state=0, n_bootstrap=5,
                 block_weights=None, outlier_threshold=6.0, max_outlier_share=0.02, max_iter=100, tol=1e-6):
        self.k_range = k_range
        self.n_bootstrap = n_bootstrap
        self.sample_size = sample_size
        self.random_state = random_state
        self.block_weights = block_weights
        self.outlier_threshold = outlier_threshold
        self.max_outlier_share = max_outlier_share
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, features):
        from pyspark.mllib.clustering import KMeans, KMeansModel
        from pyspark.mllib.linalg import DenseVector

        sample = self._sample(features)
        self.sample_result_ = segment_customers(
            sample, k_range=self.k_range, random_state=self.random_state, algorithms=("kmeans",),
            n_bootstrap=self.n_bootstrap, block_weights=self.block_weights,
            outlier_threshold=self.outlier_threshold, max_outlier_share=self.max_outlier_share, taste_components=0)
        self.n_clusters_ = self.sample_result_.n_clusters
        scores = self.sample_result_.transformer.outlier_scores(sample)
        self.extreme_cutoff_ = float(max(self.outlier_threshold, np.quantile(scores, 1 - self.max_outlier_share)))
        # Lloyd's iterations over every customer, started from the sample's centres: MLlib refines the sample's
        # solution rather than looking for another local optimum (k-means|| found one at ARI 0.81 on the test shop)
        start = KMeansModel([DenseVector(c) for c in self.sample_result_.model.cluster_centers_])
        vectors = self._arrays(features).where("not is_extreme").select("x").rdd.map(lambda row: DenseVector(row.x))
        self.model_ = KMeans.train(vectors, self.n_clusters_, maxIterations=self.max_iter, epsilon=self.tol,
                                   seed=self.random_state, initialModel=start)
        self.cluster_centers_ = np.array([np.asarray(c) for c in self.model_.clusterCenters])
        return self

    def transform(self, features):
        """One row per customer: ``customer_id``, ``label`` (0 .. n_clusters_ - 1, the nearest centre),
        ``distance`` to it (in the transformed space) and ``is_extreme``, as a Spark DataFrame."""
        centers = self.cluster_centers_

        def nearest(batches):
            for batch in batches:
                x = _rows(batch.column("x"), centers.shape[1])
                squared = (x ** 2).sum(axis=1)[:, None] - 2 * x @ centers.T + (centers ** 2).sum(axis=1)[None, :]
                labels = squared.argmin(axis=1)
                gap = x - centers[labels]
                yield pa.RecordBatch.from_arrays(
                    [batch.column(ID_COLUMN), pa.array(labels, pa.int32()), pa.array(np.sqrt((gap ** 2).sum(axis=1))),
                     batch.column("is_extreme")],
                    names=[ID_COLUMN, "label", "distance", "is_extreme"])

        return self._arrays(features).mapInArrow(
            nearest, f"{ID_COLUMN} string, label int, distance double, is_extreme boolean")

    def _sample(self, features) -> pd.DataFrame:
        """At most `sample_size` customers, the same ones for the same seed, in customer order."""
        from pyspark.sql import functions as F

        ranked = features.withColumn("_draw", F.rand(self.random_state))
        sample = ranked.orderBy("_draw", ID_COLUMN).limit(self.sample_size).drop("_draw")
        return sample.toArrow().to_pandas().sort_values(ID_COLUMN, ignore_index=True)

    def _arrays(self, features):
        """Every customer in the model's space (column ``x``, an array of doubles) with ``is_extreme``: the
        sample's fitted transform applied to Arrow batches, in Spark's Python workers."""
        transformer, cutoff = self.sample_result_.transformer, self.extreme_cutoff_

        def transform(batches):
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                frame = batch.to_pandas()
                x = np.ascontiguousarray(transformer.transform(frame), dtype=np.float64)
                offsets = pa.array(np.arange(0, x.size + 1, x.shape[1], dtype=np.int32))
                yield pa.RecordBatch.from_arrays(
                    [pa.array(frame[ID_COLUMN], pa.string()), pa.ListArray.from_arrays(offsets, pa.array(x.ravel())),
                     pa.array(transformer.outlier_scores(frame) > cutoff, pa.bool_())],
                    names=[ID_COLUMN, "x", "is_extreme"])

        return features.mapInArrow(transform, f"{ID_COLUMN} string, x array<double>, is_extreme boolean")


def _rows(column: pa.Array, width: int) -> np.ndarray:
    """A list<double> Arrow column of equal-length lists as a matrix, without a Python object per row."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)
