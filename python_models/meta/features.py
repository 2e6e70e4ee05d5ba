"""The customers' numbers as a network reads them: heavy tails logged, every column standardised.

Spend, counts and days are heavy-tailed and shares lie in [0, 1]: a column whose values reach beyond 1 in size is
taken through a signed ``log1p`` first, so no feature name is hard-coded, then every column is centred and scaled
by its spread over the rows the scaler was fitted on (all tasks together: a region's shift stays visible as an
offset).
"""

from __future__ import annotations

import numpy as np

from ..segmentation.features import signed_log1p

__all__ = ["FeatureScaler"]


class FeatureScaler:
    """Signed log1p on heavy-tailed columns, then standardisation.

    Examples
    --------
    >>> X = np.array([[0.0, 0.5], [100.0, 0.1], [10.0, 0.3]])
    >>> s = FeatureScaler().fit(X)
    >>> s.logged_.tolist()
    [True, False]
    >>> np.allclose(s.transform(X).mean(axis=0), 0, atol=1e-6)
    True
    >>> FeatureScaler.from_dict(s.to_dict()).transform(X).round(6).tolist() == s.transform(X).round(6).tolist()
    True
    """

    def fit(self, X) -> FeatureScaler:
        X = np.asarray(X, dtype=np.float64)
        self.logged_ = np.abs(X).max(axis=0, initial=0.0) > 1.0
        Z = self._log(X)
        self.mean_ = Z.mean(axis=0)
        scale = Z.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        return self

    def _log(self, X: np.ndarray) -> np.ndarray:
        return np.where(self.logged_, signed_log1p(X), X)

    def transform(self, X) -> np.ndarray:
        Z = self._log(np.asarray(X, dtype=np.float64))
        return ((Z - self.mean_) / self.scale_).astype(np.float32)

    def to_dict(self) -> dict:
        return {"logged": self.logged_.tolist(), "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureScaler:
        s = cls()
        s.logged_, s.mean_, s.scale_ = (np.asarray(d["logged"], bool), np.asarray(d["mean"]), np.asarray(d["scale"]))
        return s
