"""The meta-learned models as versioned artifacts: state dicts plus what they were trained on.

``meta-segments-<fingerprint>.pt`` holds the prototypical network's encoder, the pooled (``global``) classifier
and the feature scaler; ``meta-behaviour-<fingerprint>.pt`` the FOMAML and Reptile initial weights and the pooled
behaviour network. Each has a ``.json`` twin with the metadata for people. The fingerprint hashes the artifact
version, the settings and the training matrix, so the same input gives the same name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .baselines import GlobalClassifier
from .features import FeatureScaler
from .networks import Encoder
from .protonet import PrototypicalNetwork

__all__ = ["ARTIFACT_VERSION", "fingerprint", "load_segment_model", "save_artifact"]

#: Bumped when a network or its training changes, so artifacts of an older version are not read.
ARTIFACT_VERSION = 1


def fingerprint(settings: dict, *arrays) -> str:
    """Hash of the artifact version, the settings and the arrays (numbers rounded to 1e-9, text as is).

    Examples
    --------
    >>> a = fingerprint({"k": 1}, np.arange(3.0))
    >>> a == fingerprint({"k": 1}, np.arange(3.0)), a == fingerprint({"k": 2}, np.arange(3.0))
    (True, False)
    """
    digest = hashlib.sha256(json.dumps({"version": ARTIFACT_VERSION, "settings": settings}, sort_keys=True,
                                       default=str).encode())
    for a in arrays:
        a = np.asarray(a)
        digest.update(np.round(a.astype(np.float64), 9).tobytes() if a.dtype.kind in "fiub"
                      else "\x1f".join(map(str, a.tolist())).encode())
    return digest.hexdigest()


def save_artifact(path: Path, state: dict, metadata: dict) -> None:
    """Write the state dicts and metadata (``.pt``) and the metadata alone (``.json``)."""
    metadata = {**metadata, "artifact_version": ARTIFACT_VERSION,
                "saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": state, "metadata": metadata}, path)
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=1, default=str))


def segment_state(protonet: PrototypicalNetwork, global_model: GlobalClassifier) -> dict:
    return {"protonet": protonet.encoder_.state_dict(), "global_encoder": global_model.encoder_.state_dict(),
            "global_head": global_model.head_.state_dict()}


def load_segment_model(path: Path) -> tuple[PrototypicalNetwork, GlobalClassifier, FeatureScaler, list[str]]:
    """The prototypical network, the pooled classifier, the scaler and the feature columns saved at ``path``."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    meta, state = saved["metadata"], saved["state"]
    if meta.get("artifact_version") != ARTIFACT_VERSION:
        raise ValueError(f"{path.name} was saved by artifact version {meta.get('artifact_version')}, this code "
                         f"reads version {ARTIFACT_VERSION}: materialize meta_segment_model again.")
    protonet = PrototypicalNetwork(**meta["protonet_params"])
    protonet.n_features_in_ = len(meta["columns"])
    protonet.encoder_ = protonet._network(protonet.n_features_in_)
    protonet.encoder_.load_state_dict(state["protonet"])
    protonet.encoder_.eval()
    g = GlobalClassifier(**meta["global_params"])
    g.classes_ = np.asarray(meta["global_classes"])
    g.encoder_ = Encoder(len(meta["columns"]), g.hidden_dim, g.embedding_dim)
    g.encoder_.load_state_dict(state["global_encoder"])
    g.head_ = torch.nn.Linear(g.embedding_dim, len(g.classes_))
    g.head_.load_state_dict(state["global_head"])
    return protonet, g, FeatureScaler.from_dict(meta["scaler"]), list(meta["columns"])
