"""Customer segmentation: preprocessing, automatic K-Means and profiles.

Pure Python (numpy / pandas / scikit-learn): DataFrames and arrays in and
out, no orchestration imports. Typical use::

    from python_models.segmentation import segment_customers
    result = segment_customers(customer_features_df, random_state=0)
    result.assignments()   # customer_id, segment_id, segment_name, distance
    result.profiles        # one row per segment
    result.metrics         # one row per candidate k

Building blocks: :class:`CustomerFeatureTransformer` (skew correction,
standardisation, block weighting), :class:`AutoKMeans` (K-Means with a
deterministic choice of k and size-ordered labels) and
:func:`profile_segments` (segment sizes, means, lifts, effect sizes and
readable names).
"""

from .features import (
    BLOCKS,
    DEFAULT_BLOCK_WEIGHTS,
    CustomerFeatureTransformer,
    assign_block,
    signed_log1p,
)
from .kmeans_selection import AutoKMeans, choose_k, silhouette_scores
from .pipeline import SegmentationResult, segment_customers
from .profiles import (
    KEY_FEATURES,
    profile_segments,
    segment_effect_sizes,
    slot_label,
)

__all__ = [
    "BLOCKS",
    "DEFAULT_BLOCK_WEIGHTS",
    "KEY_FEATURES",
    "AutoKMeans",
    "CustomerFeatureTransformer",
    "SegmentationResult",
    "assign_block",
    "choose_k",
    "profile_segments",
    "segment_customers",
    "segment_effect_sizes",
    "signed_log1p",
    "silhouette_scores",
    "slot_label",
]
