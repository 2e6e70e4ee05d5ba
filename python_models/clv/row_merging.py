"""Collapse identical customer rows into weighted unique rows.

Likelihoods of the CLV models depend on a customer only through a few summary
columns, e.g. (frequency, recency, T).  Many customers share the same values
(all one-off buyers of a cohort day have x = 0, t_x = 0 and the same T), so the
likelihood is evaluated once per distinct row and multiplied by the number of
customers (the weight).  Each column is also factorised into its distinct
values, so that expensive per-value terms (``log(alpha + T)``, ``gammaln(r + x)``)
are computed once per distinct value and gathered by integer code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MergedRows", "merge_identical_rows"]


@dataclass(frozen=True)
class MergedRows:
    """Distinct rows of several columns, with summed weights.

    Attributes
    ----------
    values : tuple of ndarray
        For each column, its sorted distinct values.
    codes : tuple of ndarray of int64
        For each column, the code (index into ``values``) of every merged row.
    weights : ndarray
        Summed weight of every merged row.
    n_input_rows : int
        Number of rows before merging.
    inverse : ndarray of int64
        For every input row, the index of its merged row (-1 for rows of weight 0),
        so that ``per_merged_row[inverse]`` scatters results back to the input rows.
    """

    values: tuple
    codes: tuple
    weights: np.ndarray
    n_input_rows: int
    inverse: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of distinct rows."""
        return len(self.weights)

    def column(self, i: int) -> np.ndarray:
        """Value of column ``i`` on every merged row."""
        return self.values[i][self.codes[i]]


def merge_identical_rows(*columns: np.ndarray, weights: np.ndarray | None = None) -> MergedRows:
    """Merge rows that are identical in all ``columns``, summing their weights.

    Parameters
    ----------
    *columns : ndarray
        1-D arrays of equal length.
    weights : ndarray, optional
        Per-row weights; ones if omitted.  Rows of weight 0 are dropped.

    Returns
    -------
    MergedRows

    Examples
    --------
    >>> m = merge_identical_rows(np.array([0., 0., 1.]), np.array([5., 5., 5.]))
    >>> m.n_rows, m.weights.tolist()
    (2, [2.0, 1.0])
    """
    n = len(columns[0])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = None
    if np.any(w == 0):
        keep = w != 0
        columns = tuple(c[keep] for c in columns)
        w = w[keep]
    values, codes = [], []
    for col in columns:
        u, inv = np.unique(col, return_inverse=True)
        values.append(u)
        codes.append(inv.astype(np.int64).ravel())
    sizes = [len(u) for u in values]
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62:
        key = codes[0].copy()
        for c, s in zip(codes[1:], sizes[1:]):
            key *= s
            key += c
        ukey, inverse = np.unique(key, return_inverse=True)
        row_codes = []
        rest = ukey
        for s in reversed(sizes[1:]):
            row_codes.append(rest % s)
            rest = rest // s
        row_codes.append(rest)
        row_codes.reverse()
    else:  # pragma: no cover - needs > 2**20 distinct values in every column
        urows, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        row_codes = [urows[:, i] for i in range(urows.shape[1])]
    inverse = inverse.ravel().astype(np.int64)
    merged_w = np.bincount(inverse, weights=w, minlength=len(row_codes[0]))
    if keep is not None:
        full = np.full(n, -1, dtype=np.int64)
        full[keep] = inverse
        inverse = full
    return MergedRows(tuple(values), tuple(row_codes), merged_w, n, inverse)
