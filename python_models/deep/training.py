"""The small explicit training loop every deep model here shares: minibatches by index, early stopping.

Batches are slices of tensors built once (a seeded permutation of row indices per epoch), never a ``DataLoader``
over a ``TensorDataset``, which is 7x slower per epoch at a million rows on two cores (measured, see the README's
deep-segmentation bench). Early stopping watches the loss on a held-out validation split and restores the best
weights, so a run stops when it stops improving instead of after a fixed, tuned number of epochs.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

__all__ = ["TrainingLog", "auto_batch_size", "split_rows", "train"]

#: Relative improvement of the validation loss that counts as progress for early stopping.
MIN_RELATIVE_IMPROVEMENT = 1e-3


@dataclass
class TrainingLog:
    """What a training run did: losses per epoch, the epoch kept, the time spent."""

    train_loss: list = field(default_factory=list)
    validation_loss: list = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(self.epochs, 1)

    @property
    def best_validation_loss(self) -> float:
        return float(self.validation_loss[self.best_epoch - 1]) if self.validation_loss else float("nan")


def auto_batch_size(n_rows: int) -> int:
    """About 8 steps per epoch, between 256 and 4,096 rows a batch.

    A step of the small networks here costs about 3 ms of Python and torch overhead whatever its size (measured
    on two shared cores), so on a small shop few large batches train as well in a fraction of the time, and a
    million rows do not pay that cost 8,000 times an epoch.

    Examples
    --------
    >>> auto_batch_size(3_000), auto_batch_size(1_000_000)
    (375, 4096)
    """
    return int(max(256, min(4096, n_rows // 8)))


def split_rows(n_rows: int, validation_share: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train, validation) row indices; the validation split has at least one row when it is asked for."""
    order = torch.randperm(n_rows, generator=generator)
    n_val = int(round(validation_share * n_rows))
    if validation_share > 0:
        n_val = min(max(n_val, 1), n_rows - 1)
    return order[n_val:], order[:n_val]


def train(module: torch.nn.Module, batch_loss: Callable[[torch.Tensor], torch.Tensor], train_rows: torch.Tensor,
          validation_rows: torch.Tensor, *, generator: torch.Generator, max_epochs: int, patience: int,
          learning_rate: float, batch_size: int | None = None, weight_decay: float = 0.0,
          before_epoch: Callable[[int], bool] | None = None, keep_best: bool = True,
          log: Callable[[str], None] | None = None) -> TrainingLog:
    """Train ``module`` with Adam on minibatches of ``train_rows``; keep the weights of the best validation epoch.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place; on return it holds the best epoch's weights.
    batch_loss : callable
        ``batch_loss(rows) -> scalar tensor``: the mean loss over the given row indices of tensors the caller
        built once. Called with gradients for training and under ``no_grad`` for validation.
    train_rows, validation_rows : LongTensor
        Row indices. Without validation rows the training loss is watched instead.
    generator : torch.Generator
        Seeds the per-epoch permutations.
    max_epochs, patience : int
        At most ``max_epochs``; stop after ``patience`` epochs without a relative improvement of 1e-3.
    learning_rate, weight_decay : float
        Adam's settings.
    batch_size : int or None
        Rows per step (``None``: :func:`auto_batch_size`).
    before_epoch : callable or None
        ``before_epoch(epoch) -> bool``, called before every epoch (IDEC refreshes its target there); returning
        True stops training.
    keep_best : bool, default=True
        Restore the best watched epoch's weights (IDEC, whose loss changes with its target, keeps the last).
    log : callable or None
        Receives a progress line every 10 epochs and at the end.

    Returns
    -------
    TrainingLog
    """
    started = time.perf_counter()
    n_train = int(train_rows.numel())
    batch = batch_size or auto_batch_size(n_train)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
    history = TrainingLog()
    best, best_state, waited = np.inf, None, 0
    watch = validation_rows if validation_rows.numel() else train_rows
    for epoch in range(1, max_epochs + 1):
        if before_epoch is not None and before_epoch(epoch):
            break
        module.train()
        order = train_rows[torch.randperm(n_train, generator=generator)]
        total = 0.0
        for start in range(0, n_train, batch):
            rows = order[start:start + batch]
            loss = batch_loss(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * rows.numel()
        module.eval()
        with torch.no_grad():
            watched = float(batch_loss(watch))
        history.train_loss.append(total / n_train)
        history.validation_loss.append(watched)
        if watched < best * (1 - MIN_RELATIVE_IMPROVEMENT) or not np.isfinite(best):
            best, waited = watched, 0
            best_state = copy.deepcopy(module.state_dict()) if keep_best else None
            history.best_epoch = epoch
        else:
            waited += 1
        if log is not None and epoch % 10 == 0:
            log(f"epoch {epoch}: train loss {history.train_loss[-1]:.5f}, validation loss {watched:.5f}")
        if waited >= patience:
            break
    if keep_best and best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    history.seconds = time.perf_counter() - started
    if log is not None:
        log(f"stopped after {history.epochs} epochs ({history.seconds_per_epoch:.3f} s each), kept epoch "
            f"{history.best_epoch} (validation loss {history.best_validation_loss:.5f})")
    return history
