"""Deterministic synthetic shop for demos, tests and benchmarks.

    python -m python_models.demo --customers 10000 --seed 42 --out data/demo [--format csv|parquet]
                                 [--events/--no-events]

writes the raw input contract into ``--out``:

- ``transactions.csv`` (or ``.parquet``): one row per order line, every column text:
  ``order_id, customer_id, order_ts, product_id, category, quantity, unit_price, channel``.
  Returns are lines with a negative quantity and their own ``order_id``. A known number of bad rows of each
  kind (see ``REASONS``) is interleaved among the valid ones, each bad in exactly one way.
- ``customers.parquet`` (always parquet): ``customer_id, signup_date, birth_year, gender, region``.
- ``products.csv``: ``product_id, category, list_price``.
- ``events.csv`` (default on for N <= 200k): ``customer_id, event_ts, event_type, product_id``.
- ``ground_truth/personas.csv`` (``customer_id, persona``) and ``ground_truth/bad_rows.json``
  (``input_rows, rejected_by_reason, accepted_rows, returns``), which the pipeline never reads.

Same ``(n_customers, seed, fmt, events)`` gives byte-identical files. Orders lie in the fixed window
2024-01-01 .. 2025-12-31 23:59:59 and at least one valid line is dated 2025-12-31, so the pipeline's as-of
(latest order timestamp not after today) is always on 2025-12-31.

Everything is vectorised numpy; Python loops run only over the six personas or the twelve bad-row kinds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# --------------------------------------------------------------------------------------------------------
# Fixed world
# --------------------------------------------------------------------------------------------------------

DAY = 86_400
N_DAYS = 731  # 2024 (leap) + 2025
START_EPOCH = int(np.datetime64("2024-01-01T00:00:00", "s").astype("int64"))
END_S = N_DAYS * DAY - 1  # 2025-12-31 23:59:59, in seconds since START
LAST_DAY_S = (N_DAYS - 1) * DAY  # 2025-12-31 00:00:00
FUTURE_S = int(np.datetime64("2099-01-01T00:00:00", "s").astype("int64")) - START_EPOCH
EVENTS_DEFAULT_MAX_CUSTOMERS = 200_000

CATEGORIES = ("Electronics", "Fashion", "Home", "Beauty", "Grocery", "Sports", "Toys", "Books")
_CAT_PRODUCTS = np.array([48, 60, 46, 40, 44, 30, 24, 36])  # 328 products
_CAT_PRICE_RANGE = np.array(
    [(9, 2400), (6, 320), (4, 900), (2.5, 110), (0.8, 35), (8, 1400), (4, 220), (4, 70)], dtype=float
)
CHANNELS = ("web", "app", "store")
REGIONS = ("North", "South", "East", "West", "Central")
_REGION_P = (0.21, 0.19, 0.20, 0.22, 0.18)
GENDERS = ("F", "M", "X")
_GENDER_P = (0.49, 0.48, 0.03)
EVENT_TYPES = ("view", "search", "add_to_cart")
_EVENT_P = (0.6, 0.2, 0.2)

TRANSACTION_COLUMNS = (
    "order_id", "customer_id", "order_ts", "product_id", "category", "quantity", "unit_price", "channel",
)

# Rejection reasons, in the pipeline's priority order.
REASONS = (
    "missing_customer_id",
    "missing_order_id",
    "missing_order_ts",
    "unparseable_order_ts",
    "future_order_ts",
    "missing_quantity",
    "unparseable_quantity",
    "zero_quantity",
    "missing_unit_price",
    "unparseable_unit_price",
    "negative_unit_price",
    "duplicate_line",
)
_BAD_TS = ("not a date", "2025-13-45 10:00:00", "2024-02-30 08:15:00", "tomorrow")
_BAD_QTY = ("two", "abc", "one", "many")


def _cats(**weights: float) -> np.ndarray:
    """Category probabilities: named weights, the remainder spread evenly over the other categories."""
    p = np.zeros(len(CATEGORIES))
    for name, w in weights.items():
        p[CATEGORIES.index(name)] = w
    rest = [i for i, c in enumerate(CATEGORIES) if c not in weights]
    if rest:
        p[rest] = (1.0 - p.sum()) / len(rest)
    return p / p.sum()


# Each persona: share, order count (base + Poisson(lam) or base + Binomial(n, p)), active window in days since
# 2024-01-01, lines per order (1 + Binomial(k, p)), quantity (1 + Binomial(k, p)), price quantile band within a
# category (products are sorted by price), category and channel (web, app, store) mix, return rate per line.
PERSONAS: dict[str, dict] = {
    "loyal_high_spenders": dict(
        share=0.12, orders=("poisson", 9, 4.0), first=(0, 120), last=("end", 0, 21), pin_last=True,
        lines=(2, 0.3), qty=(1, 0.15), price_q=(0.40, 0.68),
        cats=_cats(Electronics=0.40, Home=0.32), channels=(0.75, 0.15, 0.10), returns=0.03,
    ),
    "bargain_hunters": dict(
        share=0.20, orders=("poisson", 3, 3.0), first=(0, 560), last=("after_first", 120, 330),
        lines=(3, 0.2), qty=(4, 0.35), price_q=(0.0, 0.30),
        cats=_cats(Fashion=0.42, Beauty=0.30), channels=(0.20, 0.70, 0.10), returns=0.10,
    ),
    "newcomers": dict(
        share=0.15, orders=("binomial", 1, 2, 0.4), first=(N_DAYS - 85, N_DAYS - 1), last=("end", 0, 0),
        lines=(2, 0.3), qty=(1, 0.2), price_q=(0.30, 0.70),
        cats=_cats(Fashion=0.20, Electronics=0.15, Home=0.15, Beauty=0.15, Toys=0.10, Books=0.10,
                   Sports=0.08, Grocery=0.07),
        channels=(0.25, 0.65, 0.10), returns=0.04,
    ),
    "lapsed": dict(
        # last activity at least 300 days before the end, so even a return (<= 30 days later) is > 250 days old
        share=0.20, orders=("binomial", 2, 3, 0.5), first=(0, 250), last=("after_first_cap", 20, 250, N_DAYS - 300),
        lines=(2, 0.25), qty=(1, 0.2), price_q=(0.30, 0.65),
        cats=_cats(Home=0.38, Books=0.32), channels=(0.70, 0.10, 0.20), returns=0.05,
    ),
    "big_ticket_occasional": dict(
        share=0.13, orders=("binomial", 1, 2, 0.4), first=(0, 0), last=("end", 0, 0),
        lines=(1, 0.25), qty=(0, 0.0), price_q=(0.80, 1.0),
        cats=_cats(Electronics=0.50, Sports=0.30), channels=(0.20, 0.10, 0.70), returns=0.06,
    ),
    "frequent_small_basket": dict(
        share=0.20, orders=("poisson", 13, 6.0), first=(N_DAYS - 220, N_DAYS - 100), last=("end", 0, 10),
        pin_last=True,
        lines=(2, 0.05), qty=(2, 0.25), price_q=(0.05, 0.50),
        cats=_cats(Grocery=0.50, Beauty=0.25), channels=(0.10, 0.75, 0.15), returns=0.02,
    ),
}
PERSONA_NAMES = tuple(PERSONAS)


def bad_rows_per_kind(n_customers: int) -> int:
    return max(3, n_customers // 500)


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------


def _persona_counts(n: int) -> np.ndarray:
    """Exact persona sizes by largest remainder (ties to the earlier persona)."""
    shares = np.array([PERSONAS[p]["share"] for p in PERSONA_NAMES])
    raw = shares * n
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _choice(rng: np.random.Generator, p, n: int) -> np.ndarray:
    cum = np.cumsum(p)
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1).astype(np.int8)


def _group_pos(group: np.ndarray, n_groups: int) -> np.ndarray:
    """Position of each element within its group, for an array sorted (grouped) by group index."""
    counts = np.bincount(group, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    return (np.arange(len(group)) - starts[group]).astype(np.int8)


def _padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, s, "")


def _money(cents: np.ndarray) -> pa.Array:
    """Non-negative integer cents as 'D.CC' text."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = pa.array(cents // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _ts_text(seconds: np.ndarray) -> pa.Array:
    """Seconds since 2024-01-01 as 'YYYY-MM-DD HH:MM:SS'."""
    return pa.array(np.asarray(seconds, dtype=np.int64) + START_EPOCH, type=pa.timestamp("s")).cast(pa.string())


def _write_csv(table: pa.Table, path: Path) -> None:
    """CSV with a header, quoting only where needed; nulls as empty fields, empty strings as ""."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("t", table)
        con.execute(f"copy t to '{str(path).replace(chr(39), chr(39) * 2)}' (header true, delimiter ',')")
    finally:
        con.close()


def _missing(n: int) -> pa.Array:
    """Alternating null and empty string: both mean 'missing'."""
    return pa.array(["" if i % 2 else None for i in range(n)], type=pa.string())


def _cycle(values: tuple[str, ...], n: int) -> pa.Array:
    return pa.array(np.array(values, dtype=object)[np.arange(n) % len(values)], type=pa.string())


# --------------------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------------------


def _products(rng: np.random.Generator):
    """Products sorted internally by (category, price); returns (category, list cents, product number)."""
    cat = np.repeat(np.arange(len(CATEGORIES)), _CAT_PRODUCTS).astype(np.int8)
    lo, hi = np.log(_CAT_PRICE_RANGE[cat, 0]), np.log(_CAT_PRICE_RANGE[cat, 1])
    start = np.repeat(np.cumsum(_CAT_PRODUCTS) - _CAT_PRODUCTS, _CAT_PRODUCTS)
    frac = (np.arange(len(cat)) - start) / (_CAT_PRODUCTS[cat] - 1)
    price = np.exp(lo + frac * (hi - lo)) * (1 + rng.uniform(-0.06, 0.06, len(cat)))
    price = np.where(price >= 5, np.round(price) - 0.01, np.round(price, 1) - 0.01)  # shop prices: x.99 / x.x9
    cents = np.round(price * 100).astype(np.int64)
    # keep price order within a category (the jitter may swap neighbours)
    cents = cents[np.lexsort((cents, cat))]
    number = rng.permutation(len(cat)) + 1
    return cat, cents, number


# --------------------------------------------------------------------------------------------------------
# Behaviour per persona
# --------------------------------------------------------------------------------------------------------


def _pick_products(rng, spec, n, cat_start, cat_count):
    cat = _choice(rng, spec["cats"], n)
    lo, hi = spec["price_q"]
    q = lo + (hi - lo) * rng.random(n)
    within = np.minimum((q * cat_count[cat]).astype(np.int64), cat_count[cat] - 1)
    return (cat_start[cat] + within).astype(np.int16)


def _persona_block(rng, spec, n, cat_start, cat_count, list_cents):
    """Orders and lines for n customers of one persona (customer index local to the block)."""
    kind = spec["orders"]
    if kind[0] == "poisson":
        k = kind[1] + rng.poisson(kind[2], n)
    else:
        k = kind[1] + rng.binomial(kind[2], kind[3], n)
    k = k.astype(np.int64)

    f_lo, f_hi = spec["first"]
    first = f_lo + (f_hi - f_lo) * rng.random(n)
    last_kind = spec["last"]
    if last_kind[0] == "end":
        last = N_DAYS - (last_kind[1] + (last_kind[2] - last_kind[1]) * rng.random(n))
    else:
        last = first + last_kind[1] + (last_kind[2] - last_kind[1]) * rng.random(n)
        last = np.minimum(last, N_DAYS if last_kind[0] == "after_first" else last_kind[3])
    first_s = np.floor(first * DAY).astype(np.int64)
    last_s = np.minimum(np.floor(last * DAY).astype(np.int64), END_S)
    last_s = np.maximum(last_s, first_s)

    cust = np.repeat(np.arange(n, dtype=np.int32), k)
    n_orders = len(cust)
    span = (last_s - first_s + 1)[cust]
    ts = first_s[cust] + (rng.random(n_orders) * span).astype(np.int64)
    if spec.get("pin_last"):  # active till the end: each customer's last order is on the window's end
        ts[np.cumsum(k) - 1] = last_s
    channel = _choice(rng, spec["channels"], n_orders)

    kmax, p = spec["lines"]
    n_lines = 1 + rng.binomial(kmax, p, n_orders)
    line_order = np.repeat(np.arange(n_orders, dtype=np.int32), n_lines)
    pos = _group_pos(line_order, n_orders)
    product = _pick_products(rng, spec, len(line_order), cat_start, cat_count)

    # distinct products within an order: redraw clashes a few times, then drop what still clashes
    def clashes():
        dup = np.zeros(len(product), dtype=bool)
        for s in range(1, kmax + 1):
            dup[s:] |= (pos[s:] >= s) & (product[s:] == product[:-s])
        return dup

    for _ in range(8):
        dup = clashes()
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        product[idx] = _pick_products(rng, spec, len(idx), cat_start, cat_count)
    dup = clashes()
    if dup.any():
        keep = ~dup
        line_order, product = line_order[keep], product[keep]
        pos = _group_pos(line_order, n_orders)

    n_l = len(line_order)
    qk, qp = spec["qty"]
    qty = (1 + rng.binomial(qk, qp, n_l)).astype(np.int16) if qk else np.ones(n_l, dtype=np.int16)
    noise = 1 + rng.normal(0, 0.03, n_l)
    cents = np.round(list_cents[product] * noise).astype(np.int64)
    cents[rng.random(n_l) < 0.001] = 0  # an occasional free item (valid)
    returned = rng.random(n_l) < spec["returns"]
    return dict(
        k=k, cust=cust, ts=ts, channel=channel,
        line_order=line_order, pos=pos, product=product, qty=qty, cents=cents, returned=returned,
    )


# --------------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------------


def generate(n_customers: int, seed: int, out_dir, fmt: str = "csv", events: bool | None = None,
             verbose: bool = False) -> dict:
    """Write the synthetic shop into out_dir and return the truth dict (also in ground_truth/bad_rows.json)."""
    if n_customers < 1:
        raise ValueError("n_customers must be >= 1")
    if fmt not in ("csv", "parquet"):
        raise ValueError("fmt must be 'csv' or 'parquet'")
    if events is None:
        events = n_customers <= EVENTS_DEFAULT_MAX_CUSTOMERS
    out = Path(out_dir)
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(msg):
        if verbose:
            print(f"[demo {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 20240101]))
    N = int(n_customers)

    # ---- catalogue
    prod_cat, list_cents, prod_num = _products(rng)
    cat_count = _CAT_PRODUCTS
    cat_start = np.cumsum(cat_count) - cat_count

    # ---- customers: internal index grouped by persona, customer number randomly permuted
    counts = _persona_counts(N)
    persona_of = np.repeat(np.arange(len(PERSONA_NAMES), dtype=np.int8), counts)
    cust_num = (rng.permutation(N) + 1).astype(np.int64)  # internal index -> customer number

    # ---- orders and lines, persona by persona
    blocks, offset_c, offset_o = [], 0, 0
    for p, name in enumerate(PERSONA_NAMES):
        n = int(counts[p])
        if n == 0:
            continue
        b = _persona_block(rng, PERSONAS[name], n, cat_start, cat_count, list_cents)
        b["cust"] = b["cust"] + offset_c
        b["line_order"] = b["line_order"] + offset_o
        b["persona"] = np.full(len(b["ts"]), p, dtype=np.int8)
        offset_c += n
        offset_o += len(b["ts"])
        blocks.append(b)

    def cat_(key):
        return np.concatenate([b[key] for b in blocks])

    o_cust, o_ts, o_chan, o_persona = cat_("cust"), cat_("ts"), cat_("channel"), cat_("persona")
    l_order, l_pos, l_prod, l_qty, l_cents, l_ret = (
        cat_("line_order"), cat_("pos"), cat_("product"), cat_("qty"), cat_("cents"), cat_("returned"))
    del blocks
    n_orders = len(o_ts)
    log(f"{n_orders:,} orders, {len(l_order):,} purchase lines")

    # ---- make sure the latest valid order is on 2025-12-31 (deterministically)
    cand = np.flatnonzero(o_persona != PERSONA_NAMES.index("lapsed"))
    if len(cand) == 0:
        cand = np.arange(n_orders)
    latest = cand[np.argmax(o_ts[cand])]
    if o_ts[latest] < LAST_DAY_S:
        o_ts[latest] = LAST_DAY_S + 15 * 3600 + 17 * 60 + 42

    # ---- returns: per purchase order with returned lines, one return order 2-30 days later (inside the window)
    ret_lines = np.flatnonzero(l_ret)
    ret_src_order = l_order[ret_lines]
    has_ret = np.zeros(n_orders, dtype=bool)
    has_ret[ret_src_order] = True
    r_src = np.flatnonzero(has_ret)
    r_ts = o_ts[r_src] + rng.integers(2 * DAY, 30 * DAY, len(r_src))
    r_ok = r_ts <= END_S
    r_new = np.full(n_orders, -1, dtype=np.int64)
    r_new[r_src[r_ok]] = n_orders + np.arange(int(r_ok.sum()))
    r_src, r_ts = r_src[r_ok], r_ts[r_ok]
    ret_lines = ret_lines[r_new[ret_src_order] >= 0]
    n_returns = len(ret_lines)

    all_ts = np.concatenate([o_ts, r_ts])
    all_cust = np.concatenate([o_cust, o_cust[r_src]])
    all_chan = np.concatenate([o_chan, o_chan[r_src]])
    rank = np.empty(len(all_ts), dtype=np.int64)
    rank[np.argsort(all_ts, kind="stable")] = np.arange(len(all_ts))

    line_all_order = np.concatenate([l_order, r_new[l_order[ret_lines]]])
    line_all_pos = np.concatenate([l_pos, l_pos[ret_lines]]).astype(np.int64)
    sort_key = rank[line_all_order] * 8 + line_all_pos
    del line_all_pos
    file_order = np.argsort(sort_key)
    del sort_key
    v_order = line_all_order[file_order]  # all-orders index per valid line, in file order
    del line_all_order
    v_rank = rank[v_order]
    v_ts = all_ts[v_order]
    v_cust = cust_num[all_cust[v_order]]
    v_chan = all_chan[v_order]
    del v_order
    v_prod = np.concatenate([l_prod, l_prod[ret_lines]])[file_order]
    v_qty = np.concatenate([l_qty, -l_qty[ret_lines]])[file_order]
    v_cents = np.concatenate([l_cents, l_cents[ret_lines]])[file_order]
    del file_order, l_prod, l_qty, l_cents, l_order, l_pos, l_ret
    n_valid = len(v_ts)
    log(f"{n_valid:,} valid lines ({n_returns:,} returns)")

    # ---- bad rows: one reason each, interleaved at order boundaries
    per_kind = bad_rows_per_kind(N)
    n_bad = per_kind * len(REASONS)
    kind = np.repeat(np.arange(len(REASONS), dtype=np.int8), per_kind)
    kind = kind[rng.permutation(n_bad)]
    dup_kind = REASONS.index("duplicate_line")
    is_dup = kind == dup_kind
    n_dup = int(is_dup.sum())

    b_cust = cust_num[rng.integers(0, N, n_bad)]
    b_prod = rng.integers(0, len(prod_cat), n_bad).astype(np.int16)
    b_qty = (1 + rng.binomial(1, 0.3, n_bad)).astype(np.int16)
    b_cents = np.maximum(np.round(list_cents[b_prod] * (1 + rng.normal(0, 0.03, n_bad))).astype(np.int64), 1)
    b_ts = rng.integers(0, END_S + 1, n_bad)
    b_chan = rng.integers(0, len(CHANNELS), n_bad).astype(np.int8)
    future = kind == REASONS.index("future_order_ts")
    b_ts[future] = FUTURE_S + rng.integers(0, 364 * DAY, int(future.sum()))
    b_qty[kind == REASONS.index("zero_quantity")] = 0

    starts = np.flatnonzero(np.r_[True, v_rank[1:] != v_rank[:-1]])
    boundaries = np.r_[starts, n_valid]
    b_at = boundaries[rng.integers(0, len(boundaries), n_bad)]
    src = rng.choice(n_valid, n_dup, replace=n_valid < n_dup)
    nxt = np.searchsorted(boundaries, src, side="right") + rng.integers(0, 20, n_dup)
    b_at[is_dup] = boundaries[np.minimum(nxt, len(boundaries) - 1)]
    b_src = np.full(n_bad, -1, dtype=np.int64)
    b_src[is_dup] = src
    for arr, v in ((b_cust, v_cust), (b_prod, v_prod), (b_qty, v_qty), (b_cents, v_cents), (b_ts, v_ts),
                   (b_chan, v_chan)):
        arr[is_dup] = v[src]

    by_pos = np.argsort(b_at, kind="stable")
    kind, b_at, b_src = kind[by_pos], b_at[by_pos], b_src[by_pos]
    b_cust, b_prod, b_qty, b_cents, b_ts, b_chan = (
        a[by_pos] for a in (b_cust, b_prod, b_qty, b_cents, b_ts, b_chan))
    is_dup = kind == dup_kind

    total = n_valid + n_bad
    valid_pos = np.arange(n_valid) + np.searchsorted(b_at, np.arange(n_valid), side="right")
    bad_pos = b_at + np.arange(n_bad)

    def merge(v, b):
        out_ = np.empty(total, dtype=np.result_type(v.dtype, b.dtype))
        out_[valid_pos] = v
        out_[bad_pos] = b
        return out_

    f_cust = merge(v_cust, b_cust)
    f_ts = merge(v_ts, b_ts)
    f_prod = merge(v_prod, b_prod)
    f_qty = merge(v_qty, b_qty)
    f_cents = merge(v_cents, b_cents)
    f_chan = merge(v_chan, b_chan)
    del v_cust, v_ts, v_prod, v_qty, v_cents, v_chan

    # order numbers follow the file: each valid order and each bad row (except duplicates) starts one
    group_start = np.zeros(total, dtype=bool)
    group_start[valid_pos[starts]] = True
    group_start[bad_pos[~is_dup]] = True
    f_onum = np.cumsum(group_start)
    del group_start, v_rank
    f_onum[bad_pos[is_dup]] = f_onum[valid_pos[b_src[is_dup]]]
    del valid_pos
    log(f"{total:,} rows with {n_bad:,} bad")

    # ---- text columns
    n_groups = int(f_onum[-1]) if total else 0
    cust_width = max(7, len(str(N)))
    order_width = max(8, len(str(n_groups)))
    cust_ids = _padded("C", np.arange(1, N + 1), cust_width)
    prod_ids = _padded("P", prod_num, 4)
    col = {}
    col["order_id"] = _padded("O", f_onum, order_width)
    del f_onum
    col["customer_id"] = cust_ids.take(pa.array(f_cust - 1))
    del f_cust
    col["order_ts"] = _ts_text(f_ts)
    del f_ts
    col["product_id"] = prod_ids.take(pa.array(f_prod))
    col["category"] = pa.array(CATEGORIES).take(pa.array(prod_cat[f_prod]))
    del f_prod
    col["quantity"] = pa.array(f_qty.astype(np.int32)).cast(pa.string())
    del f_qty
    col["unit_price"] = _money(f_cents)
    col["channel"] = pa.array(CHANNELS).take(pa.array(f_chan))
    del f_chan

    def patch(name, reason, values):
        k = REASONS.index(reason)
        rows = bad_pos[kind == k]
        mask = np.zeros(total, dtype=bool)
        mask[rows] = True
        col[name] = pc.replace_with_mask(col[name], pa.array(mask), values(len(rows), rows))

    patch("customer_id", "missing_customer_id", lambda n, r: _missing(n))
    patch("order_id", "missing_order_id", lambda n, r: _missing(n))
    patch("order_ts", "missing_order_ts", lambda n, r: _missing(n))
    patch("order_ts", "unparseable_order_ts", lambda n, r: _cycle(_BAD_TS, n))
    patch("quantity", "missing_quantity", lambda n, r: _missing(n))
    patch("quantity", "unparseable_quantity", lambda n, r: _cycle(_BAD_QTY, n))
    patch("unit_price", "missing_unit_price", lambda n, r: _missing(n))
    patch("unit_price", "unparseable_unit_price", lambda n, r: pc.if_else(
        pa.array(np.arange(n) % 2 == 0),
        pc.replace_substring(_money(f_cents[r]), ".", ","),  # decimal comma: "12,50"
        _cycle(("abc", "twelve"), n)))
    patch("unit_price", "negative_unit_price", lambda n, r: pc.binary_join_element_wise(
        "-", _money(f_cents[r]), ""))
    del f_cents
    table = pa.table({c: col.pop(c) for c in TRANSACTION_COLUMNS})
    log("text columns built")

    for ext in ("csv", "parquet"):
        (out / f"transactions.{ext}").unlink(missing_ok=True)
    if fmt == "csv":
        _write_csv(table, out / "transactions.csv")
    else:
        pq.write_table(table, out / "transactions.parquet", compression="zstd")
    del table
    log(f"transactions.{fmt} written")

    # ---- customers (written in customer number order)
    first_s = np.minimum.reduceat(o_ts, np.r_[0, np.cumsum(np.bincount(o_cust, minlength=N))[:-1]])
    last_s = np.maximum.reduceat(o_ts, np.r_[0, np.cumsum(np.bincount(o_cust, minlength=N))[:-1]])
    back = np.minimum(np.floor(rng.exponential(90.0, N)), 900).astype(np.int64)
    new = persona_of == PERSONA_NAMES.index("newcomers")
    back[new] = rng.integers(0, 15, int(new.sum()))
    signup_day = first_s // DAY - back
    by_num = np.empty(N, dtype=np.int64)
    by_num[cust_num - 1] = np.arange(N)  # customer number - 1 -> internal index
    birth = np.clip(np.round(rng.normal(1982, 13, N)), 1950, 2005).astype(np.int32)
    customers = pa.table({
        "customer_id": cust_ids,
        "signup_date": pa.array((signup_day[by_num] + START_EPOCH // DAY).astype(np.int32), type=pa.date32()),
        "birth_year": pa.array(birth),
        "gender": pa.array(GENDERS).take(pa.array(_choice(rng, _GENDER_P, N))),
        "region": pa.array(REGIONS).take(pa.array(_choice(rng, _REGION_P, N))),
    })
    pq.write_table(customers, out / "customers.parquet", compression="zstd")
    del customers

    # ---- products
    by_prod_num = np.argsort(prod_num)
    _write_csv(pa.table({
        "product_id": prod_ids.take(pa.array(by_prod_num)),
        "category": pa.array(CATEGORIES).take(pa.array(prod_cat[by_prod_num])),
        "list_price": _money(list_cents[by_prod_num]),
    }), out / "products.csv")

    # ---- events: a few per customer around their active period, in time order
    (out / "events.csv").unlink(missing_ok=True)
    if events:
        n_ev = 1 + rng.poisson(2.5, N)
        e_c = np.repeat(np.arange(N), n_ev)
        lo = np.maximum(first_s - 14 * DAY, 0)[e_c]
        hi = np.minimum(last_s + 14 * DAY, END_S)[e_c]
        e_ts = lo + (rng.random(len(e_c)) * (hi - lo + 1)).astype(np.int64)
        e_type = _choice(rng, _EVENT_P, len(e_c))
        e_prod = np.empty(len(e_c), dtype=np.int16)
        e_persona = persona_of[e_c]
        for p, name in enumerate(PERSONA_NAMES):
            m = np.flatnonzero(e_persona == p)
            e_prod[m] = _pick_products(rng, PERSONAS[name], len(m), cat_start, cat_count)
        order = np.lexsort((cust_num[e_c], e_ts))
        e_c, e_ts, e_type, e_prod = e_c[order], e_ts[order], e_type[order], e_prod[order]
        search = pa.array(e_type == EVENT_TYPES.index("search"))
        _write_csv(pa.table({
            "customer_id": cust_ids.take(pa.array(cust_num[e_c] - 1)),
            "event_ts": _ts_text(e_ts),
            "event_type": pa.array(EVENT_TYPES).take(pa.array(e_type)),
            "product_id": pc.if_else(search, pa.scalar(None, pa.string()), prod_ids.take(pa.array(e_prod))),
        }), out / "events.csv")
        log(f"{len(e_c):,} events written")

    # ---- ground truth
    persona_by_num = persona_of[by_num]
    _write_csv(pa.table({
        "customer_id": cust_ids,
        "persona": pa.array(PERSONA_NAMES).take(pa.array(persona_by_num)),
    }), out / "ground_truth" / "personas.csv")
    truth = {
        "input_rows": int(total),
        "rejected_by_reason": {r: int((kind == i).sum()) for i, r in enumerate(REASONS)},
        "accepted_rows": int(n_valid),
        "returns": int(n_returns),
    }
    (out / "ground_truth" / "bad_rows.json").write_text(json.dumps(truth, indent=2) + "\n")
    log("done")
    return truth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_models.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, required=True, help="number of customers")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="transactions file format")
    parser.add_argument("--events", action=argparse.BooleanOptionalAction, default=None,
                        help=f"write events.csv (default: on for <= {EVENTS_DEFAULT_MAX_CUSTOMERS:,} customers)")
    parser.add_argument("--verbose", "-v", action="store_true", help="progress and timings on stderr")
    args = parser.parse_args(argv)
    t = time.perf_counter()
    truth = generate(args.customers, args.seed, args.out, fmt=args.format, events=args.events,
                     verbose=args.verbose)
    print(json.dumps(truth))
    print(f"wrote {args.out} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
