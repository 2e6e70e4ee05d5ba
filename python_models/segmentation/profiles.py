"""Segment profiles: sizes, means, lifts, effect sizes and readable names.

Everything here works on the *raw* ``customer_features`` table plus a vector
of segment labels, so profiles can be built for any segmentation.

* **Means and lifts** are on the raw scale (orders, currency, days), which
  is what business users read: ``lift_<f> = segment mean / population mean``.
* **Effect sizes** (which features make a segment distinctive) are Cohen's
  d of the segment versus the rest of the customers, computed on the
  *skew-corrected* features: columns whose values are not all within
  ``[-1, 1]`` (counts, money, durations) go through the signed ``log1p`` of
  :func:`~python_models.segmentation.features.signed_log1p`; bounded shares,
  rates and trends are used as they are; categorical columns become 0/1
  level indicators (``"region=north"``). On the raw scale a handful of
  extreme spenders would inflate the pooled standard deviation and hide
  real differences. The effect sizes are independent of the block weights
  of the clustering.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .features import (
    CATEGORY_PREFIX,
    CHANNEL_PREFIX,
    _as_levels,
    _as_name_set,
    _is_numeric_series,
    signed_log1p,
)
from .model_selection import NOISE_LABEL

__all__ = [
    "KEY_FEATURES",
    "NOISE_LABEL",
    "OUTLIER_NAME",
    "profile_segments",
    "segment_effect_sizes",
    "slot_label",
]

#: Features whose segment means and lifts are reported (when present).
KEY_FEATURES = (
    "order_count",
    "frequency",
    "net_revenue",
    "avg_order_value",
    "items_per_order",
    "days_since_last_order",
    "tenure_days",
    "interpurchase_days_mean",
    "return_rate",
    "spend_last_90d",
    "spend_trend",
    "distinct_categories",
    "days_since_signup",
)

#: Name of the profile row of the unassigned customers (label :data:`NOISE_LABEL`).
OUTLIER_NAME = "Unassigned (outliers)"

#: Cap on |Cohen's d| (reached when a feature separates a segment perfectly).
MAX_EFFECT = 100.0

#: Levels of categorical columns never used in names.
_UNINFORMATIVE_LEVELS = {"unknown", "infrequent", "other", "nan", "none", ""}


def slot_label(column, slot_labels=None):
    """Readable label of a category/channel slot column.

    Parameters
    ----------
    column : str
        Column name such as ``"channel_share_02"``.
    slot_labels : dict of str to str, default=None
        Explicit labels, e.g. ``{"channel_share_02": "app"}``.

    Returns
    -------
    str
        The explicit label if given, else ``"channel 02"``,
        ``"other channels"``, ``"category 03"`` ... and the column name
        itself for other columns.

    Examples
    --------
    >>> slot_label("channel_share_02", {"channel_share_02": "app"})
    'app'
    >>> slot_label("category_share_03")
    'category 03'
    >>> slot_label("channel_share_other")
    'other channels'
    """
    if slot_labels and column in slot_labels:
        return str(slot_labels[column])
    for prefix, noun in ((CATEGORY_PREFIX, "category"), (CHANNEL_PREFIX, "channel")):
        if column.startswith(prefix):
            slot = column[len(prefix):]
            if slot == "other":
                return "other categories" if noun == "category" else "other channels"
            return f"{noun} {slot}"
    return column


def _split_columns(features, id_columns):
    ids = _as_name_set(id_columns)
    numeric, categorical = [], []
    for c in features.columns:
        if c in ids:
            continue
        if _is_numeric_series(features[c]):
            numeric.append(c)
        else:
            categorical.append(c)
    return numeric, categorical


def _effect_matrix(features, numeric, categorical, min_level_share):
    """Skew-corrected numeric columns + categorical level indicators."""
    raw = features[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
    if raw.size and not np.isfinite(raw).all():
        bad = [c for c, ok in zip(numeric, np.isfinite(raw).all(axis=0)) if not ok]
        raise ValueError(f"features contain NaN or infinity in column(s) {bad}.")
    z = raw.copy()
    if raw.size:
        unbounded = (raw.min(axis=0) < -1) | (raw.max(axis=0) > 1)
        z[:, unbounded] = signed_log1p(raw[:, unbounded])
    names = list(numeric)
    parts = [z]
    for c in categorical:
        values = _as_levels(features[c])
        share = values.value_counts(normalize=True)
        levels = sorted(str(v) for v in share[share >= min_level_share].index)
        if not levels:
            continue
        codes = pd.Index(levels).get_indexer(values)
        ind = np.zeros((len(values), len(levels)))
        known = codes >= 0
        ind[np.flatnonzero(known), codes[known]] = 1.0
        parts.append(ind)
        names += [f"{c}={lv}" for lv in levels]
    return raw, np.hstack(parts), names


def _group_stats(codes, n_groups, x):
    """Per-group sums and sums of squares of the columns of ``x``."""
    x = np.asfortranarray(x)
    sums = np.empty((n_groups, x.shape[1]))
    sumsq = np.empty_like(sums)
    for j in range(x.shape[1]):
        col = x[:, j]
        sums[:, j] = np.bincount(codes, weights=col, minlength=n_groups)
        sumsq[:, j] = np.bincount(codes, weights=col * col, minlength=n_groups)
    return sums, sumsq


def _cohens_d(codes, n_groups, z):
    """Cohen's d (pooled SD) of each group versus all other rows."""
    n = z.shape[0]
    z = z - z.mean(axis=0)  # centring improves the sum-of-squares accuracy
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)[:, None]
    sums, sumsq = _group_stats(codes, n_groups, z)
    tot, totsq = z.sum(axis=0), (z * z).sum(axis=0)
    n_rest = n - counts
    mean_s = sums / counts
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_r = np.where(n_rest > 0, (tot - sums) / n_rest, 0.0)
    ss_s = sumsq - counts * mean_s**2
    ss_r = (totsq - sumsq) - n_rest * mean_r**2
    pooled = np.maximum(ss_s + ss_r, 0.0) / max(n - 2, 1)
    sd = np.sqrt(pooled)
    diff = mean_s - mean_r
    # within-group spread that is only rounding noise: the feature separates
    # segment and rest perfectly (|d| = MAX_EFFECT) or not at all (0)
    tiny = 1e-9 * np.sqrt(totsq / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(
            sd > tiny,
            diff / sd,
            np.where(np.abs(diff) > tiny, np.sign(diff) * MAX_EFFECT, 0.0),
        )
    d = np.where(n_rest > 0, np.clip(d, -MAX_EFFECT, MAX_EFFECT), 0.0)
    return d


def _encode_labels(labels, n):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"labels must be 1-d with one entry per row of features ({n}), "
            f"got shape {labels.shape}."
        )
    if n == 0:
        raise ValueError("features is empty.")
    segment_ids, codes = np.unique(labels, return_inverse=True)
    return segment_ids, codes.astype(np.intp)


def segment_effect_sizes(
    features, labels, *, id_columns=("customer_id",), min_level_share=0.01
):
    """Cohen's d of every segment versus the rest, for every feature.

    Parameters
    ----------
    features : DataFrame
        Raw ``customer_features`` (one row per customer).
    labels : array-like of shape (n_customers,)
        Segment of each row.
    id_columns : tuple of str, default=("customer_id",)
        Columns ignored.
    min_level_share : float, default=0.01
        Categorical levels rarer than this are not scored.

    Returns
    -------
    DataFrame
        Index: segment ids (sorted); columns: numeric features and
        ``"<column>=<level>"`` indicators of categorical ones. Computed on the
        skew-corrected scale described in the module docstring, with the
        pooled standard deviation of segment and rest; capped at
        +/-``MAX_EFFECT`` (100), which is also the value for a perfect
        separation (no spread within segment and rest); 0 for a constant
        feature.

    Examples
    --------
    >>> df = pd.DataFrame({"return_rate": [0.0, 0.2, 0.4, 0.6]})
    >>> d = segment_effect_sizes(df, [0, 0, 1, 1])
    >>> d["return_rate"].round(3).tolist()  # (0.1 - 0.5) / sqrt(0.04 / 2)
    [-2.828, 2.828]
    """
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a pandas DataFrame.")
    segment_ids, codes = _encode_labels(labels, len(features))
    numeric, categorical = _split_columns(features, id_columns)
    _, z, names = _effect_matrix(features, numeric, categorical, min_level_share)
    d = _cohens_d(codes, len(segment_ids), z)
    return pd.DataFrame(d, index=pd.Index(segment_ids, name="segment_id"), columns=names)


# ----------------------------------------------------------------- naming
# A concept is one readable trait. For a segment its score is the Cohen's d
# of its most extreme feature. ``slot`` is its place in the name (one concept
# per slot). The list order is the naming priority used among traits whose
# effect is at least NAME_EFFECT_CAP.
_CONCEPTS = [
    # key, features, slot, phrase if d > 0, phrase if d < 0
    ("recency", ("days_since_last_order",), "lifecycle", "lapsed", "active"),
    ("tenure", ("tenure_days", "days_since_signup"), "lifecycle", "long-standing", "new"),
    ("frequency", ("order_count", "frequency"), "frequency", "frequent", "_low_frequency"),
    ("value", ("net_revenue",), "value", "high spend", "low spend"),
    ("ticket", ("avg_order_value",), "ticket", "big-ticket", "low-ticket"),
    ("channel", None, "channel", None, None),  # best positive channel slot
    ("category", None, "category", None, None),  # best positive category slot
    ("returns", ("return_rate",), "returns", "high returns", "few returns"),
    ("trend", ("spend_trend",), "trend", "rising spend", "falling spend"),
    ("basket", ("items_per_order",), "basket", "large baskets", "small baskets"),
    # "wide-range", not "multi-category": on a shop without categories only the products say it
    ("breadth", ("distinct_categories", "distinct_products"), "breadth", "wide-range", None),
]
# where a trait goes in "<adjectives> buyers of <category>, <qualifiers>"
_ADJECTIVE_POSITIONS = ("lifecycle", "frequency", "ticket", "breadth", "channel")
_QUALIFIER_POSITIONS = (
    "value", "returns", "trend", "basket", "channel_lean", "category_lean", "demographic",
)
_BUYER_POSITIONS = {"frequency", "ticket", "breadth", "channel", "category"}

#: Effects beyond this ``|d|`` ("very large", Sawilowsky 2009) count as equal
#: when ranking traits for a name; ties follow the concept priority.
NAME_EFFECT_CAP = 1.2


def _demographic_phrase(column, level):
    if column == "age_band":
        return f"aged {level}"
    if column == "region":
        return f"in {level}"
    return f"{column} {level}"


def _slot_traits(key, priority, d_row, names, col, means_row, slot_labels, min_effect):
    """Channel/category trait: the slot the segment over-uses most.

    Named as the segment's channel/category ("app buyers", "buyers of
    Books") when it is also the slot with the largest mean share, else as a
    lean ("Books-leaning"). If no slot is over-used by ``min_effect``, the
    named slot the segment avoids most ("low app share").
    """
    prefix = CHANNEL_PREFIX if key == "channel" else CATEGORY_PREFIX
    # an `unknown` slot means the data has no such column: nothing to name a segment after
    slots = [n for n in names if n.startswith(prefix) and slot_label(n, slot_labels).lower() != "unknown"]
    if not slots:
        return []
    f = max(slots, key=lambda f: (d_row[col[f]], f))
    label = slot_label(f, slot_labels)
    if d_row[col[f]] >= min_effect:
        top_share = max(slots, key=lambda s: (means_row.get(s, -np.inf), s))
        if top_share == f:
            return [(d_row[col[f]], priority, key, label, key)]
        return [(d_row[col[f]], priority, key, f"{label}-leaning", f"{key}_lean")]
    named = [n for n in slots if not n.endswith("_other")]
    if named:
        f = min(named, key=lambda f: (d_row[col[f]], f))
        if d_row[col[f]] < 0:
            phrase = f"low {slot_label(f, slot_labels)} share"
            return [(-d_row[col[f]], priority, key, phrase, f"{key}_lean")]
    return []


def _segment_traits(d_row, names, means_row, slot_labels, min_effect):
    """Candidate traits of one segment as (|d|, priority, slot, phrase, position)."""
    col = {n: i for i, n in enumerate(names)}
    traits = []
    for priority, (key, feats, slot, pos, neg) in enumerate(_CONCEPTS):
        if feats is None:
            traits += _slot_traits(
                key, priority, d_row, names, col, means_row, slot_labels, min_effect
            )
            continue
        present = [f for f in feats if f in col]
        if not present:
            continue
        f = max(present, key=lambda f: (abs(d_row[col[f]]), -feats.index(f)))
        d = d_row[col[f]]
        phrase = pos if d > 0 else neg
        if phrase == "_low_frequency":
            oc = means_row.get("order_count", np.nan)
            phrase = "one-off" if oc <= 1.5 else "occasional"
        if phrase is None or d == 0:
            continue
        traits.append((abs(d), priority, slot, phrase, slot))
    base = len(_CONCEPTS)
    for j, n in enumerate(names):
        if "=" in n and d_row[j] > 0:
            c, level = n.split("=", 1)
            if level.strip().lower() not in _UNINFORMATIVE_LEVELS:
                phrase = _demographic_phrase(c, level)
                traits.append((d_row[j], base + j, "demographic", phrase, "demographic"))
    return traits


def _select_traits(traits, n_traits, min_effect):
    """Pick up to ``n_traits`` traits with ``|d| >= min_effect``, one per slot.

    Each slot is represented by its largest-``|d|`` trait (so "new" beats
    "active" for a lifecycle when tenure is the stronger signal). The most
    distinctive trait overall always comes first; the others follow by
    ``min(|d|, NAME_EFFECT_CAP)``, ties by concept priority.
    """
    best_in_slot = {}
    for t in traits:  # one candidate per slot: its largest |d|
        if t[0] >= min_effect:
            cur = best_in_slot.get(t[2])
            if cur is None or (-t[0], t[1]) < (-cur[0], cur[1]):
                best_in_slot[t[2]] = t
    eligible = list(best_in_slot.values())
    if not eligible or n_traits < 1:
        return []
    first = min(eligible, key=lambda t: (-t[0], t[1]))
    rest = sorted(eligible, key=lambda t: (-min(t[0], NAME_EFFECT_CAP), t[1]))
    chosen, used = [first], {first[2]}
    for t in rest:
        if len(chosen) >= n_traits:
            break
        if t[2] not in used:
            chosen.append(t)
            used.add(t[2])
    return chosen


def _compose_name(chosen):
    if not chosen:
        return "Average customers"
    at = {t[4]: t[3] for t in chosen}
    words = [at[p] for p in _ADJECTIVE_POSITIONS if p in at]
    noun = "buyers" if _BUYER_POSITIONS & at.keys() else "customers"
    name = " ".join(words + [noun])
    if "category" in at:
        name += f" of {at['category']}"
    quals = [at[p] for p in _QUALIFIER_POSITIONS if p in at]
    if quals:
        name += ", " + ", ".join(quals)
    return name[0].upper() + name[1:]


def _unique_names(all_traits, max_traits, min_effect, fallback_effect):
    """Names with as few traits as possible, extended until unique."""
    counts = [max_traits] * len(all_traits)
    chosen = []
    for traits in all_traits:
        c = _select_traits(traits, max_traits, min_effect)
        if not c:
            c = _select_traits(traits, 1, fallback_effect)
        chosen.append(c)
    names = [_compose_name(c) for c in chosen]
    max_extra = max((len(t) for t in all_traits), default=0)
    for _ in range(max_extra):
        dup = pd.Series(names).duplicated(keep=False).to_numpy()
        if not dup.any():
            break
        changed = False
        for i in np.flatnonzero(dup):
            counts[i] += 1
            c = _select_traits(all_traits[i], counts[i], fallback_effect)
            if len(c) > len(chosen[i]):
                chosen[i], names[i] = c, _compose_name(c)
                changed = True
        if not changed:
            break
    seen = {}
    for i, nm in enumerate(names):
        if nm in seen:
            seen[nm] += 1
            names[i] = f"{nm} ({seen[nm]})"
        else:
            seen[nm] = 1
    return names


def _format_feature(name, d, slot_labels):
    label = slot_label(name, slot_labels)
    shown = name if label == name else f"{name} [{label}]"
    return f"{shown} {d:+.2f}"


def profile_segments(
    features,
    labels,
    slot_labels=None,
    *,
    id_columns=("customer_id",),
    key_features=KEY_FEATURES,
    min_effect=0.5,
    max_name_traits=3,
    min_level_share=0.01,
    noise_label=NOISE_LABEL,
):
    """One-row-per-segment profile with lifts, effect sizes and a name.

    Parameters
    ----------
    features : DataFrame
        Raw ``customer_features`` (one row per customer).
    labels : array-like of shape (n_customers,)
        Segment of each row (any sortable ids, e.g. ``ModelSelector.labels_``).
    slot_labels : dict of str to str, default=None
        Readable names of the slot columns, e.g.
        ``{"category_share_01": "Electronics", "channel_share_02": "app"}``;
        used in ``top_category``/``top_channel``, ``top_features`` and
        names. Unlabelled slots read ``"category 01"``, ``"channel 02"``.
    id_columns : tuple of str, default=("customer_id",)
        Columns ignored.
    key_features : sequence of str, default=KEY_FEATURES
        Numeric features whose segment mean and lift are reported (those
        absent from ``features`` are skipped).
    min_effect : float, default=0.5
        Smallest ``|d|`` (a "medium" effect) for a trait to enter a name.
    max_name_traits : int, default=3
        Traits per name, before disambiguation.
    min_level_share : float, default=0.01
        Categorical levels rarer than this are not scored.
    noise_label : int or None, default=-1
        Label of the customers the model left unassigned (HDBSCAN's noise).
        Their row is profiled like any segment (size, means, lifts, top
        features) but named :data:`OUTLIER_NAME`, ``"Unassigned
        (outliers)"``, and takes no part in naming the real segments
        (their names are de-duplicated among themselves only). ``None``:
        every label is a real segment.

    Returns
    -------
    DataFrame
        One row per segment, ordered by ``segment_id`` (so the outlier row,
        ``-1``, comes first), with columns:

        * ``segment_id``, ``segment_name``, ``size``, ``share``;
        * the segment mean of every key feature (same column name);
        * ``top_category``/``top_channel`` (slot with the largest mean share
          in the segment) and ``top_category_share``/``top_channel_share``;
        * ``top_<col>``/``top_<col>_share``: most common level of each
          categorical column;
        * ``lift_<f>`` = segment mean / population mean for each key feature
          and for the top category/channel share (NaN where the population
          mean is not positive);
        * ``top_features``: the 3 features with the largest ``|d|``, as
          ``"name [label] +1.23"`` joined by ``"; "``.

    Notes
    -----
    **Effect sizes**: Cohen's d of segment versus rest with the pooled
    standard deviation, on the skew-corrected features (see the module
    docstring and :func:`segment_effect_sizes`).

    **Names** are built from *concepts*: recency (``Lapsed``/``Active``),
    tenure (``New``/``Long-standing``), frequency
    (``Frequent``/``Occasional``/``One-off`` when the segment averages at
    most 1.5 orders), ticket size (``Big-ticket``/``Low-ticket``), breadth
    (``Multi-category``), channel and category (the slot with the largest
    positive d, by its label: ``app buyers``/``buyers of Books`` when it is
    also the segment's largest share, else ``Books-leaning``; if no slot
    reaches ``min_effect``, the named slot with the most negative d as
    ``low app share``), spend
    (``high spend``/``low spend``), returns,
    spend trend, basket size and demographic levels. A concept's score is
    the d of its most extreme feature; each position in the name keeps its
    strongest concept. Up to ``max_name_traits`` concepts with
    ``|d| >= min_effect`` are used: the most distinctive one first, then by
    ``min(|d|, 1.2)`` (effects beyond "very large" count as equal) with ties
    in the priority order lifecycle, frequency, spend, ticket, channel,
    category, returns, trend, basket, breadth, demographics. They are
    composed as ``"<lifecycle> <frequency> <ticket> <breadth> <channel>
    buyers of <category>, <qualifiers>"`` (``customers`` when no
    buying-pattern trait is present), e.g. ``"Active frequent app buyers"``,
    ``"Lapsed one-off buyers of Books"`` or ``"Big-ticket store buyers, high
    spend"``. A segment with no trait above
    ``min_effect`` uses its single strongest trait if ``|d| >= 0.2``, else
    ``"Average customers"``. If names collide, the colliding segments take
    additional traits (down to ``|d| >= 0.2``) until they differ; remaining
    duplicates get `` (2)``, `` (3)`` ... in segment order.

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "order_count": [1, 1, 9, 11],
    ...     "net_revenue": [10.0, 30.0, 300.0, 460.0],
    ...     "days_since_last_order": [300, 200, 5, 15],
    ... })
    >>> prof = profile_segments(df, [0, 0, 1, 1])
    >>> prof[["segment_id", "size", "share", "order_count", "lift_order_count"]]
       segment_id  size  share  order_count  lift_order_count
    0           0     2    0.5          1.0          0.181818
    1           1     2    0.5         10.0          1.818182
    >>> prof["segment_name"].tolist()
    ['Lapsed one-off buyers, low spend', 'Active frequent buyers, high spend']

    Customers a model left unassigned (label -1) get their own row:

    >>> prof = profile_segments(df.iloc[[0, 1, 2, 3, 0]], [0, 0, 1, 1, -1])
    >>> prof[["segment_id", "segment_name", "size"]]
       segment_id                        segment_name  size
    0          -1               Unassigned (outliers)     1
    1           0    Lapsed one-off buyers, low spend     2
    2           1  Active frequent buyers, high spend     2
    """
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a pandas DataFrame.")
    segment_ids, codes = _encode_labels(labels, len(features))
    n, g = len(features), len(segment_ids)
    numeric, categorical = _split_columns(features, id_columns)
    raw, z, eff_names = _effect_matrix(features, numeric, categorical, min_level_share)
    d = _cohens_d(codes, g, z)

    counts = np.bincount(codes, minlength=g)
    sums, _ = _group_stats(codes, g, raw)
    seg_mean = sums / counts[:, None]
    pop_mean = raw.mean(axis=0)
    col = {c: i for i, c in enumerate(numeric)}

    def lift(seg, pop):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pop > 0, seg / pop, np.nan)

    out = pd.DataFrame(
        {
            "segment_id": segment_ids,
            "segment_name": "",
            "size": counts.astype(np.int64),
            "share": counts / n,
        }
    )
    keys = [f for f in key_features if f in col]
    for f in keys:
        out[f] = seg_mean[:, col[f]]
    lifts = {f"lift_{f}": lift(seg_mean[:, col[f]], pop_mean[col[f]]) for f in keys}

    for prefix, what in ((CATEGORY_PREFIX, "category"), (CHANNEL_PREFIX, "channel")):
        slots = [c for c in numeric if str(c).startswith(prefix)]
        if not slots:
            continue
        idx = np.array([col[c] for c in slots])
        best = np.argmax(seg_mean[:, idx], axis=1)
        best_col = idx[best]
        out[f"top_{what}"] = [slot_label(slots[b], slot_labels) for b in best]
        out[f"top_{what}_share"] = seg_mean[np.arange(g), best_col]
        lifts[f"lift_top_{what}_share"] = lift(
            seg_mean[np.arange(g), best_col], pop_mean[best_col]
        )

    for c in categorical:
        values = _as_levels(features[c])
        ct = pd.crosstab(codes, values.to_numpy())
        top = ct.idxmax(axis=1)  # ties: first level in sorted order
        out[f"top_{c}"] = top.reindex(range(g)).to_numpy()
        out[f"top_{c}_share"] = (ct.max(axis=1) / ct.sum(axis=1)).reindex(range(g)).to_numpy()

    for k, v in lifts.items():
        out[k] = v

    top_features = []
    for i in range(g):
        order = sorted(range(len(eff_names)), key=lambda j: (-abs(d[i, j]), j))[:3]
        top_features.append(
            "; ".join(_format_feature(eff_names[j], d[i, j], slot_labels) for j in order)
        )
    out["top_features"] = top_features

    means_by_seg = [dict(zip(numeric, seg_mean[i])) for i in range(g)]
    named = [i for i in range(g) if noise_label is None or segment_ids[i] != noise_label]
    traits = [
        _segment_traits(d[i], eff_names, means_by_seg[i], slot_labels, min_effect)
        for i in named
    ]
    names = np.full(g, OUTLIER_NAME, dtype=object)
    names[named] = _unique_names(traits, max_name_traits, min_effect, 0.2)
    out["segment_name"] = names
    return out
