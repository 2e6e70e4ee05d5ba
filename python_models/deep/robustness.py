"""How many customers change segment when their features change a little: noise and gradient-sign attacks.

Each customer's standardised features (the robust units the segmentation works in) are moved by ``epsilon``:
either Gaussian noise of standard deviation ``epsilon``, or the gradient-sign (FGSM) step of size ``epsilon`` that
most increases, to first order, the loss of a differentiable surrogate of the customer's assignment. The surrogate
is a softmax over the segments: minus the squared distance to each centre (K-Means, Ward, HDBSCAN; in the
embedding for the autoencoder candidates, through the encoder), or each component's log density (diagonal Gaussian
mixture). The perturbed customer is then assigned by the candidate's own rule, and the share of customers whose
segment changed is the figure (0: nobody moves; the adversarial figure is the worst case of the two).
Categorical indicators are not perturbed: a level is not a small change.
"""

from __future__ import annotations

import numpy as np
import torch

from .runtime import seeded

__all__ = ["flip_rates", "surrogate_logits"]


def surrogate_logits(rule, X: torch.Tensor) -> torch.Tensor:
    """Differentiable scores of every segment for the rows of ``X`` (float32), for any assignment rule."""
    autoencoder = getattr(rule, "autoencoder", None)
    if autoencoder is not None:  # an embedding rule: distances in the embedding
        space, centers = autoencoder.encode_tensor(X), rule.centers
    elif hasattr(rule, "mixture"):
        return _mixture_logits(rule, X)
    else:
        space, centers = X, rule.centers
    return -torch.cdist(space, torch.as_tensor(np.asarray(centers), dtype=torch.float32)).pow(2)


def _mixture_logits(rule, X):
    mixture = rule.mixture
    components = (np.arange(mixture.n_components) if rule.components is None else np.asarray(rule.components))
    means = torch.as_tensor(mixture.means_[components], dtype=torch.float32)
    if mixture.covariance_type == "diag":
        precision = torch.as_tensor(mixture.precisions_[components], dtype=torch.float32)
    else:  # other covariances: the nearest mean in Euclidean terms is the surrogate
        precision = torch.ones_like(means)
    diff = X[:, None, :] - means[None, :, :]
    log_density = -0.5 * (diff.pow(2) * precision).sum(dim=2) + 0.5 * torch.log(precision).sum(dim=1)
    return log_density + torch.log(torch.as_tensor(mixture.weights_[components], dtype=torch.float32))


def flip_rates(rule, X, scale, epsilon=0.25, seed=0, chunk_rows=4096) -> tuple[float, float]:
    """Shares of rows whose segment changes under Gaussian noise and under an FGSM step of size ``epsilon``.

    Parameters
    ----------
    rule : callable
        The candidate's assignment rule (``rule(X) -> labels``), with centres, a mixture or an autoencoder.
    X : ndarray of shape (n_samples, n_features)
        Rows in the segmentation's space.
    scale : ndarray of shape (n_features,)
        Units of ``X`` per standardised unit of each column (the transformer's weight; 0: not perturbed).
    epsilon : float, default=0.25
        Perturbation size in standardised units.
    seed : int, default=0
        Seeds the noise.

    Returns
    -------
    (float, float)
        Noise flip rate and adversarial flip rate.

    Examples
    --------
    >>> from python_models.segmentation.model_selection import _CentroidRule
    >>> rule = _CentroidRule(np.array([[0.0, 0.0], [1.0, 0.0]]))
    >>> X = np.array([[0.45, 0.0], [0.05, 0.0], [0.95, 0.0], [0.55, 0.3]])
    >>> flip_rates(rule, X, np.ones(2), epsilon=0.1)[1]   # the two rows within 0.1 of the border flip
    0.5
    """
    X = np.asarray(X, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    labels = np.asarray(rule(X))
    noise = np.random.default_rng(seed).standard_normal(X.shape) * (epsilon * scale)
    noise_rate = float(np.mean(np.asarray(rule(X + noise)) != labels))
    step = np.empty_like(X)
    with seeded(seed):
        for start in range(0, X.shape[0], chunk_rows):
            rows = torch.as_tensor(X[start:start + chunk_rows], dtype=torch.float32).requires_grad_(True)
            logits = surrogate_logits(rule, rows)
            own = logits.detach().argmax(dim=1)
            loss = torch.nn.functional.cross_entropy(logits, own, reduction="sum")
            (grad,) = torch.autograd.grad(loss, rows)
            step[start:start + chunk_rows] = grad.sign().numpy()
    adversarial_rate = float(np.mean(np.asarray(rule(X + epsilon * scale * step)) != labels))
    return noise_rate, adversarial_rate
