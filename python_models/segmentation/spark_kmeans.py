"""K-Means through Spark MLlib, for feature tables too large for one machine's memory.

The number of segments and the transform are chosen on a sample with the scikit-learn path
(:func:`segment_customers`, K-Means candidates, its choice rule); the transform is then applied to every customer
inside Spark (Arrow batches through ``mapInArrow``), MLlib's K-Means is fitted on all non-extreme customers, and
the assignments stay a Spark DataFrame, to be written back as a Spark table. The taste block (learned from the
customer x product matrix) is left out: it needs that matrix in one machine's memory.
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
    model_ : pyspark.ml.clustering.KMeansModel
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

    def __init__(self, k_range=DEFAULT_K_RANGE, sample_size=50_000, random_state=0, block_weights=None,
                 outlier_threshold=6.0, max_outlier_share=0.02, max_iter=100, tol=1e-6):
        self.k_range = k_range
        self.sample_size = sample_size
        self.random_state = random_state
        self.block_weights = block_weights
        self.outlier_threshold = outlier_threshold
        self.max_outlier_share = max_outlier_share
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, features):
        from pyspark.ml.clustering import KMeans

        sample = self._sample(features)
        self.sample_result_ = segment_customers(
            sample, k_range=self.k_range, random_state=self.random_state, algorithms=("kmeans",),
            block_weights=self.block_weights, outlier_threshold=self.outlier_threshold,
            max_outlier_share=self.max_outlier_share, taste_components=0)
        self.n_clusters_ = self.sample_result_.n_clusters
        scores = self.sample_result_.transformer.outlier_scores(sample)
        self.extreme_cutoff_ = float(max(self.outlier_threshold, np.quantile(scores, 1 - self.max_outlier_share)))
        kmeans = KMeans(k=self.n_clusters_, seed=self.random_state, maxIter=self.max_iter, tol=self.tol,
                        featuresCol="x")
        self.model_ = kmeans.fit(self._vectors(features).where("not is_extreme"))
        self.cluster_centers_ = np.array(self.model_.clusterCenters())
        return self

    def transform(self, features):
        """One row per customer: ``customer_id``, ``label`` (0 .. n_clusters_ - 1), ``distance`` to its centre
        (in the transformed space) and ``is_extreme``, as a Spark DataFrame."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import functions as F

        centers = self.cluster_centers_
        predicted = self.model_.transform(self._vectors(features)).withColumnRenamed("prediction", "label")

        def distances(batches):
            for batch in batches:
                x = _rows(batch.column("x_array"), centers.shape[1])
                gap = x - centers[batch.column("label").to_numpy()]
                yield pa.RecordBatch.from_arrays(
                    [batch.column(ID_COLUMN), batch.column("label"), pa.array(np.sqrt((gap ** 2).sum(axis=1))),
                     batch.column("is_extreme")],
                    names=[ID_COLUMN, "label", "distance", "is_extreme"])

        with_array = predicted.withColumn("x_array", vector_to_array(F.col("x")))
        return with_array.select(ID_COLUMN, "x_array", "label", "is_extreme").mapInArrow(
            distances, f"{ID_COLUMN} string, label int, distance double, is_extreme boolean")

    def _sample(self, features) -> pd.DataFrame:
        """At most `sample_size` customers, the same ones for the same seed, in customer order."""
        from pyspark.sql import functions as F

        ranked = features.withColumn("_draw", F.rand(self.random_state))
        sample = ranked.orderBy("_draw", ID_COLUMN).limit(self.sample_size).drop("_draw")
        return sample.toArrow().to_pandas().sort_values(ID_COLUMN, ignore_index=True)

    def _vectors(self, features):
        """Every customer in the model's space (column ``x``, an MLlib vector) with ``is_extreme``."""
        from pyspark.ml.functions import array_to_vector
        from pyspark.sql import functions as F

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

        arrays = features.mapInArrow(transform, f"{ID_COLUMN} string, x array<double>, is_extreme boolean")
        return arrays.withColumn("x", array_to_vector(F.col("x")))


def _rows(column: pa.Array, width: int) -> np.ndarray:
    """A list<double> Arrow column of equal-length lists as a matrix, without a Python object per row."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)
