"""Self-contained HTML report of a segmentation snapshot.

:func:`segment_report` renders, into one HTML string with inline PNG images
(no external files, no JavaScript):

- segment sizes (bar chart and table);
- the profile heatmap: per segment and feature, the ``lift_`` columns of the
  profiles (segment mean / overall mean) on a diverging scale centred at 1;
- the customer map (PCA of all customers, and t-SNE of the sample when
  present) coloured by segment;
- optionally, the migration matrix between two snapshots, the surrogate
  rules and the feature drift table.

Figures are drawn with matplotlib's Agg renderer on private ``Figure``
objects (pyplot's global state is never touched) under matplotlib's default
style, and PNGs are written without the ``Software`` tag, so the same inputs
give byte-identical HTML on the same installation.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = ["segment_report"]

LIFT_PREFIX = "lift_"
NEW, GONE = "(new)", "(gone)"  # markers of python_models.tracking.transition_matrix
DPI = 100
#: Above this many cells, heatmap values are not printed in the cells (they would be unreadable).
MAX_ANNOTATED_CELLS = 400
#: Profile heatmap colours saturate beyond lifts of 2**-2 and 2**2.
LIFT_LOG2_LIMIT = 2

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; padding: 0 1em; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
nav a { margin-right: 1em; }
section { margin: 2.5em 0; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: right; }
th { background: #f5f5f5; }
td:nth-child(-n+2), th:nth-child(-n+2) { text-align: left; }
p.note { color: #666; font-size: 0.9em; }
"""


# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------


def _png(fig):
    """PNG bytes as base64 text, without the metadata that would differ between runs or versions."""
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _natural_key(label):
    """Numbers in numeric order, then text; the tracking markers last."""
    text = str(label)
    if text in (NEW, GONE):
        return (2, 0.0, text)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _segment_palette(segment_ids):
    """One colour per segment id, stable for a given set of ids."""
    n = len(segment_ids)
    if n <= 10:
        colours = matplotlib.colormaps["tab10"].colors[:n]
    elif n <= 20:
        colours = matplotlib.colormaps["tab20"].colors[:n]
    else:
        colours = matplotlib.colormaps["turbo"](np.linspace(0.05, 0.95, n))
    return {sid: colours[i] for i, sid in enumerate(segment_ids)}


def _table(frame, float_format="{:.3f}"):
    formatters = {c: float_format.format for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    return frame.to_html(index=False, escape=True, border=0, formatters=formatters, na_rep="")


def _section(anchor, heading, body):
    return f'<section id="{anchor}">\n<h2>{html.escape(heading)}</h2>\n{body}\n</section>'


# ---------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------


def _sizes_figure(profiles, labels, palette):
    fig = Figure(figsize=(8, max(2.5, 0.45 * len(profiles) + 1)))
    ax = fig.add_subplot()
    sizes = profiles["size"].to_numpy(dtype=float, na_value=np.nan)
    shown = np.nan_to_num(sizes)  # a suppressed segment (size missing) is drawn without a bar
    y = np.arange(len(profiles))
    ax.barh(y, shown, color=[palette[s] for s in profiles["segment_id"]])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()  # first segment on top
    total = shown.sum()
    for yi, size in zip(y, sizes):
        text = (" too few customers to show" if np.isnan(size) else
                f" {size:,.0f} ({size / total:.1%})" if total else f" {size:,.0f}")
        ax.text(0 if np.isnan(size) else size, yi, text, va="center", fontsize=8)
    ax.set_xlim(0, shown.max() * 1.25 if len(shown) and shown.max() > 0 else 1)
    ax.set_xlabel("customers")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def _heatmap(ax, colour, row_labels, col_labels, norm, cmap, values, fmt):
    """Cells coloured by ``colour``, annotated with ``values`` (when there are few enough cells)."""
    image = ax.imshow(np.ma.masked_invalid(colour), aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_xticks(np.arange(len(col_labels)), col_labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(row_labels)), row_labels, fontsize=8)
    if values.size <= MAX_ANNOTATED_CELLS:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v) and np.isfinite(colour[i, j]):
                r, g, b, _ = image.cmap(image.norm(colour[i, j]))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # white text on dark cells stays readable
                ax.text(j, i, fmt(v), ha="center", va="center", fontsize=7, color="white" if dark else "black")
    return image


def _profile_figure(profiles, labels, lift_columns):
    values = profiles[lift_columns].to_numpy(dtype=float, na_value=np.nan)
    # Colour by log2(lift), centred at lift 1 (the overall mean): half and double are equally strong, and
    # one extreme lift (25x for a tiny segment) cannot wash out the rest. Beyond 1/4 and 4x, colours
    # saturate; lifts <= 0 (a negative mean, e.g. a falling trend) take the lowest colour.
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.log2(np.clip(values, 2.0**-LIFT_LOG2_LIMIT, 2.0**LIFT_LOG2_LIMIT))
    colour[~np.isfinite(values)] = np.nan
    names = [c[len(LIFT_PREFIX):] for c in lift_columns]
    fig = Figure(figsize=(max(6, 0.38 * len(names) + 3), max(2.5, 0.45 * len(labels) + 2)))
    ax = fig.add_subplot()
    image = _heatmap(ax, colour, labels, names, Normalize(-LIFT_LOG2_LIMIT, LIFT_LOG2_LIMIT), "RdBu_r",
                     values, lambda v: f"{v:.1f}")
    ticks = np.arange(-LIFT_LOG2_LIMIT, LIFT_LOG2_LIMIT + 1)
    bar = fig.colorbar(image, ax=ax, label="lift (segment mean / overall mean)", shrink=0.8, ticks=ticks)
    bar.ax.set_yticklabels([f"{2.0**t:g}" for t in ticks])
    fig.tight_layout()
    return fig


def _map_figure(points, palette, names, max_points, random_state):
    methods = [m for m in ("pca", "tsne") if (points["method"] == m).any()]
    fig = Figure(figsize=(6 * len(methods) + 2, 5.5))
    rng = np.random.default_rng(random_state)
    coloured = "segment_id" in points.columns
    # Row colours by lookup, not a per-point loop; segments missing from the profiles get index -1: the
    # grey last row.
    lookup = pd.Index(list(palette))
    table = np.vstack([np.array([to_rgba(palette[s]) for s in palette]).reshape(-1, 4),
                       to_rgba("0.6")])
    for k, method in enumerate(methods):
        ax = fig.add_subplot(1, len(methods), k + 1)
        sub = points[points["method"] == method]
        shown = f"{len(sub):,}"
        if len(sub) > max_points:  # a plot of 1M dots says no more than 20k and takes far longer to draw
            sub = sub.iloc[np.sort(rng.choice(len(sub), size=max_points, replace=False))]
            shown = f"{max_points:,} of {shown}"
        colours = table[lookup.get_indexer(sub["segment_id"])] if coloured else "tab:blue"
        ax.scatter(sub["x"], sub["y"], c=colours, s=4, alpha=0.6, linewidths=0, rasterized=True)
        ax.set_title(f"{'PCA' if method == 'pca' else 't-SNE'} ({shown} customers)", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if coloured:
        present = [s for s in palette if (points["segment_id"] == s).any()]
        handles = [Line2D([], [], marker="o", linestyle="", color=palette[s], label=names.get(s, str(s)))
                   for s in present]
        fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0, 1 - 2 / (6 * len(methods) + 2), 1))
    else:
        fig.tight_layout()
    return fig


def _share_text(v):
    if v <= 0:
        return ""
    return f"{v:.0%}" if v >= 0.005 else "<1%"


def _transition_figure(matrix):
    values = matrix.to_numpy(dtype=float)
    fig = Figure(figsize=(max(5, 0.6 * matrix.shape[1] + 3), max(3, 0.45 * matrix.shape[0] + 2)))
    ax = fig.add_subplot()
    image = _heatmap(ax, values, list(matrix.index), list(matrix.columns), Normalize(0, 1), "Blues", values,
                     _share_text)
    ax.set_xlabel("to segment")
    ax.set_ylabel("from segment")
    fig.colorbar(image, ax=ax, label="share of row", shrink=0.8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def segment_report(
    profiles,
    map_points,
    transitions=None,
    title="Customer segments",
    *,
    segments=None,
    rules=None,
    drift=None,
    max_points=20_000,
    random_state=0,
):
    """Render a segmentation snapshot as one self-contained HTML page.

    Parameters
    ----------
    profiles : DataFrame
        One row per segment with ``segment_id``, ``segment_name``, ``size``
        and any number of ``lift_<feature>`` columns (segment mean / overall
        mean), as written to ``segment_profiles``.
    map_points : DataFrame
        Output of :func:`python_models.customer_map.customer_map`
        (``customer_id, method, x, y``), ideally with a ``segment_id``
        column to colour by.
    transitions : DataFrame, default=None
        Output of :func:`python_models.tracking.transition_matrix`. When it
        holds several snapshot pairs, the latest ``to_snapshot`` is shown.
        Labels equal to a ``segment_id`` are shown with the segment's name.
    title : str, default="Customer segments"
    segments : DataFrame, default=None
        ``customer_id, segment_id``, joined to ``map_points`` when those
        lack ``segment_id``.
    rules : SurrogateRules or DataFrame, default=None
        Output of :func:`python_models.explain.surrogate_rules` (its
        fidelity is shown too) or just its ``rules`` table.
    drift : DataFrame, default=None
        Output of :func:`python_models.tracking.feature_drift`, shown as a
        table (drifted features first).
    max_points : int, default=20_000
        Points drawn per map (seeded sample); the map of a million customers
        looks the same with 20 000 and renders in a fraction of the time.
    random_state : int, default=0
        Seeds that sample.

    Returns
    -------
    str
        The HTML document. Sections have the ids ``sizes``, ``profiles``,
        ``map`` and, when given, ``transitions``, ``rules``, ``drift``.

    Examples
    --------
    >>> profiles = pd.DataFrame({"segment_id": [1, 2], "segment_name": ["Loyal", "Lapsed"],
    ...                          "size": [60, 40], "lift_order_count": [1.5, 0.3]})
    >>> points = pd.DataFrame({"customer_id": range(100), "method": "pca",
    ...                        "x": np.linspace(0, 1, 100), "y": np.linspace(1, 0, 100),
    ...                        "segment_id": [1] * 60 + [2] * 40})
    >>> page = segment_report(profiles, points, title="December")
    >>> page.startswith("<!DOCTYPE html>"), page.count("<img "), 'id="transitions"' in page
    (True, 3, False)
    """
    missing = [c for c in ("segment_id", "segment_name", "size") if c not in profiles.columns]
    if missing:
        raise ValueError(f"profiles lacks column(s) {missing}")
    missing = [c for c in ("method", "x", "y") if c not in map_points.columns]
    if missing:
        raise ValueError(f"map_points lacks column(s) {missing}")

    profiles = profiles.sort_values("segment_id", kind="mergesort").reset_index(drop=True)
    segment_ids = profiles["segment_id"].tolist()
    names = {sid: f"{sid} · {name}" for sid, name in zip(segment_ids, profiles["segment_name"])}
    labels = [names[s] for s in segment_ids]
    palette = _segment_palette(segment_ids)

    if "segment_id" not in map_points.columns and segments is not None:
        map_points = map_points.merge(segments[["customer_id", "segment_id"]], on="customer_id", how="left")

    nav, sections = [], []

    def add(anchor, heading, body):
        nav.append(f'<a href="#{anchor}">{html.escape(heading)}</a>')
        sections.append(_section(anchor, heading, body))

    with matplotlib.style.context("default"):  # ignore the user's matplotlibrc: same output everywhere
        total = profiles["size"].sum()
        size_table = profiles[["segment_id", "segment_name", "size"]].assign(
            share=profiles["size"] / total if total else np.nan)
        body = _img(_sizes_figure(profiles, labels, palette), "Segment sizes") + _table(size_table)
        if "is_suppressed" in profiles and profiles["is_suppressed"].any():
            body += ('<p class="note">Segments without figures have too few customers to show them '
                     "(SEGMENTS_MIN_GROUP_SIZE); shares are of the customers shown.</p>")
        add("sizes", "Segment sizes", body)

        lift_columns = [c for c in profiles.columns if c.startswith(LIFT_PREFIX)]
        if lift_columns:
            body = _img(_profile_figure(profiles, labels, lift_columns), "Segment profiles")
            body += ('<p class="note">Lift = segment mean / overall mean: red above the average customer, '
                     "blue below, white at 1.</p>")
        else:
            body = '<p class="note">No lift_ columns in the profiles.</p>'
        add("profiles", "Segment profiles", body)

        if len(map_points):
            body = _img(_map_figure(map_points, palette, names, max_points, random_state), "Customer map")
            body += ('<p class="note">PCA: the two main directions of the clustering space, every customer. '
                     "t-SNE (sample): neighbourhoods are meaningful, axes and distances between groups "
                     "are not.</p>")
        else:
            body = '<p class="note">No map points.</p>'
        add("map", "Customer map", body)

        if transitions is not None and len(transitions):
            add("transitions", "Segment transitions", _transitions_body(transitions))

        if rules is not None:
            add("rules", "Segment rules", _rules_body(rules))
        if drift is not None and len(drift):
            ordered = drift.sort_values(["drifted", "psi"], ascending=[False, False], kind="mergesort")
            body = _table(ordered, "{:.4f}") + (
                '<p class="note">PSI &lt; 0.1 stable, 0.1-0.2 moderate, &gt; 0.2 significant shift.</p>')
            add("drift", "Feature drift", body)

    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<nav>{''.join(nav)}</nav>",
            *sections,
            "</body>",
            "</html>",
            "",
        ]
    )


def _rules_body(rules):
    body = ""
    if hasattr(rules, "fidelity"):  # a SurrogateRules, not just its table
        body = (f'<p class="note">The rules assign {rules.fidelity:.1%} of customers to their own segment '
                "(fidelity); precision = share of the customers matching a rule that are in the segment, "
                "coverage = share of the segment matching the rule.")
        if rules.segments_without_rule:
            missing = ", ".join(html.escape(str(s)) for s in rules.segments_without_rule)
            body += f" No rule describes segment(s) {missing}."
        body += "</p>"
        rules = rules.rules
    return body + _table(rules)


def _transitions_body(transitions):
    pairs = transitions[["from_snapshot", "to_snapshot"]].drop_duplicates()
    note = ""
    if len(pairs) > 1:
        last = pairs.sort_values(["to_snapshot", "from_snapshot"], kind="mergesort").iloc[-1]
        keep = (transitions["from_snapshot"] == last["from_snapshot"]) & (
            transitions["to_snapshot"] == last["to_snapshot"])
        transitions = transitions[keep]
        note = f'<p class="note">{len(pairs)} snapshot pairs given; showing the latest.</p>'
    first = transitions.iloc[0]
    # Labels as given: segment ids stay short on the axes (their names are in the sizes table).
    wide = transitions.assign(from_segment=transitions["from_segment"].astype(str),
                              to_segment=transitions["to_segment"].astype(str))
    rows = sorted(wide["from_segment"].unique(), key=_natural_key)
    cols = sorted(wide["to_segment"].unique(), key=_natural_key)
    share = wide.pivot_table(index="from_segment", columns="to_segment", values="share", aggfunc="sum",
                             fill_value=0.0).loc[rows, cols]
    counts = wide.pivot_table(index="from_segment", columns="to_segment", values="customers", aggfunc="sum",
                              fill_value=0).loc[rows, cols]
    counts = counts.reset_index().rename(columns={"from_segment": "from \\ to"})
    counts.columns.name = None
    caption = (f'<p class="note">From {html.escape(str(first["from_snapshot"]))} to '
               f'{html.escape(str(first["to_snapshot"]))}: share of each row\'s customers by destination '
               f"(rows add up to 100 %; customers below). {NEW}: customers not in the earlier snapshot; "
               f"{GONE}: customers not in the later one.</p>")
    return _img(_transition_figure(share), "Segment transitions") + caption + note + _table(counts)
