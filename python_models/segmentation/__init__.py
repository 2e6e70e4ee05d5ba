"""Customer segmentation: preprocessing, model choice, profiles and scoring without refitting.

Pure Python (numpy / pandas / scikit-learn): DataFrames and arrays in and
out, no orchestration imports. Typical use::

    from python_models.segmentation import segment_customers
    result = segment_customers(customer_features_df, random_state=0)
    result.assignments()   # customer_id, segment_id, segment_name, distance
    result.profiles        # one row per segment (-1: "Unassigned (outliers)")
    result.metrics         # one row per candidate model (algorithm x k)
    scorer = result.scorer(customer_features_df)   # frozen, picklable
    scorer.assign(later_features)     # customer_id, label, distance; no refit
    scorer.staleness(later_features)  # share beyond the reference distance, max PSI, stale

Building blocks: :class:`CustomerFeatureTransformer` (skew correction,
standardisation, block weighting), :class:`ModelSelector` (K-Means, Gaussian
mixture, Ward and HDBSCAN candidates with a deterministic choice),
:class:`AutoKMeans` (K-Means only), :func:`profile_segments` (segment sizes,
means, lifts, effect sizes and readable names) and :class:`SegmentScorer`
(assigns new customers with a saved model and tells when it is stale).
"""

from .features import (
    BLOCKS,
    DEFAULT_BLOCK_WEIGHTS,
    CustomerFeatureTransformer,
    assign_block,
    signed_log1p,
)
from .kmeans_selection import AutoKMeans, choose_k, silhouette_scores
from .model_selection import ALGORITHMS, NOISE_LABEL, ModelSelector, choose_candidate
from .pipeline import SegmentationResult, segment_customers
from .profiles import (
    KEY_FEATURES,
    OUTLIER_NAME,
    profile_segments,
    segment_effect_sizes,
    slot_label,
)
from .scoring import SegmentScorer, Staleness

__all__ = [
    "ALGORITHMS",
    "BLOCKS",
    "DEFAULT_BLOCK_WEIGHTS",
    "KEY_FEATURES",
    "NOISE_LABEL",
    "OUTLIER_NAME",
    "AutoKMeans",
    "CustomerFeatureTransformer",
    "ModelSelector",
    "SegmentScorer",
    "SegmentationResult",
    "Staleness",
    "assign_block",
    "choose_candidate",
    "choose_k",
    "profile_segments",
    "segment_customers",
    "segment_effect_sizes",
    "signed_log1p",
    "silhouette_scores",
    "slot_label",
]
