"""The trained autoencoder as a versioned artifact: state dict plus what it was trained on, reused when unchanged.

``autoencoder-<fingerprint>.pt`` holds the network's state dict and its metadata (artifact version, the
autoencoder's settings and input layout, the feature list and the transforms that produced its input, training
metrics); a ``.json`` twin holds the same metadata for people. The fingerprint is a hash of the settings and of
the input matrix itself, so a run on the same features with the same settings loads the network instead of
training it again, and any change of the features, the transform or the settings trains a new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .autoencoder import CustomerAutoencoder, _Network
from .training import TrainingLog

__all__ = ["ARTIFACT_VERSION", "AutoencoderStore", "fingerprint", "load_autoencoder", "save_autoencoder"]

#: Bumped when the network or its training changes, so artifacts of an older version are not reused.
ARTIFACT_VERSION = 2

# settings that do not change the trained weights
_RUNTIME_PARAMS = ("device", "n_threads")


def _settings(autoencoder: CustomerAutoencoder) -> dict:
    return {k: v for k, v in autoencoder.get_params().items() if k not in _RUNTIME_PARAMS}


def fingerprint(autoencoder: CustomerAutoencoder, X: np.ndarray) -> str:
    """Hash of the artifact version, the autoencoder's settings and the input matrix (rounded to 1e-9).

    Examples
    --------
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> fingerprint(CustomerAutoencoder(), X) == fingerprint(CustomerAutoencoder(), X.copy())
    True
    >>> fingerprint(CustomerAutoencoder(), X) == fingerprint(CustomerAutoencoder(latent_dim=4), X)
    False
    """
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": ARTIFACT_VERSION, "settings": _settings(autoencoder),
                              "shape": list(X.shape)}, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(np.round(np.asarray(X, dtype=np.float64), 9)).tobytes())
    return digest.hexdigest()


def save_autoencoder(path: Path, autoencoder: CustomerAutoencoder, metadata: dict) -> None:
    """Write the state dict and metadata (``.pt``) and the metadata alone (``.json``)."""
    history = autoencoder.history_
    metadata = {
        **metadata,
        "artifact_version": ARTIFACT_VERSION,
        "settings": _settings(autoencoder),
        "n_features_in": int(autoencoder.n_features_in_),
        "training": {"epochs": history.epochs, "best_epoch": history.best_epoch,
                     "best_validation_loss": history.best_validation_loss,
                     "seconds": round(history.seconds, 3),
                     "seconds_per_epoch": round(history.seconds_per_epoch, 4),
                     "train_loss": history.train_loss, "validation_loss": history.validation_loss},
        "saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": autoencoder.network_.state_dict(), "metadata": metadata}, path)
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=1, default=str))


def load_autoencoder(path: Path) -> CustomerAutoencoder:
    """The fitted autoencoder saved at ``path`` (its embedding is bit-identical to the saved one's)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    metadata = saved["metadata"]
    if metadata.get("artifact_version") != ARTIFACT_VERSION:
        raise ValueError(f"{path.name} was saved by artifact version {metadata.get('artifact_version')}, "
                         f"this code reads version {ARTIFACT_VERSION}: train again.")
    ae = CustomerAutoencoder(**metadata["settings"])
    ae.n_features_in_ = metadata["n_features_in"]
    ae._check_params(ae.n_features_in_)
    ae.network_ = _Network(ae.numeric_columns_.size, [g.size for g in ae.groups_], ae.embedding_dim,
                           ae.hidden_dim, ae.latent_dim)
    ae.network_.load_state_dict(saved["state_dict"])
    training = metadata["training"]
    ae.history_ = TrainingLog(train_loss=training["train_loss"], validation_loss=training["validation_loss"],
                              best_epoch=training["best_epoch"], seconds=training["seconds"])
    ae.fingerprint_ = metadata["fingerprint"]
    ae._to_cpu()
    return ae


class AutoencoderStore:
    """A folder of autoencoder artifacts (beside the warehouse): trains only what it does not hold yet.

    Examples
    --------
    >>> import tempfile
    >>> X = np.random.default_rng(0).normal(size=(300, 4))
    >>> store = AutoencoderStore(tempfile.mkdtemp())
    >>> first, reused = store.fit(CustomerAutoencoder(latent_dim=2, max_epochs=5), X)
    >>> again, reused_again = store.fit(CustomerAutoencoder(latent_dim=2, max_epochs=5), X)
    >>> reused, reused_again, bool(np.array_equal(first.transform(X), again.transform(X)))
    (False, True, True)
    """

    def __init__(self, folder):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"autoencoder-{key[:16]}.pt"

    def fit(self, autoencoder: CustomerAutoencoder, X, log=None, metadata=None) -> tuple[CustomerAutoencoder, bool]:
        """The autoencoder trained on ``X``, loaded when an artifact of the same fingerprint exists.

        Returns
        -------
        (CustomerAutoencoder, bool)
            The fitted autoencoder and whether it was loaded rather than trained.
        """
        X = np.asarray(X, dtype=np.float64)
        key = fingerprint(autoencoder, X)
        path = self.path(key)
        if path.exists():
            loaded = load_autoencoder(path)
            if loaded.fingerprint_ == key:
                if log is not None:
                    log(f"autoencoder: features unchanged, reusing {path.name}")
                return loaded, True
        autoencoder.fit(X, log=log)
        autoencoder.fingerprint_ = key
        save_autoencoder(path, autoencoder, {**(metadata or {}), "fingerprint": key})
        return autoencoder, False
