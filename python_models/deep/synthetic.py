"""Synthetic customers for sharing and testing without exposing real rows: a variational autoencoder (VAE).

**Why a VAE, not a GAN.** A VAE trains like the autoencoder (one likelihood, an explicit loop, early stopping on
a validation split) in a few seconds on a CPU, and a decoder with a per-column variance reproduces the spread of
each feature. A GAN for tables (CTGAN and kin) needs hundreds of epochs of a two-player game on two cores, has no
loss to stop on and collapses onto a few modes unless watched; for a few dozen customer features, the VAE's
smoother samples are the better trade.

**What is modelled.** Each customer's features in the segmentation's standardised units (skew-corrected, robust
scaled; numeric columns with a Gaussian likelihood and a learned variance per column, categorical columns, the
segment among them, with a softmax), so a synthetic customer carries a segment drawn *jointly* with its features.
Sampling decodes draws from the prior; numeric values go back to their own units, clipped to the observed range.

**Quality** (:func:`synthetic_quality`): train-on-synthetic, test-on-real (a segment classifier trained on
synthetic rows and tested on real customers the VAE never saw, against the same classifier trained on real rows),
and the distance from each synthetic row to its closest real record against the real-to-real nearest-neighbour
distances. Synthetic rows closer to a real customer than the 1st percentile of those distances are copies in
all but name: :func:`generate_synthetic` draws again instead of publishing them.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from .runtime import DEFAULT_THREADS, seeded, to_tensor
from .training import TrainingLog, split_rows, train

__all__ = ["CustomerVAE", "SyntheticCustomers", "generate_synthetic", "synthetic_quality"]

#: Held-out real customers the classifiers are tested on, at most (a seeded sample: the split is random).
MAX_TEST_ROWS = 50_000


class _VaeNetwork(torch.nn.Module):
    def __init__(self, n_in, n_numeric, group_sizes, hidden_dim, latent_dim):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(n_in, hidden_dim), torch.nn.ELU())
        self.mean = torch.nn.Linear(hidden_dim, latent_dim)
        self.log_var = torch.nn.Linear(hidden_dim, latent_dim)
        self.decoder = torch.nn.Sequential(torch.nn.Linear(latent_dim, hidden_dim), torch.nn.ELU(),
                                           torch.nn.Linear(hidden_dim, n_numeric + sum(group_sizes)))
        self.column_log_var = torch.nn.Parameter(torch.zeros(n_numeric))
        self.n_numeric, self.group_sizes = n_numeric, list(group_sizes)

    def decode(self, z):
        out = self.decoder(z)
        return out[:, :self.n_numeric], torch.split(out[:, self.n_numeric:], self.group_sizes, dim=1)


class CustomerVAE:
    """A VAE of numeric columns (standardised) and categorical columns (level codes), seeded and deterministic.

    Parameters
    ----------
    latent_dim : int, default=8
    hidden_dim : int, default=64
    beta : float, default=1.0
        Weight of the KL term (1: the evidence lower bound).
    max_epochs, patience : int, default=200, 5
    learning_rate : float, default=1e-2
    random_state : int, default=0
    n_threads : int, default=1

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> numeric = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(4, 1, (300, 2))]
    >>> codes = np.r_[np.zeros(300, int), np.ones(300, int)][:, None]
    >>> vae = CustomerVAE(max_epochs=60).fit(numeric, codes, [2])
    >>> sample_numeric, sample_codes = vae.sample(1000, seed=1)
    >>> bool(abs(sample_numeric[sample_codes[:, 0] == 1, 0].mean() - 4) < 1)  # the groups stay together
    True
    """

    def __init__(self, latent_dim=8, hidden_dim=64, beta=1.0, max_epochs=200, patience=5, learning_rate=1e-2,
                 random_state=0, n_threads=DEFAULT_THREADS):
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.beta = beta
        self.max_epochs = max_epochs
        self.patience = patience
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.n_threads = n_threads

    def _loss(self, numeric, codes, generator):
        net = self.network_
        onehot = [torch.nn.functional.one_hot(codes[:, g], size).float() for g, size in enumerate(net.group_sizes)]
        hidden = net.encoder(torch.cat([numeric, *onehot], dim=1))
        mean, log_var = net.mean(hidden), net.log_var(hidden)
        z = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator)
        rec_numeric, logits = net.decode(z)
        nll = 0.5 * (((numeric - rec_numeric) ** 2) * torch.exp(-net.column_log_var) + net.column_log_var).sum(1)
        for g, group_logits in enumerate(logits):
            nll = nll + torch.nn.functional.cross_entropy(group_logits, codes[:, g], reduction="none")
        kl = -0.5 * (1 + log_var - mean ** 2 - torch.exp(log_var)).sum(1)
        return (nll + self.beta * kl).mean()

    def fit(self, numeric, codes, group_sizes, log=None):
        """Train on standardised numeric columns and categorical level codes (``group_sizes`` levels each)."""
        if not isinstance(self.latent_dim, numbers.Integral) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {self.latent_dim!r}.")
        with seeded(self.random_state, self.n_threads):
            generator = torch.Generator().manual_seed(int(self.random_state))
            num = to_tensor(numeric, torch.device("cpu"))
            cod = torch.as_tensor(np.asarray(codes, dtype=np.int64).reshape(len(numeric), -1))
            self.network_ = _VaeNetwork(num.shape[1] + int(sum(group_sizes)), num.shape[1], group_sizes,
                                        self.hidden_dim, self.latent_dim)
            train_rows, validation_rows = split_rows(len(num), 0.1, generator)
            self.history_: TrainingLog = train(
                self.network_, lambda idx: self._loss(num[idx], cod[idx], generator), train_rows, validation_rows,
                generator=generator, max_epochs=self.max_epochs, patience=self.patience,
                learning_rate=self.learning_rate, log=log)
        return self

    def sample(self, n, seed=0):
        """``n`` synthetic rows: (standardised numeric values, categorical level codes)."""
        net = self.network_
        with seeded(seed, self.n_threads), torch.no_grad():
            generator = torch.Generator().manual_seed(int(seed))
            rec_numeric, logits = net.decode(torch.randn((n, self.latent_dim), generator=generator))
            numeric = rec_numeric + torch.exp(0.5 * net.column_log_var) * torch.randn(rec_numeric.shape,
                                                                                    generator=generator)
            codes = [torch.multinomial(torch.softmax(group, dim=1), 1, generator=generator) for group in logits]
        codes = torch.cat(codes, dim=1).numpy() if codes else np.zeros((n, 0), dtype=np.int64)
        return numeric.numpy().astype(np.float64), codes


@dataclass
class SyntheticCustomers:
    """Synthetic rows (``rows``: the features' columns and ``segment_id``), their distances to the closest real
    record, and what was learned."""

    rows: pd.DataFrame
    distance_to_closest_real: np.ndarray
    threshold: float
    rejected: int
    vae: CustomerVAE
    train_index: np.ndarray
    test_index: np.ndarray
    real_to_real: np.ndarray  # each training customer's distance to its nearest other training customer


def _encode(transformer, frame, segments):
    """Standardised numeric columns (the informative ones) and level codes of the categoricals and the segment."""
    Z = transformer.standardised(frame)
    onehot = np.zeros(Z.shape[1], dtype=bool)
    groups = transformer.onehot_groups()
    for _, idx in groups:
        onehot[idx] = True
    numeric_cols = np.flatnonzero(~onehot)
    codes = [Z[:, idx].argmax(axis=1) for _, idx in groups]
    levels = [idx.size for _, idx in groups]
    segment_levels, segment_codes = np.unique(segments, return_inverse=True)
    return (np.clip(Z[:, numeric_cols], -6, 6), np.column_stack(codes + [segment_codes]), levels + [len(segment_levels)],
            numeric_cols, segment_levels)


def _decode(transformer, numeric, codes, numeric_cols, segment_levels, observed):
    """Synthetic rows in the features' own units (numeric clipped to the observed range) with their segment."""
    Z = np.zeros((len(numeric), transformer.mean_.size))
    Z[:, numeric_cols] = numeric
    frame = transformer.inverse_standardised(Z)
    frame = frame.clip(lower=observed.min(), upper=observed.max(), axis=1)
    for (column, idx), levels, code in zip(transformer.onehot_groups(), transformer.categories_, codes.T):
        names = list(levels) + (["infrequent"] if len(idx) > len(levels) else [])
        frame[column] = np.asarray(names, dtype=object)[code]
    for column in transformer.dropped_columns_:  # identifiers: synthetic ones, S000001 ...
        frame[column] = [f"S{i + 1:06d}" for i in range(len(frame))]
    frame = frame[list(transformer.feature_names_in_)]
    frame["segment_id"] = segment_levels[codes[:, -1]]
    return frame


def generate_synthetic(frame: pd.DataFrame, segments, transformer, n: int, *, test_share=0.3, random_state=0,
                       vae: CustomerVAE | None = None, max_draws: int = 5, max_fit_rows: int = 20_000,
                       log=None) -> SyntheticCustomers:
    """Train a VAE on the customers of a seeded training split, draw ``n`` synthetic customers, drop copies.

    Parameters
    ----------
    frame : DataFrame
        The customers' features (the transformer's input; taste columns are used when present).
    segments : array-like
        Each customer's segment.
    transformer : CustomerFeatureTransformer
        Fitted on such frames (the segmentation's).
    n : int
        Synthetic customers.
    test_share : float, default=0.3
        Customers held out from the VAE, for train-on-synthetic, test-on-real.
    max_draws : int, default=5
        Rounds of drawing replacements for rejected copies.
    max_fit_rows : int, default=20_000
        Customers of the training split the VAE learns from and synthetic rows are compared with, at most (a
        seeded sample; the nearest-neighbour distances grow with the square of this number).

    Returns
    -------
    SyntheticCustomers
    """
    segments = np.asarray(segments)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(frame))
    n_test = int(round(test_share * len(frame)))
    test_index, train_index = np.sort(order[:n_test][:MAX_TEST_ROWS]), np.sort(order[n_test:][:max_fit_rows])
    train_frame = frame.iloc[train_index].reset_index(drop=True)
    numeric, codes, levels, numeric_cols, segment_levels = _encode(transformer, train_frame, segments[train_index])
    vae = (vae or CustomerVAE(random_state=random_state)).fit(numeric, codes, levels, log=log)

    real = transformer.transform(train_frame)
    real_nn = NearestNeighbors(n_neighbors=2).fit(real)
    real_to_real = real_nn.kneighbors(real)[0][:, 1]
    threshold = float(np.percentile(real_to_real, 1))
    observed = transformer.inverse_standardised(transformer.standardised(train_frame))
    kept, distances, rejected = [], [], 0
    for draw in range(max_draws):
        need = n - sum(len(k) for k in kept)
        if need <= 0:
            break
        sample_numeric, sample_codes = vae.sample(int(need * 1.1) + 1, seed=random_state + 1 + draw)
        rows = _decode(transformer, sample_numeric, sample_codes, numeric_cols, segment_levels, observed)
        distance = real_nn.kneighbors(transformer.transform(rows.drop(columns="segment_id")), n_neighbors=1)[0][:, 0]
        ok = distance >= threshold
        rejected += int((~ok).sum())
        kept.append(rows[ok].iloc[:need])
        distances.append(distance[ok][:need])
    rows = pd.concat(kept, ignore_index=True)
    return SyntheticCustomers(rows=rows, distance_to_closest_real=np.concatenate(distances), threshold=threshold,
                              rejected=rejected, vae=vae, train_index=train_index, test_index=test_index,
                              real_to_real=real_to_real)


def synthetic_quality(frame: pd.DataFrame, segments, transformer, synthetic: SyntheticCustomers,
                      random_state=0) -> pd.DataFrame:
    """Train-on-synthetic/test-on-real accuracy against train-on-real, and distances to the closest real record.

    Returns
    -------
    DataFrame
        One row per measure: ``measure``, ``value``, ``description``.
    """
    segments = np.asarray(segments)
    train_frame = frame.iloc[synthetic.train_index]
    test_frame = frame.iloc[synthetic.test_index]
    test_X, test_y = transformer.transform(test_frame), segments[synthetic.test_index]
    rows = synthetic.rows
    real_accuracy = _accuracy(transformer.transform(train_frame), segments[synthetic.train_index], test_X, test_y)
    synthetic_accuracy = _accuracy(transformer.transform(rows.drop(columns="segment_id")), rows["segment_id"],
                                   test_X, test_y)
    real_nn = synthetic.real_to_real
    d = synthetic.distance_to_closest_real
    measures = [
        ("synthetic_rows", len(rows), "synthetic customers published"),
        ("rejected_as_copies", synthetic.rejected,
         "draws closer to a real customer than the copy threshold, drawn again"),
        ("accuracy_train_real", real_accuracy, "segment classifier (logistic regression) trained on real "
                                               "customers, tested on held-out real customers"),
        ("accuracy_train_synthetic", synthetic_accuracy, "the same classifier trained on synthetic customers, "
                                                         "tested on the same real customers"),
        ("accuracy_ratio", synthetic_accuracy / real_accuracy if real_accuracy else float("nan"),
         "train-on-synthetic over train-on-real accuracy (1: synthetic rows teach as much as real ones)"),
        ("copy_threshold", synthetic.threshold, "1st percentile of real-to-real nearest-neighbour distances"),
        ("real_nn_distance_median", float(np.median(real_nn)), "median real-to-real nearest-neighbour distance"),
        ("synthetic_dcr_min", float(d.min()) if d.size else float("nan"),
         "smallest distance from a synthetic row to its closest real record"),
        ("synthetic_dcr_median", float(np.median(d)) if d.size else float("nan"),
         "median distance from a synthetic row to its closest real record"),
        ("share_below_threshold", float(np.mean(d < synthetic.threshold)) if d.size else float("nan"),
         "synthetic rows closer to a real record than the copy threshold (0 by construction)"),
    ]
    return pd.DataFrame(measures, columns=["measure", "value", "description"])


def _accuracy(X, y, test_X, test_y) -> float:
    """Accuracy on the test rows of a multinomial logistic regression trained on (X, y), in the segmentation's
    space, where segments made by nearest centres are linearly separable. One thread: on a busy two-core machine
    threads cost more than they bring on a few thousand rows."""
    with threadpool_limits(limits=1):
        model = LogisticRegression(max_iter=1000).fit(X, y)
        return float(np.mean(model.predict(test_X) == test_y))
