"""Segment identity over time, customer migration and feature drift.

Each monthly snapshot is re-clustered from scratch, so K-Means label ``3``
this month need not be last month's segment ``3``. This module gives
segments a stable identity and measures what changed between two
snapshots:

- :func:`match_segments` carries segment ids forward by matching this
  snapshot's centres to the previous ones (Hungarian assignment on Euclidean
  distance, with a distance cap so a genuinely new segment gets a new id);
- :func:`default_max_distance` is a scale-free default for that cap;
- :func:`membership_centers` puts the previous segments in the current
  feature space (each snapshot refits its transform), and
  :func:`carry_segment_ids` / :func:`carry_segment_names` do the whole
  hand-over from one snapshot to the next;
- :func:`transition_matrix` counts customers moving between segments
  (works for any labels: cluster ids or RFM segment names);
- :func:`population_stability_index` and :func:`feature_drift` flag input
  features whose distribution has shifted; :func:`feature_bins` keeps a
  snapshot's distribution compactly and :func:`drift_from_bins` compares a
  later snapshot with it.

Pure numpy / pandas / scipy: DataFrames and arrays in and out.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

__all__ = [
    "GONE",
    "NEW",
    "OUTLIER_ID",
    "PSI_MODERATE",
    "PSI_SIGNIFICANT",
    "carry_segment_ids",
    "carry_segment_names",
    "default_max_distance",
    "drift_from_bins",
    "feature_bins",
    "feature_drift",
    "match_segments",
    "membership_centers",
    "numeric_columns",
    "population_stability_index",
    "transition_matrix",
]

#: ``from_segment`` of customers absent from the previous snapshot.
NEW = "(new)"
#: ``to_segment`` of customers absent from the current snapshot.
GONE = "(gone)"

#: Segment id of the customers a model leaves unassigned (HDBSCAN's outliers); never matched or reused.
OUTLIER_ID = 0

#: PSI below this: stable. Between the two: moderate shift, worth a look.
PSI_MODERATE = 0.1
#: PSI above this: significant shift (the usual credit-scoring convention).
PSI_SIGNIFICANT = 0.2

TRANSITION_COLUMNS = ["from_snapshot", "to_snapshot", "from_segment", "to_segment", "customers", "share"]


# ---------------------------------------------------------------------------------------------------------
# Segment identity
# ---------------------------------------------------------------------------------------------------------


def _as_centers(centers, name):
    arr = np.asarray(centers, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_segments, n_features), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def default_max_distance(previous_centers, factor=0.5):
    """Default distance cap for :func:`match_segments`.

    ``factor`` times the median, over the previous centres, of the distance
    from each centre to its nearest other centre. With the default
    ``factor=0.5`` a current centre can only inherit an id if it lies closer
    to that previous centre than half the typical spacing between segments,
    i.e. it has moved less than the distance that would make it
    indistinguishable from a neighbouring segment. Being relative to the
    spacing of the centres, the cap needs no tuning when the feature scaling
    or the number of segments changes.

    Raise ``factor`` (e.g. to 1.0) to keep ids through larger month-on-month
    moves; lower it to be stricter about what counts as "the same segment".

    Parameters
    ----------
    previous_centers : array-like of shape (n_previous, n_features)
        Segment centres of the previous snapshot, in the same (transformed)
        feature space as the current ones.
    factor : float, default=0.5
        Multiple of the median nearest-centre distance.

    Returns
    -------
    float
        The cap. ``inf`` when there are fewer than two previous centres
        (there is no spacing to measure, so any match is accepted).

    Examples
    --------
    >>> default_max_distance([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    1.0
    """
    centers = _as_centers(previous_centers, "previous_centers")
    if not (isinstance(factor, numbers.Real) and factor > 0):
        raise ValueError(f"factor must be a positive number, got {factor!r}")
    if len(centers) < 2:
        return float("inf")
    dist = cdist(centers, centers)
    np.fill_diagonal(dist, np.inf)
    return float(factor * np.median(dist.min(axis=1)))


def match_segments(previous_centers, previous_ids, current_centers, max_distance=None, *, next_id=None):
    """Give the current snapshot's segments ids that persist over time.

    The current centres are matched one-to-one to the previous centres by the
    Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`) on
    their Euclidean distances. A current segment inherits the id of its
    matched previous segment when their distance is at most
    ``max_distance``; a current segment left unmatched (there are more
    current than previous segments) or matched too far away gets a new id:
    ``next_id``, ``next_id + 1``, ... in the order of the current segments.

    Pairs further apart than ``max_distance`` are priced out of the
    assignment before it is solved, so the matching first maximises the
    number of acceptable pairs and only then minimises their total distance
    (a far-away pair can never displace a close one).

    **Choosing max_distance.** Distances are in the space the centres live in
    (the transformed, standardised features), so a fixed number rarely
    transfers between models. Use a multiple of the typical spacing of the
    previous centres: :func:`default_max_distance` (the default, half the
    median nearest-centre distance) does that.

    Parameters
    ----------
    previous_centers : array-like of shape (n_previous, n_features)
        Centres of the previous snapshot (may have zero rows: then every
        current segment gets a new id).
    previous_ids : array-like of int, shape (n_previous,)
        The (unique) ids of the previous segments.
    current_centers : array-like of shape (n_current, n_features)
        Centres of the current snapshot, in the same feature space.
    max_distance : float, default=None
        Largest centre move that keeps an id. ``None`` means
        ``default_max_distance(previous_centers)``.
    next_id : int, default=None
        First id to hand out to new segments. Pass the maximum id ever used
        in the whole history + 1 so that an id retired months ago is never
        reused. ``None`` means ``max(previous_ids) + 1`` (or 1 when there is
        no previous segment, matching 1-based segment ids).

    Returns
    -------
    ndarray of int64, shape (n_current,)
        The id of each current segment, in the order of ``current_centers``.

    Raises
    ------
    ValueError
        On shape mismatches, duplicated previous ids, a negative
        ``max_distance`` or a ``next_id`` that would reuse a previous id.

    Examples
    --------
    >>> prev = [[0.0, 0.0], [10.0, 0.0]]
    >>> curr = [[10.2, 0.1], [0.1, -0.1], [50.0, 50.0]]   # swapped, plus a new one
    >>> match_segments(prev, [7, 8], curr, max_distance=1.0, next_id=12).tolist()
    [8, 7, 12]
    """
    prev = np.asarray(previous_centers, dtype=float)
    curr = _as_centers(current_centers, "current_centers")
    if prev.size == 0:
        prev = prev.reshape(0, curr.shape[1])
    prev = _as_centers(prev, "previous_centers")
    ids = np.asarray(previous_ids).reshape(-1)
    if len(ids) != len(prev):
        raise ValueError(f"previous_ids has {len(ids)} entries but previous_centers has {len(prev)} rows")
    if len(ids) and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"previous_ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("previous_ids must be unique")
    if len(prev) and prev.shape[1] != curr.shape[1]:
        raise ValueError(
            f"previous_centers has {prev.shape[1]} features but current_centers has {curr.shape[1]}"
        )

    floor = int(ids.max()) + 1 if len(ids) else 1
    if next_id is None:
        next_id = floor
    elif int(next_id) < floor:
        raise ValueError(f"next_id={next_id} would reuse an id: previous ids go up to {floor - 1}")
    next_id = int(next_id)

    result = np.full(len(curr), -1, dtype=np.int64)
    if len(prev) and len(curr):
        if max_distance is None:
            max_distance = default_max_distance(prev)
        if not (isinstance(max_distance, numbers.Real) and max_distance >= 0):
            raise ValueError(f"max_distance must be a non-negative number, got {max_distance!r}")
        dist = cdist(curr, prev)
        feasible = dist <= max_distance
        # A penalty larger than any sum of feasible distances makes the solver maximise the number of
        # feasible pairs first; infeasible pairs it still returns are rejected below.
        penalty = dist[feasible].sum() + 1.0
        cost = np.where(feasible, dist, penalty)
        rows, cols = linear_sum_assignment(cost)
        keep = feasible[rows, cols]
        result[rows[keep]] = ids[cols[keep]]

    new = result < 0
    result[new] = next_id + np.arange(int(new.sum()), dtype=np.int64)
    return result


def membership_centers(X, customer_ids, previous):
    """Centres of the previous snapshot's segments, measured in the current feature space.

    Each snapshot refits its feature transform, so last month's centres
    live in last month's space. Instead, every previous segment is
    represented by the mean *current* row of the customers who were in it
    and are still there; these centres are comparable with the current
    model's centres (also means of current rows).

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
        Current transformed features.
    customer_ids : array-like of shape (n_customers,)
        Identifier of each row of ``X``.
    previous : DataFrame
        The members of the earlier segments: ``customer_id``, ``segment_id``.
        A customer may appear once per segment (segments taken from
        different earlier snapshots). Outliers (``segment_id <= 0``) are
        skipped.

    Returns
    -------
    ids : ndarray of int64
        Previous segment ids with at least one customer still present, sorted.
    centers : ndarray of shape (len(ids), n_features)
        Their centres.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0]])
    >>> prev = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [4, 4, 9]})
    >>> ids, centers = membership_centers(X, ["a", "b", "c"], prev)
    >>> ids.tolist(), centers.tolist()
    ([4, 9], [[1.0, 0.0], [10.0, 0.0]])
    """
    X = np.asarray(X, dtype=float)
    current = pd.Index(customer_ids)
    if current.has_duplicates:
        raise ValueError("customer_ids has duplicates: one row of X per customer is expected")
    pairs = previous[["customer_id", "segment_id"]].drop_duplicates()
    rows = current.get_indexer(pairs["customer_id"])
    segment = pairs["segment_id"].to_numpy()
    keep = (rows >= 0) & (segment > OUTLIER_ID)
    rows = rows[keep]
    ids, codes = np.unique(segment[keep].astype(np.int64), return_inverse=True)
    sizes = np.bincount(codes, minlength=len(ids))
    centers = np.empty((len(ids), X.shape[1]))
    for j in range(X.shape[1]):  # one column at a time: no copy of the kept rows
        centers[:, j] = np.bincount(codes, weights=X[rows, j], minlength=len(ids))
    return ids, centers / sizes[:, None]


def carry_segment_ids(X, customer_ids, centers, previous=None, *, next_id=1, factor=0.5):
    """Ids for this snapshot's segments: the previous snapshot's where a segment is recognisably the same.

    The previous segments' centres in the current space
    (:func:`membership_centers`) are matched to ``centers`` by
    :func:`match_segments` with the cap :func:`default_max_distance`
    (``factor`` times their median nearest-centre spacing). Unmatched
    segments get ``next_id``, ``next_id + 1``, ...

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
        Current transformed features.
    customer_ids : array-like of shape (n_customers,)
        Identifier of each row of ``X``.
    centers : ndarray of shape (n_segments, n_features)
        The current model's segment centres (mean rows), in label order.
    previous : DataFrame, default=None
        Members of the earlier segments that may be matched
        (``customer_id``, ``segment_id``; see :func:`membership_centers`):
        the previous snapshot, possibly with segments last seen a few
        snapshots before. ``None`` or empty for the first snapshot.
    next_id : int, default=1
        First new id: the largest id ever used + 1, so that a retired id is
        never handed out again.
    factor : float, default=0.5
        See :func:`default_max_distance`.

    Returns
    -------
    ndarray of int64, shape (n_segments,)
        The id of each current segment.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.2, 0.0], [10.0, 0.0], [20.0, 5.0]])
    >>> prev = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [3, 3, 1]})
    >>> centers = np.array([[10.0, 0.0], [0.1, 0.0], [20.0, 5.0]])
    >>> carry_segment_ids(X, ["a", "b", "c", "d"], centers, prev, next_id=5).tolist()
    [1, 3, 5]
    """
    centers = _as_centers(centers, "centers")
    if previous is None or len(previous) == 0:
        return np.arange(next_id, next_id + len(centers), dtype=np.int64)
    ids, before = membership_centers(X, customer_ids, previous)
    cap = default_max_distance(before, factor) if len(ids) else None
    return match_segments(before, ids, centers, cap, next_id=next_id)


def carry_segment_names(ids, generated, previous_names):
    """Names for this snapshot's segments: a segment that kept its id keeps its name.

    New segments take their generated name; if a kept name already uses
    it, the id is appended so names stay unique within the snapshot.

    Parameters
    ----------
    ids : sequence of int
        Segment ids of this snapshot (from :func:`carry_segment_ids`).
    generated : sequence of str
        This snapshot's generated names, in the same order.
    previous_names : mapping of int to str
        Names of the previous snapshot's segments by id.

    Returns
    -------
    list of str

    Examples
    --------
    >>> carry_segment_names([1, 5], ["Big spenders", "Big spenders"], {1: "Loyal"})
    ['Loyal', 'Big spenders']
    >>> carry_segment_names([1, 5], ["Loyal", "Loyal"], {1: "Loyal"})
    ['Loyal', 'Loyal (5)']
    """
    kept = {previous_names[i] for i in ids if i in previous_names}
    return [previous_names[i] if i in previous_names else (f"{name} ({i})" if name in kept else name)
            for i, name in zip(ids, generated)]


# ---------------------------------------------------------------------------------------------------------
# Migration between snapshots
# ---------------------------------------------------------------------------------------------------------


def _codes(frame, customer_col, segment_col, name):
    missing = [c for c in (customer_col, segment_col) if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")
    if frame[customer_col].duplicated().any():
        raise ValueError(f"{name} has duplicated {customer_col!r} values: one row per customer is expected")
    if frame[segment_col].isna().any():
        raise ValueError(f"{name} has missing {segment_col!r} values")
    return frame[customer_col], frame[segment_col]


def _label_order(values):
    """Unique labels, sorted when they are mutually comparable, else in order of appearance."""
    uniques = pd.unique(values)
    try:
        return sorted(uniques.tolist())
    except TypeError:
        return uniques.tolist()


def transition_matrix(
    previous,
    current,
    from_snapshot,
    to_snapshot,
    *,
    customer_col="customer_id",
    segment_col="segment",
):
    """Customer migration between the segments of two snapshots.

    Every customer is counted exactly once. Customers present in both
    snapshots count in (their previous segment, their current segment);
    customers only in ``current`` count with ``from_segment = "(new)"``
    and customers only in ``previous`` with ``to_segment = "(gone)"``. Hence
    the customers of each ``from_segment`` add up to that segment's size in
    ``previous`` (``"(new)"``: the newcomers), those of each ``to_segment``
    to its size in ``current`` (``"(gone)"``: the churned), and the grand
    total is the number of distinct customers across both snapshots.

    ``share`` is row-normalised: customers / customers in ``from_segment``,
    so shares add up to 1 within each ``from_segment`` (the Markov migration
    matrix; its diagonal is each segment's retention).

    Parameters
    ----------
    previous, current : DataFrame
        One row per customer with ``customer_col`` and ``segment_col``.
        Segment labels can be anything hashable (cluster ids, RFM names)
        but must not be null or equal to ``"(new)"``/``"(gone)"``.
    from_snapshot, to_snapshot : scalar
        Snapshot identifiers (e.g. as-of dates) written on every row.
    customer_col : str, default="customer_id"
    segment_col : str, default="segment"

    Returns
    -------
    DataFrame
        Columns ``from_snapshot, to_snapshot, from_segment, to_segment,
        customers, share``; one row per observed (from, to) pair. Segment
        labels are returned as strings so that the ``"(new)"``/``"(gone)"``
        markers fit in the same column (and the table writes to any
        warehouse). Rows are sorted by from/to label (labels in their natural
        order, ``"(new)"`` and ``"(gone)"`` last).

    Examples
    --------
    >>> prev = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": [1, 1, 2]})
    >>> curr = pd.DataFrame({"customer_id": ["a", "b", "d"], "segment": [1, 2, 2]})
    >>> t = transition_matrix(prev, curr, "2025-11", "2025-12")
    >>> print(t[["from_segment", "to_segment", "customers", "share"]].to_string(index=False))
    from_segment to_segment  customers  share
               1          1          1    0.5
               1          2          1    0.5
               2     (gone)          1    1.0
           (new)          2          1    1.0
    """
    prev_ids, prev_seg = _codes(previous, customer_col, segment_col, "previous")
    curr_ids, curr_seg = _codes(current, customer_col, segment_col, "current")

    # Shared label codes for both snapshots; integer codes keep the 1M-row merge and group-by cheap.
    labels = _label_order(pd.concat([prev_seg, curr_seg], ignore_index=True))
    names = [str(label) for label in labels]
    if NEW in names or GONE in names:
        raise ValueError(f"segment labels must not be {NEW!r} or {GONE!r}")
    if len(set(names)) != len(names):
        raise ValueError("segment labels must stay distinct once converted to strings")
    lookup = pd.Index(labels)
    prev_code = lookup.get_indexer(prev_seg)
    curr_code = lookup.get_indexer(curr_seg)

    merged = pd.merge(
        pd.DataFrame({"customer": prev_ids.to_numpy(), "src": prev_code}),
        pd.DataFrame({"customer": curr_ids.to_numpy(), "dst": curr_code}),
        on="customer",
        how="outer",
        sort=False,
    )
    k = len(labels)
    # Code k stands for "(new)" on the from side and "(gone)" on the to side: both sort last.
    src = merged["src"].fillna(k).to_numpy(dtype=np.int64)
    dst = merged["dst"].fillna(k).to_numpy(dtype=np.int64)
    counts = np.bincount(src * (k + 1) + dst, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)

    from_code, to_code = np.nonzero(counts)  # row-major: sorted by from, then to
    cell = counts[from_code, to_code]
    row_total = counts.sum(axis=1)[from_code]
    from_names = np.array(names + [NEW], dtype=object)
    to_names = np.array(names + [GONE], dtype=object)
    return pd.DataFrame(
        {
            "from_snapshot": [from_snapshot] * len(cell),
            "to_snapshot": [to_snapshot] * len(cell),
            "from_segment": from_names[from_code],
            "to_segment": to_names[to_code],
            "customers": cell.astype(np.int64),
            "share": cell / row_total,
        },
        columns=TRANSITION_COLUMNS,
    )


# ---------------------------------------------------------------------------------------------------------
# Feature drift
# ---------------------------------------------------------------------------------------------------------


def _is_categorical(values):
    return not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))


def _psi_from_counts(expected_counts, actual_counts, epsilon):
    e = np.maximum(expected_counts / expected_counts.sum(), epsilon)
    a = np.maximum(actual_counts / actual_counts.sum(), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def _quantile_edges(values, bins):
    """Inner bin edges: the ``bins``-quantiles of ``values``, ties merged (a median when ``bins`` is 1)."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return edges if len(edges) else np.array([np.median(values)])


def population_stability_index(expected, actual, bins=10, *, epsilon=1e-4):
    """Population stability index (PSI) of ``actual`` against ``expected``.

    ``PSI = sum_b (a_b - e_b) * ln(a_b / e_b)`` over bins ``b``, where
    ``e_b`` and ``a_b`` are the shares of ``expected`` and ``actual`` in the
    bin. Conventional reading (credit scoring):

    - PSI < 0.1: stable;
    - 0.1 <= PSI <= 0.2: moderate shift, worth a look;
    - PSI > 0.2: significant shift.

    **Bins** are the ``bins``-quantiles of ``expected``, closed on the right
    (``(q_{i-1}, q_i]``), with open-ended first and last bins so every value
    of ``actual`` falls somewhere. Tied quantiles are merged, so a column with
    a point mass (e.g. 60 % zeros) gets one bin for the mass instead of
    several empty ones, and a constant column gets two bins (up to the
    constant, and above it). Missing values
    (NaN) form a bin of their own when either side has any, so a change in
    the missing rate counts as drift. Non-numeric input (strings,
    categories, booleans) is binned by category.

    **Empty bins**: shares are floored at ``epsilon`` before taking the log,
    which keeps the index finite when a bin is empty on one side.

    Parameters
    ----------
    expected : array-like
        Reference sample (e.g. last snapshot).
    actual : array-like
        Sample to compare (e.g. this snapshot).
    bins : int, default=10
        Number of quantile bins before ties are merged.
    epsilon : float, default=1e-4
        Floor on bin shares.

    Returns
    -------
    float
        The PSI (>= 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=20_000)
    >>> round(population_stability_index(x, rng.normal(size=20_000)), 3) < 0.01
    True
    >>> population_stability_index(x, rng.normal(1.0, 1.0, size=20_000)) > 0.2
    True
    """
    if not (isinstance(bins, numbers.Integral) and bins >= 1):
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    expected = pd.Series(np.asarray(expected).reshape(-1)) if not isinstance(expected, pd.Series) else expected
    actual = pd.Series(np.asarray(actual).reshape(-1)) if not isinstance(actual, pd.Series) else actual
    if len(expected) == 0 or len(actual) == 0:
        raise ValueError("expected and actual must both be non-empty")

    if _is_categorical(expected) or _is_categorical(actual):
        # Category shares; a category seen on one side only gets the epsilon floor on the other.
        both = pd.concat([expected.astype(object), actual.astype(object)], ignore_index=True)
        codes, levels = pd.factorize(both, use_na_sentinel=False)  # missing values: a level of their own
        e_counts = np.bincount(codes[: len(expected)], minlength=len(levels)).astype(float)
        a_counts = np.bincount(codes[len(expected):], minlength=len(levels)).astype(float)
        return _psi_from_counts(e_counts, a_counts, epsilon)

    e = expected.to_numpy(dtype=float)
    a = actual.to_numpy(dtype=float)
    e_nan, a_nan = np.isnan(e), np.isnan(a)
    e_valid, a_valid = e[~e_nan], a[~a_nan]
    edges = _quantile_edges(e_valid, bins) if len(e_valid) else np.array([0.0])
    n_bins = len(edges) + 1
    e_counts = np.bincount(np.searchsorted(edges, e_valid, side="left"), minlength=n_bins).astype(float)
    a_counts = np.bincount(np.searchsorted(edges, a_valid, side="left"), minlength=n_bins).astype(float)
    if e_nan.any() or a_nan.any():
        e_counts = np.append(e_counts, e_nan.sum())
        a_counts = np.append(a_counts, a_nan.sum())
    return _psi_from_counts(e_counts, a_counts, epsilon)


def feature_drift(previous, current, features=None, threshold=PSI_SIGNIFICANT, *, bins=10, epsilon=1e-4):
    """PSI of every feature between two snapshots.

    Parameters
    ----------
    previous, current : DataFrame
        The feature tables of the two snapshots (raw, readable features;
        rows need not be aligned or of equal number).
    features : list of str, default=None
        Columns to compare. ``None``: every column present in both frames
        except ``customer_id``.
    threshold : float, default=0.2
        PSI above which a feature is flagged ``drifted``. The conventional
        reading is PSI < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant
        (see :func:`population_stability_index`); lower the threshold to
        0.1 to also flag moderate shifts.
    bins : int, default=10
        Quantile bins per numeric feature.
    epsilon : float, default=1e-4
        Floor on bin shares.

    Returns
    -------
    DataFrame
        Columns ``feature, psi, drifted``, in the order of ``features``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)})
    >>> b = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(2.0, 1.0, size=5000)})
    >>> feature_drift(a, b)["drifted"].tolist()
    [False, True]
    """
    if features is None:
        features = [c for c in previous.columns if c in current.columns and c != "customer_id"]
    missing = [f for f in features if f not in previous.columns or f not in current.columns]
    if missing:
        raise ValueError(f"features missing from previous or current: {missing}")
    psi = np.array(
        [population_stability_index(previous[f], current[f], bins=bins, epsilon=epsilon) for f in features],
        dtype=float,
    )
    return pd.DataFrame({"feature": list(features), "psi": psi, "drifted": psi > threshold})


def numeric_columns(frame, id_column="customer_id", exclude=()):
    """The numeric (not boolean) columns of ``frame`` other than the id and ``exclude``, in the frame's order: those
    drift is measured on, and the meta-learning models' inputs."""
    return [c for c in frame.columns if c != id_column and c not in exclude and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]


def feature_bins(frame, features, bins=10):
    """Decile bins of numeric features and how many rows fall in each: a snapshot's distribution, kept small.

    The bins are those of :func:`population_stability_index` (quantiles of
    this snapshot, ties merged, closed on the right, open-ended first and
    last bins), so :func:`drift_from_bins` against them gives the same PSI
    as comparing the raw columns.

    Parameters
    ----------
    frame : DataFrame
        One row per customer.
    features : list of str
        Numeric columns without missing values.
    bins : int, default=10
        Quantile bins per feature before ties are merged.

    Returns
    -------
    DataFrame
        Columns ``feature, bin, lower_edge, upper_edge, customers``; a bin
        holds the values in ``(lower_edge, upper_edge]``, NaN edges are open.

    Examples
    --------
    >>> feature_bins(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), ["x"], bins=2)
    ... # doctest: +NORMALIZE_WHITESPACE
      feature  bin  lower_edge  upper_edge  customers
    0       x    0         NaN         2.5          2
    1       x    1         2.5         NaN          2
    """
    parts = []
    for feature in features:
        values = frame[feature].to_numpy(dtype=float)
        if np.isnan(values).any():
            raise ValueError(f"feature {feature!r} has missing values")
        edges = _quantile_edges(values, bins)
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        parts.append(pd.DataFrame({
            "feature": feature,
            "bin": np.arange(len(counts), dtype=np.int64),
            "lower_edge": np.r_[np.nan, edges],
            "upper_edge": np.r_[edges, np.nan],
            "customers": counts.astype(np.int64),
        }))
    return pd.concat(parts, ignore_index=True)


def drift_from_bins(reference, current, threshold=PSI_SIGNIFICANT, *, epsilon=1e-4):
    """PSI of each feature of ``current`` against a reference kept by :func:`feature_bins`.

    Parameters
    ----------
    reference : DataFrame
        Output of :func:`feature_bins` for the earlier snapshot.
    current : DataFrame
        The later snapshot, one row per customer, with every reference feature.
    threshold : float, default=0.2
        PSI above which a feature counts as drifted (see :func:`feature_drift`).
    epsilon : float, default=1e-4
        Floor on bin shares.

    Returns
    -------
    DataFrame
        Columns ``feature, psi, drifted``, in the reference's feature order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> before = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)})
    >>> after = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(2.0, 1.0, size=5000)})
    >>> drift_from_bins(feature_bins(before, ["x", "y"]), after)["drifted"].tolist()
    [False, True]
    """
    rows = []
    for feature, bins in reference.groupby("feature", sort=False):
        if feature not in current.columns:
            raise ValueError(f"feature {feature!r} of the reference is missing from current")
        bins = bins.sort_values("bin")
        edges = bins["upper_edge"].to_numpy(dtype=float)[:-1]
        values = current[feature].to_numpy(dtype=float)
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        rows.append((feature, _psi_from_counts(bins["customers"].to_numpy(dtype=float), counts.astype(float), epsilon)))
    psi = np.array([p for _, p in rows], dtype=float)
    return pd.DataFrame({"feature": [f for f, _ in rows], "psi": psi, "drifted": psi > threshold})
