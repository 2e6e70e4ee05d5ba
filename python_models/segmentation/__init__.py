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

Building blocks: :class:`TasteModel` (product taste from the customer x
product matrix), :class:`CustomerFeatureTransformer` (skew correction,
robust standardisation with clipping, block weighting, outlier scores),
:class:`ModelSelector` (K-Means, Gaussian mixture, Ward and HDBSCAN
candidates, and K-Means and IDEC on an autoencoder's embedding, with one deterministic choice rule), :func:`profile_segments` (segment sizes,
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
from .embedding import DEEP_ALGORITHMS, REPRESENTATIONS, EmbeddingRule
from .model_selection import ALGORITHMS, ALL_ALGORITHMS, NOISE_LABEL, ModelSelector, choose_candidate
from .pipeline import SegmentationResult, segment_customers
from .profiles import (
    KEY_FEATURES,
    OUTLIER_NAME,
    profile_segments,
    segment_effect_sizes,
    slot_label,
)
from .scores import silhouette_scores
from .scoring import SegmentScorer, Staleness
from .taste import TasteModel, taste_columns
from .validity import eta_squared, segment_validity

__all__ = [
    "ALGORITHMS",
    "ALL_ALGORITHMS",
    "DEEP_ALGORITHMS",
    "REPRESENTATIONS",
    "EmbeddingRule",
    "BLOCKS",
    "DEFAULT_BLOCK_WEIGHTS",
    "KEY_FEATURES",
    "NOISE_LABEL",
    "OUTLIER_NAME",
    "CustomerFeatureTransformer",
    "ModelSelector",
    "SegmentScorer",
    "SegmentationResult",
    "Staleness",
    "TasteModel",
    "assign_block",
    "choose_candidate",
    "eta_squared",
    "profile_segments",
    "segment_customers",
    "segment_effect_sizes",
    "segment_validity",
    "signed_log1p",
    "silhouette_scores",
    "slot_label",
    "taste_columns",
]
