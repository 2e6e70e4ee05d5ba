"""The small networks meta-learning trains: an encoder of customers, and a two-headed behaviour MLP."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BehaviourNet", "Encoder"]


class Encoder(nn.Module):
    """Customer features -> embedding (two hidden layers; the prototypes live in its output space)."""

    def __init__(self, n_features: int, hidden_dim: int = 64, embedding_dim: int = 32):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_features, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim),
                                    nn.ReLU(), nn.Linear(hidden_dim, embedding_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class BehaviourNet(nn.Module):
    """Customer features -> (logit of buying in the next horizon, log1p of next-horizon spend)."""

    def __init__(self, n_features: int, hidden_dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim),
                                  nn.ReLU())
        self.head = nn.Linear(hidden_dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
