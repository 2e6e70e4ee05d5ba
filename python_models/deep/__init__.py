"""Deep models of customers (PyTorch): the autoencoder embedding, IDEC, anomaly scores, robustness, synthesis.

Pure Python (numpy / torch / scikit-learn), no orchestration imports::

    from python_models.deep import CustomerAutoencoder, autoencoder_layout
    ae = CustomerAutoencoder(**autoencoder_layout(transformer)).fit(X)   # X: the segmentation's matrix
    Z = ae.transform(X)                                                  # the customer embedding

Building blocks: :class:`CustomerAutoencoder` (numeric features standardised, categorical ones embedded, early
stopping, seeded), :class:`AutoencoderStore` (the versioned artifact, reloaded when the features are unchanged),
:func:`idec_refine` (deep clustering on the embedding). The embedding candidates of the model selection live in
:mod:`python_models.segmentation.embedding`.
"""

from .artifact import ARTIFACT_VERSION, AutoencoderStore, fingerprint, load_autoencoder, save_autoencoder
from .autoencoder import TRAINING_MODES, CustomerAutoencoder, autoencoder_layout
from .idec import IdecResult, idec_refine, student_t_assignment
from .runtime import choose_device, seeded
from .training import TrainingLog, train

__all__ = [
    "ARTIFACT_VERSION",
    "TRAINING_MODES",
    "AutoencoderStore",
    "CustomerAutoencoder",
    "IdecResult",
    "TrainingLog",
    "autoencoder_layout",
    "choose_device",
    "fingerprint",
    "idec_refine",
    "load_autoencoder",
    "save_autoencoder",
    "seeded",
    "student_t_assignment",
    "train",
]
