"""The meta-learned models as versioned artifacts: state dicts plus what they were trained on.

``meta-segments-<fingerprint>.pt`` holds the prototypical network's encoder, the pooled (``global``) classifier
and the feature scaler; ``meta-behaviour-<fingerprint>.pt`` the FOMAML and Reptile initial weights and the pooled
behaviour network. Each has a ``.json`` twin with the metadata for people. The fingerprint hashes the artifact
version, the settings and the training input (features, labels, segments, outcomes), so the same input gives
the same name, and a run on unchanged input loads the networks instead of training them again.
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
from .maml import BehaviourMetaLearner
from .networks import BehaviourNet, Encoder
from .protonet import PrototypicalNetwork

__all__ = ["ARTIFACT_VERSION", "fingerprint", "load_behaviour_model", "load_segment_model", "save_artifact",
           "segment_state"]

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


def _load(path: Path) -> tuple[dict, dict]:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    meta, state = saved["metadata"], saved["state"]
    if meta.get("artifact_version") != ARTIFACT_VERSION:
        raise ValueError(f"{path.name} was saved by artifact version {meta.get('artifact_version')}, this code "
                         f"reads version {ARTIFACT_VERSION}: materialize the meta-learning assets again.")
    return meta, state


def load_behaviour_model(path: Path) -> tuple[dict, tuple[BehaviourNet, dict], FeatureScaler, list[str]]:
    """The meta-learners (``maml``, ``reptile``), the pooled network and its weights, the scaler and the feature
    columns saved at ``path``."""
    meta, state = _load(path)
    n = len(meta["columns"])
    learners = {}
    for name, saved in meta["learners"].items():
        learner = BehaviourMetaLearner(**saved["params"])
        learner.n_features_in_, learner.training_ = n, saved["training"]
        learner.network_ = learner.new_network(n)
        learner.network_.load_state_dict(state[name])
        learner.network_.eval()
        learner.params_ = {k: v.detach().clone() for k, v in state[name].items()}
        learners[name] = learner
    net = BehaviourNet(n, next(iter(learners.values())).hidden_dim)
    net.load_state_dict(state["global"])
    net.eval()
    return learners, (net, {k: v.detach().clone() for k, v in state["global"].items()}), \
        FeatureScaler.from_dict(meta["scaler"]), list(meta["columns"])


def load_segment_model(path: Path) -> tuple[PrototypicalNetwork, GlobalClassifier, FeatureScaler, list[str]]:
    """The prototypical network, the pooled classifier, the scaler and the feature columns saved at ``path``."""
    meta, state = _load(path)
    protonet = PrototypicalNetwork(**meta["protonet_params"])
    protonet.n_features_in_ = len(meta["columns"])
    protonet.encoder_ = protonet._network(protonet.n_features_in_)
    protonet.encoder_.load_state_dict(state["protonet"])
    protonet.encoder_.eval()
    protonet.training_ = meta["training"]
    g = GlobalClassifier(**meta["global_params"])
    g.classes_ = np.asarray(meta["global_classes"])
    g.encoder_ = Encoder(len(meta["columns"]), g.hidden_dim, g.embedding_dim)
    g.encoder_.load_state_dict(state["global_encoder"])
    g.head_ = torch.nn.Linear(g.embedding_dim, len(g.classes_))
    g.head_.load_state_dict(state["global_head"])
    return protonet, g, FeatureScaler.from_dict(meta["scaler"]), list(meta["columns"])
