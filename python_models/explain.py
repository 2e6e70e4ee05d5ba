"""Readable rules that describe K-Means segments.

K-Means segments live in a transformed, standardised space that nobody can
read. :func:`surrogate_rules` fits a shallow decision tree on the *raw*
features (days since last order, order count, channel shares, region...) to
predict the segments, and turns its leaves into short rules such as::

    days_since_last_order ≤ 30 and order_count > 12 and app share > 0.6

with, for each rule, how pure it is (``precision``) and how much of its
segment it describes (``coverage``). ``fidelity`` (share of customers whose
rule names their segment) says how far the rules can be trusted as a
description of the segmentation as a whole.

Pure numpy / pandas / scikit-learn: DataFrames and arrays in and out.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

__all__ = ["RULE_COLUMNS", "SurrogateRules", "surrogate_rules"]

RULE_COLUMNS = ["segment", "rule", "precision", "coverage", "support"]
#: Rule text of a tree without any split (a single segment).
ALL_CUSTOMERS = "(all customers)"
#: Level given to missing values of categorical features.
MISSING_LEVEL = "(missing)"


@dataclass(frozen=True)
class SurrogateRules:
    """Result of :func:`surrogate_rules`.

    Attributes
    ----------
    rules : DataFrame
        One row per rule: ``segment`` (label as given), ``rule`` (text),
        ``precision`` (share of the customers matching the rule that are in
        the segment), ``coverage`` (share of the segment's customers that
        match the rule) and ``support`` (customers matching the rule). Rules
        are sorted by segment, then by decreasing coverage; the rules of a
        segment are disjoint, so their coverages add up to the segment's
        recall.
    fidelity : float
        Share of all rows whose segment is the one their rule predicts
        (accuracy of the rules, as printed, against the segment labels).
    tree : DecisionTreeClassifier
        The fitted surrogate (on the encoded columns ``feature_names``).
    feature_names : list of str
        Columns of the tree's input: numeric features as they are, then one
        ``"column=level"`` indicator per level of each categorical feature.
    segments_without_rule : list
        Segments that no leaf predicts (too small or too mixed for a tree of
        this depth); they have no row in ``rules``.
    """

    rules: pd.DataFrame
    fidelity: float
    tree: DecisionTreeClassifier
    feature_names: list = field(default_factory=list)
    segments_without_rule: list = field(default_factory=list)

    def to_text(self):
        """The rules as plain text, one line per rule.

        Examples
        --------
        >>> X = pd.DataFrame({"orders": [1, 2, 3, 10, 11, 12]})
        >>> print(surrogate_rules(X, [0, 0, 0, 1, 1, 1], min_samples_leaf=1).to_text())
        fidelity 1.000
        0: orders ≤ 6  (precision 1.00, coverage 1.00, support 3)
        1: orders > 6  (precision 1.00, coverage 1.00, support 3)
        """
        lines = [f"fidelity {self.fidelity:.3f}"]
        for row in self.rules.itertuples(index=False):
            lines.append(
                f"{row.segment}: {row.rule}  (precision {row.precision:.2f}, "
                f"coverage {row.coverage:.2f}, support {row.support})"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------------------


def _is_numeric(s):
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _encode(features, feature_names, max_levels):
    """float64 matrix for the tree, per encoded column (source column, level or None), and the level
    sets of the categorical columns whose levels were all encoded.

    float64, not the tree's float32: rules are evaluated on it, and a share of exactly 0.6 must satisfy
    "≤ 0.6" as it does in the raw data (float32(0.6) > 0.6).
    """
    numeric = [c for c in feature_names if _is_numeric(features[c])]
    categorical = [c for c in feature_names if c not in numeric]
    meta, complete, indicators = [(c, None) for c in numeric], {}, []
    for c in categorical:
        values = features[c].astype(object).where(features[c].notna(), MISSING_LEVEL).astype(str)
        codes, levels = pd.factorize(values)
        counts = np.bincount(codes, minlength=len(levels))
        # Most frequent levels first (ties by name) so that the cap keeps the ones that matter.
        order = sorted(range(len(levels)), key=lambda j: (-counts[j], levels[j]))[:max_levels]
        meta += [(c, levels[j]) for j in order]
        indicators += [(codes, j) for j in order]
        if len(order) == len(levels):  # every level encoded: "≠ True" can read "= False"
            complete[c] = frozenset(levels[j] for j in order)
    # Filled column by column into one Fortran-ordered block: no temporary copies of the whole table,
    # and the per-feature comparisons that evaluate the rules read contiguous memory.
    X = np.empty((len(features), len(meta)), dtype=np.float64, order="F")
    for i, c in enumerate(numeric):
        X[:, i] = features[c].to_numpy(dtype=np.float64)
    for i, (codes, j) in enumerate(indicators, start=len(numeric)):
        X[:, i] = codes == j
    if numeric:
        finite = np.isfinite(X[:, : len(numeric)]).all(axis=0)
        if not finite.all():
            bad = [c for c, ok in zip(numeric, finite) if not ok]
            raise ValueError(f"numeric features contain NaN or infinite values (impute first): {bad}")
    return X, meta, complete


# ---------------------------------------------------------------------------------------------------------
# Rules: structure, rounded thresholds, text, membership
# ---------------------------------------------------------------------------------------------------------


def _effective_leaves(tree_):
    """Leaves after collapsing sibling leaves that predict the same class (predictions are unchanged).

    Returns a list of ``(path, class)``, ``path`` being the ``(split node, goes left)`` pairs from the root.
    """
    left, right = tree_.children_left, tree_.children_right
    cls = tree_.value[:, 0, :].argmax(axis=1)
    collapsed = np.zeros(tree_.node_count, dtype=bool)

    def settle(node):  # post-order; depth <= max_depth, so recursion is shallow
        if left[node] < 0:
            collapsed[node] = True
            return
        settle(left[node])
        settle(right[node])
        # Both halves predict the same class: the parent's argmax is that class too, so merge them.
        if collapsed[left[node]] and collapsed[right[node]] and cls[left[node]] == cls[right[node]]:
            collapsed[node] = True

    settle(0)
    leaves = []

    def walk(node, path):
        if collapsed[node]:
            leaves.append((path, int(cls[node])))
        else:
            walk(left[node], path + [(node, True)])
            walk(right[node], path + [(node, False)])

    walk(0, [])
    return leaves


def _roundings(t, k):
    """``t`` rounded to a multiple of ``10**k``: to nearest, down and up.

    Scaling by an exact power of ten (never by 0.1, which is inexact) keeps the results short when
    printed (0.3, not 0.30000000000000004); ``+ 0.0`` turns -0.0 into 0.0.
    """
    if k >= 0:
        p = 10.0**k
        return tuple(float(f(t / p) * p) + 0.0 for f in (np.round, np.floor, np.ceil))
    p = 10.0**-k
    return tuple(float(f(t * p) / p) + 0.0 for f in (np.round, np.floor, np.ceil))


def _simplest_threshold(t, values, allowed):
    """Coarsest rounding ``r`` of ``t`` that moves at most ``allowed`` of ``values`` across the split.

    ``values`` are the sorted values, at the split, of the fitted rows that reach it. Roundings are tried
    to multiples of 10**k from the data's magnitude down, so a split at -0.00008 of a feature spread over
    [-4, 4] reads 0. Among equally coarse roundings the one moving fewest rows wins: an integer feature
    split at 365.5 reads 365 (exact), not 366.
    """
    side_t = int(np.searchsorted(values, t, side="right"))
    scale = max(abs(float(values[0])), abs(float(values[-1])), abs(t)) if len(values) else abs(t)
    top = int(np.ceil(np.log10(scale))) if scale > 0 else 0
    for k in range(top, top - 17, -1):
        candidates = _roundings(t, k)
        moved = [abs(int(np.searchsorted(values, r, side="right")) - side_t) for r in candidates]
        best = int(np.argmin(moved))
        if moved[best] <= allowed:
            return candidates[best]
    return float(t)


def _rounded_thresholds(tree, X_fit, meta, split_nodes, tolerance):
    """Readable threshold of every split used by a rule (indicator splits keep 0.5)."""
    tree_ = tree.tree_
    reach = tree.decision_path(X_fit).tocsc()  # rows of the fitted sample through each node
    rounded = {}
    for node in split_nodes:
        j, t = int(tree_.feature[node]), float(tree_.threshold[node])
        if meta[j][1] is not None:
            rounded[node] = 0.5
            continue
        rows = reach.indices[reach.indptr[node]:reach.indptr[node + 1]]
        values = np.sort(X_fit[rows, j])
        rounded[node] = _simplest_threshold(t, values, int(np.floor(tolerance * len(rows))))
    return rounded


def _fmt(x):
    return np.format_float_positional(x, trim="-")


def _constraints(path, tree_, meta, rounded):
    """A leaf's path as one constraint per source column, in order of first appearance.

    Numeric column: ``("range", lo, hi)`` meaning ``lo < x <= hi`` (``None`` = unbounded; repeated
    bounds merged into the tightest). Categorical column: ``("in", levels)`` or ``("ne", levels)``.
    """
    out = {}
    for node, is_left in path:
        column, level = meta[int(tree_.feature[node])]
        t = rounded[node]
        if level is None:
            _, lo, hi = out.get(column, ("range", None, None))
            if is_left:
                hi = t if hi is None else min(hi, t)
            else:
                lo = t if lo is None else max(lo, t)
            out[column] = ("range", lo, hi)
        elif not is_left:
            out[column] = ("in", frozenset({level}))  # "= level" implies every "≠ other level"
        else:  # indicator <= 0.5: not this level
            current = out.get(column, ("ne", frozenset()))
            if current[0] == "ne":
                out[column] = ("ne", current[1] | {level})
    return out


def _union(a, b):
    """The constraint equal to the union of two, when there is one; else None."""
    if a[0] == "range" and b[0] == "range":
        if a[2] is not None and a[2] == b[1]:
            return ("range", a[1], b[2])
        if b[2] is not None and b[2] == a[1]:
            return ("range", b[1], a[2])
        return None
    if a[0] == "range" or b[0] == "range":
        return None
    if a[0] == "in" and b[0] == "in":
        return ("in", a[1] | b[1])
    if a[0] == "ne" and b[0] == "ne":
        return ("ne", a[1] & b[1])
    allowed, excluded = (a[1], b[1]) if a[0] == "in" else (b[1], a[1])
    return ("ne", excluded - allowed)  # x in A or x not in S  <=>  x not in S - A


def _merge_rules(rules, complete_levels):
    """Merge same-segment rules that differ in a single column whose union is expressible.

    ``x ≤ 0.6 and y > 7`` + ``x > 0.6 and y > 7`` → ``y > 7``. The rules stay disjoint, so they still
    partition the customers; repeats until no pair merges (at most 2**max_depth rules: pairs are cheap).
    """
    rules = list(rules)
    merged = True
    while merged:
        merged = False
        for i in range(len(rules)):
            for k in range(i + 1, len(rules)):
                (ca, a), (cb, b) = rules[i], rules[k]
                if ca != cb or a.keys() != b.keys():
                    continue
                differ = [c for c in a if a[c] != b[c]]
                if len(differ) != 1:
                    continue
                union = _union(a[differ[0]], b[differ[0]])
                if union is None:
                    continue
                new = dict(a)
                column = differ[0]
                if (union in (("range", None, None), ("ne", frozenset()))
                        or (union[0] == "in" and union[1] == complete_levels.get(column))):
                    del new[column]  # no constraint left on this column
                else:
                    new[column] = union
                rules[i] = (ca, new)
                del rules[k]
                merged = True
                break
            if merged:
                break
    return rules


def _rule_text(constraints, labels, complete_levels):
    parts = []
    for column, c in constraints.items():
        name = labels.get(column, column)
        if c[0] in ("in", "ne"):
            allowed, excluded = (c[1], None) if c[0] == "in" else (None, c[1])
            if column in complete_levels:  # every level is known: say it the shorter way
                everything = complete_levels[column]
                allowed = allowed if allowed is not None else everything - excluded
                excluded = everything - allowed
                if len(allowed) > len(excluded):
                    allowed = None
            if allowed is not None:
                levels = sorted(allowed)
                parts.append(f"{name} = {levels[0]}" if len(levels) == 1
                             else f"{name} in {{{', '.join(levels)}}}")
            else:
                levels = sorted(excluded)
                parts.append(f"{name} ≠ {levels[0]}" if len(levels) == 1
                             else f"{name} not in {{{', '.join(levels)}}}")
        elif c[1] is not None and c[2] is not None:
            parts.append(f"{_fmt(c[1])} < {name} ≤ {_fmt(c[2])}")
        elif c[2] is not None:
            parts.append(f"{name} ≤ {_fmt(c[2])}")
        else:
            parts.append(f"{name} > {_fmt(c[1])}")
    return " and ".join(parts) if parts else ALL_CUSTOMERS


def _rule_of_row(X, rules, meta):
    """Index of the rule each row satisfies, evaluating the rules as printed (rounded thresholds)."""
    numeric = {column: j for j, (column, level) in enumerate(meta) if level is None}
    indicator = {(column, level): j for j, (column, level) in enumerate(meta) if level is not None}
    rule = np.full(len(X), -1, dtype=np.int64)
    for k, (_, constraints) in enumerate(rules):
        mask = np.ones(len(X), dtype=bool)
        for column, c in constraints.items():
            if c[0] == "range":
                x = X[:, numeric[column]]
                if c[1] is not None:
                    mask &= x > c[1]
                if c[2] is not None:
                    mask &= x <= c[2]
            elif c[0] == "in":
                mask &= X[:, [indicator[(column, level)] for level in sorted(c[1])]].sum(axis=1) > 0.5
            else:
                for level in c[1]:
                    mask &= X[:, indicator[(column, level)]] <= 0.5
        rule[mask] = k
    return rule


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def surrogate_rules(
    features,
    labels,
    feature_names=None,
    *,
    max_depth=4,
    min_samples_leaf=0.01,
    random_state=0,
    sample_size=200_000,
    feature_labels=None,
    class_weight=None,
    max_levels=20,
    rounding_tolerance=0.005,
):
    """Describe segments with readable rules from a shallow decision tree.

    A :class:`~sklearn.tree.DecisionTreeClassifier` is fitted on the *raw*
    features to predict the segment labels (on a seeded sample of
    ``sample_size`` rows when there are more). Each leaf becomes a rule: the
    conditions on its path, merged per feature (``x > 5`` then ``x > 12``
    becomes ``x > 12``; ``x > 5`` and ``x ≤ 20`` become ``5 < x ≤ 20``).
    Rules of the same segment that differ in one feature only are then
    merged when their union is again a rule (``x ≤ 0.6 and y > 7`` +
    ``x > 0.6 and y > 7`` → ``y > 7``); this never changes a prediction.

    **Rounding.** Each threshold is replaced by its shortest rounding (fewest
    significant digits, to nearest or down) that moves at most
    ``rounding_tolerance`` of the fitted rows reaching that split to the other
    side: an integer feature split at 30.5 reads ``≤ 30`` / ``> 30`` (exact),
    a share split at 0.59991 reads ``≤ 0.6``. Siblings share the rounded
    threshold, so the rules still partition the customers.

    Categorical features (strings, categories, booleans) are one-hot encoded
    (the ``max_levels`` most frequent levels; missing values are the level
    ``"(missing)"``), and read ``region = North`` / ``region ≠ North`` /
    ``region not in {North, South}``. Numeric features must be finite.

    ``precision``, ``coverage``, ``support`` and ``fidelity`` are measured on
    *all* rows by evaluating the rules **as printed** (rounded thresholds, in
    float64 like the raw data), so the numbers are exactly those a reader
    would get by applying the text to the table.

    Parameters
    ----------
    features : DataFrame
        Raw, readable features, one row per customer.
    labels : array-like of shape (n_customers,)
        Segment of each row (ids or names), aligned with ``features``.
    feature_names : list of str, default=None
        Columns to use. ``None``: every column except ``customer_id``.
    max_depth : int, default=4
        Depth of the tree: at most ``2**max_depth`` rules, each with at most
        ``max_depth`` conditions. 3-4 keeps rules readable.
    min_samples_leaf : int or float, default=0.01
        Smallest leaf, as a count or a fraction of the fitted rows. The
        default (1 %) stops rules about a handful of customers.
    random_state : int, default=0
        Seeds the sample and the tree (which breaks ties between equally
        good splits at random).
    sample_size : int, default=200_000
        Rows used to fit the tree; more rows barely change a depth-4 tree.
    feature_labels : dict of str to str, default=None
        Readable names for the rule text, e.g.
        ``{"channel_share_01": "app share"}``.
    class_weight : dict, "balanced" or None, default=None
        Passed to the tree. ``"balanced"`` gives small segments a better
        chance of a rule of their own, at some cost in fidelity.
    max_levels : int, default=20
        Levels one-hot encoded per categorical feature.
    rounding_tolerance : float, default=0.005
        Largest share of the rows at a split that rounding its threshold may
        move across it. ``0`` keeps the fitted sample's partition exactly
        (thresholds may then read like ``0.59991``).

    Returns
    -------
    SurrogateRules
        ``rules`` (columns ``segment, rule, precision, coverage, support``),
        ``fidelity``, ``tree``, ``feature_names`` and
        ``segments_without_rule``.

    Examples
    --------
    >>> X = pd.DataFrame({"order_count": [3, 14, 15, 16, 2, 20],
    ...                   "channel_share_01": [0.9, 0.8, 0.7, 0.1, 0.2, 0.3]})
    >>> out = surrogate_rules(X, ["app", "app", "app", "web", "web", "web"],
    ...                       min_samples_leaf=1, feature_labels={"channel_share_01": "app share"})
    >>> out.rules[["segment", "rule", "precision", "coverage", "support"]].to_numpy().tolist()
    [['app', 'app share > 0.5', 1.0, 1.0, 3], ['web', 'app share ≤ 0.5', 1.0, 1.0, 3]]
    >>> out.fidelity
    1.0
    """
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a pandas DataFrame of raw features")
    if feature_names is None:
        feature_names = [c for c in features.columns if c != "customer_id"]
    feature_names = list(feature_names)
    missing = [c for c in feature_names if c not in features.columns]
    if missing:
        raise ValueError(f"features lacks column(s) {missing}")
    if not feature_names:
        raise ValueError("no feature to describe the segments with")
    y_raw = np.asarray(labels).reshape(-1)
    n = len(features)
    if len(y_raw) != n:
        raise ValueError(f"labels has {len(y_raw)} entries but features has {n} rows")
    if n == 0:
        raise ValueError("features is empty")
    if pd.isna(y_raw).any():
        raise ValueError("labels contain missing values")
    if not (isinstance(sample_size, numbers.Integral) and sample_size >= 1):
        raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
    if not (isinstance(rounding_tolerance, numbers.Real) and 0 <= rounding_tolerance < 1):
        raise ValueError(f"rounding_tolerance must be in [0, 1), got {rounding_tolerance!r}")
    labels_map = dict(feature_labels or {})

    classes, y = np.unique(y_raw, return_inverse=True)
    X, meta, complete_levels = _encode(features, feature_names, max_levels)
    if n > sample_size:
        rng = np.random.default_rng(random_state)
        fit_rows = np.sort(rng.choice(n, size=sample_size, replace=False))
        X_fit, y_fit = X[fit_rows], y[fit_rows]
    else:
        X_fit, y_fit = X, y

    tree = DecisionTreeClassifier(
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        class_weight=class_weight,
        random_state=random_state,
    ).fit(X_fit, y_fit)

    tree_ = tree.tree_
    leaves = _effective_leaves(tree_)
    split_nodes = sorted({node for path, _ in leaves for node, _ in path})
    rounded = _rounded_thresholds(tree, X_fit, meta, split_nodes, rounding_tolerance)
    # tree.classes_ indexes the classes present in the fitted sample; map back to all of `classes`.
    rules_c = _merge_rules(
        [(int(tree.classes_[c]), _constraints(path, tree_, meta, rounded)) for path, c in leaves],
        complete_levels,
    )
    texts = [_rule_text(constraints, labels_map, complete_levels) for _, constraints in rules_c]
    rule_class = np.array([c for c, _ in rules_c], dtype=np.int64)
    rule_of_row = _rule_of_row(X, rules_c, meta)
    if (rule_of_row < 0).any():  # cannot happen: the rules partition the rows
        raise RuntimeError("internal error: some rows match no rule")
    n_rules, n_classes = len(rules_c), len(classes)
    support = np.bincount(rule_of_row, minlength=n_rules)
    joint = np.bincount(rule_of_row * n_classes + y, minlength=n_rules * n_classes).reshape(n_rules, n_classes)
    segment_size = np.bincount(y, minlength=n_classes)
    hits = joint[np.arange(n_rules), rule_class]
    fidelity = float(hits.sum() / n)  # each row is predicted the class of its rule

    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
    rules = pd.DataFrame(
        {
            "segment": classes[rule_class],
            "rule": texts,
            "precision": precision,
            "coverage": hits / segment_size[rule_class],
            "support": support.astype(np.int64),
            "_class": rule_class,
        }
    )
    # Two nested splits rounded to the same number can leave an empty rule: nobody to describe.
    rules = rules[rules["support"] > 0]
    rule_class = rules["_class"].to_numpy()
    rules = (
        rules.sort_values(["_class", "coverage", "support", "rule"], ascending=[True, False, False, True],
                          kind="mergesort")
        .drop(columns="_class")
        .reset_index(drop=True)
    )
    predicted = set(rule_class.tolist())
    without = [c.item() if isinstance(c, np.generic) else c
               for i, c in enumerate(classes) if i not in predicted]
    return SurrogateRules(
        rules=rules,
        fidelity=fidelity,
        tree=tree,
        feature_names=[c if level is None else f"{c}={level}" for c, level in meta],
        segments_without_rule=without,
    )
