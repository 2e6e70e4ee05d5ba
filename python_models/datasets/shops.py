"""Deterministic synthetic shops for demos, tests and benchmarks: one generator, many named configurations.

    python -m python_models.datasets shop --config demo --customers 10000 --seed 42 --out data/demo
                                          [--format csv|parquet] [--events/--no-events] ...

``write_shop(config, out_dir)`` writes the raw input contract into ``out_dir``:

- ``transactions.csv`` (or ``.parquet``): one row per order line, every column text:
  ``order_id, customer_id, order_ts, product_id, category, quantity, unit_price, channel`` (no ``category``
  column when the shop has no categories). Returns are lines with a negative quantity and their own ``order_id``.
  With bad rows on, a known number of bad rows of each kind (see ``REASONS``) is interleaved among the valid
  ones, each bad in exactly one way.
- ``customers.parquet`` (with demographics on): ``customer_id, signup_date, birth_year, gender, region``.
- ``products.csv``: ``product_id, category, list_price`` (``product_id, list_price`` without categories).
- ``events.csv`` (default on for N <= 200k): ``customer_id, event_ts, event_type, product_id``.
- ``ground_truth/``, which the pipeline never reads: ``personas.csv`` (``customer_id, persona``: the planted
  label), ``bad_rows.json`` (``input_rows, rejected_by_reason, accepted_rows, returns``), ``traits.csv``
  (``customer_id, behaviour, whale``: the persona whose behaviour the customer was drawn from, which differs
  from the label for label-noise customers, and whether the customer is a whale) and ``config.json`` (the
  configuration, the catalogue's groups and every persona's traits and parameters).

Two kinds of world: ``personas="demo"`` is the hand-written six-persona, eight-category shop (the project's demo,
byte-identical to what it always was for the same customers and seed); ``personas="procedural"`` draws the
catalogue and the personas from the seed (``python_models.datasets.personas``). The same configuration gives
byte-identical files. Orders lie in the fixed window 2024-01-01 .. 2025-12-31 23:59:59 and at least one valid line
is dated 2025-12-31, so the pipeline's as-of (latest order timestamp not after today) is always on 2025-12-31.

Everything is vectorised numpy; Python loops run only over personas, product groups or the bad-row kinds.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .anomalies import ANOMALY_KINDS, anomaly_block, anomaly_count

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
WHALE_QTY_MAX = 20_000  # a whale's line quantity is capped here


def _cats(**weights: float) -> np.ndarray:
    """Category probabilities: named weights, the remainder spread evenly over the other categories."""
    p = np.zeros(len(CATEGORIES))
    for name, w in weights.items():
        p[CATEGORIES.index(name)] = w
    rest = [i for i, c in enumerate(CATEGORIES) if c not in weights]
    if rest:
        p[rest] = (1.0 - p.sum()) / len(rest)
    return p / p.sum()


# A persona spec (the demo's below, procedural ones in personas.py): share, order count (base + Poisson(lam) or
# base + Binomial(n, p)), active window in days since 2024-01-01, lines per order (1 + Binomial(k, p)), quantity
# (1 + Binomial(k, p)), price quantile band within a product group (products are sorted by price), group ("cats")
# and channel (web, app, store) mix, return rate per line. Flags: pin_last (each customer's last order on the
# end of its window), dormant (no order near the end: never moved to 2025-12-31), new (signed up just before the
# first order).
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
        channels=(0.25, 0.65, 0.10), returns=0.04, new=True,
    ),
    "lapsed": dict(
        # last activity at least 300 days before the end, so even a return (<= 30 days later) is > 250 days old
        share=0.20, orders=("binomial", 2, 3, 0.5), first=(0, 250), last=("after_first_cap", 20, 250, N_DAYS - 300),
        lines=(2, 0.25), qty=(1, 0.2), price_q=(0.30, 0.65),
        cats=_cats(Home=0.38, Books=0.32), channels=(0.70, 0.10, 0.20), returns=0.05, dormant=True,
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
# Configuration and world
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopConfig:
    """One synthetic shop: everything that decides its files (with the output format).

    Parameters
    ----------
    name : str
        The configuration's name (``SHOP_CONFIGS`` in ``families.py`` holds the named ones).
    description : str
        One line: what the shop is for.
    n_customers : int
        Customers, every one with at least one valid purchase line.
    n_personas : int
        Planted personas (segments).
    n_categories : int
        Product categories; 0: no ``category`` column anywhere (the products still fall into hidden ranges
        that personas prefer, so taste lives in the customer x product matrix only).
    shares : tuple of float, optional
        Persona shares, in persona order (they are normalised); None: drawn from the seed within
        ``share_range``.
    share_range : (float, float)
        Bounds of drawn shares.
    whale_share : float
        Share of each persona's customers who buy like wholesalers: every line's quantity multiplied by a
        Pareto-tailed factor of their own (their label stays).
    label_noise : float
        Share of each persona's customers whose behaviour is drawn from another persona while their label keeps
        the original one.
    region_shift : float
        Strength of the planted market shifts (0: none, the default; up to 1). Above 0 each customer's region is
        drawn before their behaviour, and every (persona, region) pair buys with its own spend level, cadence,
        channel mix and category mix, and in some regions a persona that lapses elsewhere stays active (or the
        reverse): the same persona behaves differently market by market (``regions.py``). The second year (the
        later period) also shifts every region towards the app and higher prices. Regions are written to
        ``customers.parquet`` (demographics on).
    labels_per_persona : int
        With region shifts: write ``segment_labels.csv`` (``customer_id, label, source``), this many customers of
        each persona in ``labelled_region`` labelled with the persona's name, as analysts or a survey would
        (0: no file).
    labelled_region : str
        The held-out region the labels come from (one of ``REGIONS``).
    anomalies : float
        Anomalous customers planted *beside* the ``n_customers`` persona customers, as a share of them (0: none;
        see ``anomalies.py``): listed in ``ground_truth/anomalies.csv``, left out of ``personas.csv``.
    events, demographics, bad_rows : bool
        Write ``events.csv`` (None: for up to 200k customers), ``customers.parquet``, bad rows.
    seed : int
        Seeds the data and, for procedural personas, the catalogue and the personas.
    personas : {"procedural", "demo"}
        ``"demo"``: the six hand-written personas over the eight fixed categories (needs ``n_personas=6`` and
        ``n_categories=8``); ``"procedural"``: drawn from the seed.
    """

    name: str
    description: str = ""
    n_customers: int = 10_000
    n_personas: int = 6
    n_categories: int = 8
    shares: tuple[float, ...] | None = None
    share_range: tuple[float, float] = (0.02, 0.40)
    whale_share: float = 0.0
    label_noise: float = 0.0
    anomalies: float = 0.0
    region_shift: float = 0.0
    labels_per_persona: int = 0
    labelled_region: str = "Central"
    events: bool | None = None
    demographics: bool = True
    bad_rows: bool = True
    seed: int = 42
    personas: str = "procedural"

    def __post_init__(self):
        if self.n_customers < 1:
            raise ValueError("n_customers must be >= 1")
        if not 2 <= self.n_personas <= 12:
            raise ValueError("n_personas must be in 2..12")
        if self.n_categories != 0 and not 2 <= self.n_categories <= 60:
            raise ValueError("n_categories must be 0 (no category column) or in 2..60")
        if self.personas not in ("procedural", "demo"):
            raise ValueError("personas must be 'procedural' or 'demo'")
        if self.personas == "demo" and (self.n_personas != 6 or self.n_categories != len(CATEGORIES)):
            raise ValueError("the demo personas need n_personas=6 and n_categories=8")
        if self.shares is not None:
            object.__setattr__(self, "shares", tuple(float(s) for s in self.shares))
            if len(self.shares) != self.n_personas or min(self.shares) <= 0:
                raise ValueError("shares needs one positive share per persona")
        lo, hi = self.share_range
        object.__setattr__(self, "share_range", (float(lo), float(hi)))
        if not (0 < lo <= 1 / self.n_personas <= hi <= 1):
            raise ValueError(f"share_range {self.share_range} cannot hold {self.n_personas} shares")
        if not 0 <= self.whale_share <= 0.2:
            raise ValueError("whale_share must be in [0, 0.2]")
        if not 0 <= self.label_noise <= 0.5:
            raise ValueError("label_noise must be in [0, 0.5]")
        if not 0 <= self.anomalies <= 0.2:
            raise ValueError("anomalies must be in [0, 0.2]")
        if not 0 <= self.region_shift <= 1:
            raise ValueError("region_shift must be in [0, 1]")
        if self.labels_per_persona < 0 or (self.labels_per_persona and not self.region_shift):
            raise ValueError("labels_per_persona needs region_shift > 0 (labels come from one shifted region)")
        if self.labelled_region not in REGIONS:
            raise ValueError(f"labelled_region must be one of {REGIONS}")

    def replace(self, **changes) -> ShopConfig:
        """A copy with some fields changed (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shares"] = list(self.shares) if self.shares is not None else None
        d["share_range"] = list(self.share_range)
        # configurations without anomalies or market shifts describe themselves as they always did
        if not self.anomalies:
            del d["anomalies"]
        if not self.region_shift:
            for name in ("region_shift", "labels_per_persona", "labelled_region"):
                del d[name]
        return d


@dataclass(frozen=True, eq=False)
class World:
    """What a configuration's shop sells and who buys there.

    ``groups`` are the category names, or with ``category_column=False`` the names of hidden product ranges that
    only shape taste; ``group_products`` and ``group_price_range`` size and price each group; ``personas`` maps a
    persona's name to its spec (see ``PERSONAS``), ``traits`` a procedural persona's name to its discrete traits.
    """

    groups: tuple[str, ...]
    category_column: bool
    group_products: np.ndarray
    group_price_range: np.ndarray
    personas: dict[str, dict]
    traits: dict[str, dict] | None = None
    background: np.ndarray | None = None


def demo_world() -> World:
    return World(CATEGORIES, True, _CAT_PRODUCTS, _CAT_PRICE_RANGE, PERSONAS)


def build_world(config: ShopConfig) -> World:
    if config.personas == "demo":
        if config.shares is None:
            return demo_world()
        shares = np.asarray(config.shares) / sum(config.shares)
        personas = {name: dict(spec, share=float(s)) for (name, spec), s in zip(PERSONAS.items(), shares)}
        return World(CATEGORIES, True, _CAT_PRODUCTS, _CAT_PRICE_RANGE, personas)
    from .personas import procedural_world

    return procedural_world(config)


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------


def _persona_counts(shares, n: int) -> np.ndarray:
    """Exact persona sizes by largest remainder (ties to the earlier persona)."""
    shares = np.asarray(shares, dtype=float)
    raw = shares * n
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: max(n - counts.sum(), 0)]] += 1
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


def _products(rng: np.random.Generator, group_products: np.ndarray, group_price_range: np.ndarray):
    """Products sorted internally by (group, price); returns (group, list cents, product number)."""
    cat = np.repeat(np.arange(len(group_products)), group_products).astype(np.int8)
    lo, hi = np.log(group_price_range[cat, 0]), np.log(group_price_range[cat, 1])
    start = np.repeat(np.cumsum(group_products) - group_products, group_products)
    frac = (np.arange(len(cat)) - start) / (group_products[cat] - 1)
    price = np.exp(lo + frac * (hi - lo)) * (1 + rng.uniform(-0.06, 0.06, len(cat)))
    price = np.where(price >= 5, np.round(price) - 0.01, np.round(price, 1) - 0.01)  # shop prices: x.99 / x.x9
    cents = np.round(price * 100).astype(np.int64)
    # keep price order within a group (the jitter may swap neighbours)
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
    if "price_factor" in spec:  # a persona's spend level in one market (regions.py)
        noise = noise * spec["price_factor"]
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


def _customer_traits(config: ShopConfig, counts: np.ndarray):
    """Label, behaviour persona, whale flag and whale quantity factor per internal customer, grouped by behaviour.

    Drawn from a stream of their own, and only when the configuration has whales or label noise, so a shop
    without either takes the same draws from the main stream as it always did.
    """
    n_p = len(counts)
    label = np.repeat(np.arange(n_p, dtype=np.int8), counts)
    n = len(label)
    behaviour = label.copy()
    whale = np.zeros(n, dtype=bool)
    factor = np.ones(n, dtype=np.int64)
    if config.label_noise == 0 and config.whale_share == 0:
        return label, behaviour, whale, factor, counts
    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 20240101, 1]))
    starts = np.cumsum(counts) - counts

    def pick(share):
        """An exact, random share of each persona's customers (rounded per persona)."""
        take = np.round(share * counts).astype(np.int64)
        key = rng.random(n)
        order = np.lexsort((key, label))  # label blocks are contiguous, so order stays within each block
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n) - starts[label[order]]
        return pos < take[label]

    if config.label_noise > 0 and n_p > 1:
        noisy = pick(config.label_noise)
        behaviour[noisy] = (label[noisy] + rng.integers(1, n_p, int(noisy.sum()))) % n_p
    if config.whale_share > 0:
        whale = pick(config.whale_share)
        # Pareto (Lomax, alpha 1.3) tail on top of a wholesale minimum of 6: half the whales buy <= ~10x, a few
        # buy hundreds of times what their persona does
        factor[whale] = np.minimum(np.round(6 * (1 + rng.pareto(1.3, int(whale.sum())))), 2_000).astype(np.int64)
    order = np.argsort(behaviour, kind="stable")
    label, behaviour, whale, factor = label[order], behaviour[order], whale[order], factor[order]
    return label, behaviour, whale, factor, np.bincount(behaviour, minlength=n_p)


def write_shop(config: ShopConfig, out_dir, fmt: str = "csv", verbose: bool = False) -> dict:
    """Write the shop of ``config`` into out_dir; return the bad-row truth (also in ground_truth/bad_rows.json)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError("fmt must be 'csv' or 'parquet'")
    world = build_world(config)
    events = config.events
    if events is None:
        events = config.n_customers <= EVENTS_DEFAULT_MAX_CUSTOMERS
    out = Path(out_dir)
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def log(msg):
        if verbose:
            print(f"[shop {config.name} {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 20240101]))
    N = int(config.n_customers)
    names = tuple(world.personas)
    specs = [world.personas[p] for p in names]
    groups = world.groups

    # ---- catalogue
    prod_cat, list_cents, prod_num = _products(rng, world.group_products, world.group_price_range)
    cat_count = world.group_products
    cat_start = np.cumsum(cat_count) - cat_count

    # ---- customers: internal index grouped by behaviour persona, customer number randomly permuted
    counts = _persona_counts([s["share"] for s in specs], N)
    label_of, persona_of, whale_of, factor_of, b_counts = _customer_traits(config, counts)
    cust_num = (rng.permutation(N) + 1).astype(np.int64)  # internal index -> customer number
    M = anomaly_count(N, config.anomalies)  # anomalous customers, internal index N .. N + M - 1
    markets = None
    if config.region_shift:
        from .regions import build_markets

        markets = build_markets(config, specs, persona_of, len(groups))

    # ---- orders and lines, persona by persona (and region by region in a shop with markets)
    blocks, offset_c, offset_o = [], 0, 0
    for p, spec in enumerate(specs):
        n = int(b_counts[p])
        if n == 0:
            continue
        if markets is None:
            b = _persona_block(rng, spec, n, cat_start, cat_count, list_cents)
        else:
            b = markets.block(_persona_block, p, rng, offset_c, n, cat_start, cat_count, list_cents)
        b["cust"] = b["cust"] + offset_c
        b["line_order"] = b["line_order"] + offset_o
        b["persona"] = np.full(len(b["ts"]), p, dtype=np.int8)
        offset_c += n
        offset_o += len(b["ts"])
        blocks.append(b)
    if M:  # from a stream of their own; they take customer numbers among everyone's
        arng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 20240101, 2]))
        b, anomaly_kind = anomaly_block(arng, M, specs, N_DAYS, _persona_block, cat_start, cat_count, list_cents)
        b["cust"] = b["cust"] + offset_c
        b["line_order"] = b["line_order"] + offset_o
        b["persona"] = np.full(len(b["ts"]), -1, dtype=np.int8)
        blocks.append(b)
        cust_num = (arng.permutation(N + M) + 1).astype(np.int64)
        factor_of = np.r_[factor_of, np.ones(M, dtype=np.int64)]

    def cat_(key):
        return np.concatenate([b[key] for b in blocks])

    o_cust, o_ts, o_chan, o_persona = cat_("cust"), cat_("ts"), cat_("channel"), cat_("persona")
    l_order, l_pos, l_prod, l_qty, l_cents, l_ret = (
        cat_("line_order"), cat_("pos"), cat_("product"), cat_("qty"), cat_("cents"), cat_("returned"))
    del blocks
    if markets is not None:
        markets.later_period(o_ts, o_chan, l_order, l_cents, config.region_shift)
    if whale_of.any():  # wholesale quantities on every line of a whale
        l_qty = np.minimum(l_qty.astype(np.int64) * factor_of[o_cust[l_order]], WHALE_QTY_MAX).astype(np.int32)
    n_orders = len(o_ts)
    log(f"{n_orders:,} orders, {len(l_order):,} purchase lines")

    # ---- make sure the latest valid order is on 2025-12-31 (deterministically)
    dormant = [p for p, s in enumerate(specs) if s.get("dormant")]
    cand = np.flatnonzero(~np.isin(o_persona, dormant))
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
    per_kind = bad_rows_per_kind(N) if config.bad_rows else 0
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
    cust_width = max(7, len(str(N + M)))
    order_width = max(8, len(str(n_groups)))
    cust_ids = _padded("C", np.arange(1, N + M + 1), cust_width)
    prod_ids = _padded("P", prod_num, max(4, len(str(len(prod_num)))))
    col = {}
    col["order_id"] = _padded("O", f_onum, order_width)
    del f_onum
    col["customer_id"] = cust_ids.take(pa.array(f_cust - 1))
    del f_cust
    col["order_ts"] = _ts_text(f_ts)
    del f_ts
    col["product_id"] = prod_ids.take(pa.array(f_prod))
    if world.category_column:
        col["category"] = pa.array(groups).take(pa.array(prod_cat[f_prod]))
    del f_prod
    col["quantity"] = pa.array(f_qty.astype(np.int32)).cast(pa.string())
    del f_qty
    col["unit_price"] = _money(f_cents)
    col["channel"] = pa.array(CHANNELS).take(pa.array(f_chan))
    del f_chan

    def patch(name, reason, values):
        k = REASONS.index(reason)
        rows = bad_pos[kind == k]
        if len(rows) == 0:
            return
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
    table = pa.table({c: col.pop(c) for c in TRANSACTION_COLUMNS if c in col})
    log("text columns built")

    for ext in ("csv", "parquet"):
        (out / f"transactions.{ext}").unlink(missing_ok=True)
    if fmt == "csv":
        _write_csv(table, out / "transactions.csv")
    else:
        pq.write_table(table, out / "transactions.parquet", compression="zstd")
    del table
    log(f"transactions.{fmt} written")

    # ---- customers (written in customer number order; drawn even when not written, so the events stay put)
    first_s = np.minimum.reduceat(o_ts, np.r_[0, np.cumsum(np.bincount(o_cust, minlength=N))[:-1]])
    last_s = np.maximum.reduceat(o_ts, np.r_[0, np.cumsum(np.bincount(o_cust, minlength=N))[:-1]])
    back = np.minimum(np.floor(rng.exponential(90.0, N)), 900).astype(np.int64)
    new = np.isin(persona_of, [p for p, s in enumerate(specs) if s.get("new")])
    back[new] = rng.integers(0, 15, int(new.sum()))
    if M:
        back = np.r_[back, np.minimum(np.floor(arng.exponential(90.0, M)), 900).astype(np.int64)]
    signup_day = first_s // DAY - back
    by_num = np.empty(N + M, dtype=np.int64)
    by_num[cust_num - 1] = np.arange(N + M)  # customer number - 1 -> internal index
    birth = np.clip(np.round(rng.normal(1982, 13, N)), 1950, 2005).astype(np.int32)
    gender = _choice(rng, _GENDER_P, N)
    region = _choice(rng, _REGION_P, N)
    if markets is not None:  # drawn before the behaviour, which depends on it
        region = markets.region_of
    if M:
        birth = np.r_[birth, np.clip(np.round(arng.normal(1982, 13, M)), 1950, 2005).astype(np.int32)]
        gender = np.r_[gender, _choice(arng, _GENDER_P, M)]
        region = np.r_[region, _choice(arng, _REGION_P, M)]
    if markets is not None:  # by customer number, as the other columns
        region = region[by_num]
    (out / "customers.parquet").unlink(missing_ok=True)
    if config.demographics:
        customers = pa.table({
            "customer_id": cust_ids,
            "signup_date": pa.array((signup_day[by_num] + START_EPOCH // DAY).astype(np.int32), type=pa.date32()),
            "birth_year": pa.array(birth),
            "gender": pa.array(GENDERS).take(pa.array(gender)),
            "region": pa.array(REGIONS).take(pa.array(region)),
        })
        pq.write_table(customers, out / "customers.parquet", compression="zstd")
        del customers

    # ---- products
    by_prod_num = np.argsort(prod_num)
    products = {"product_id": prod_ids.take(pa.array(by_prod_num))}
    if world.category_column:
        products["category"] = pa.array(groups).take(pa.array(prod_cat[by_prod_num]))
    products["list_price"] = _money(list_cents[by_prod_num])
    _write_csv(pa.table(products), out / "products.csv")

    # ---- labels of a few customers per persona in the held-out region
    (out / "segment_labels.csv").unlink(missing_ok=True)
    if markets is not None and config.labels_per_persona:
        _write_csv(markets.labels(label_of, names, cust_ids, cust_num, config.labels_per_persona,
                                  config.labelled_region), out / "segment_labels.csv")

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
        for p, spec in enumerate(specs):
            m = np.flatnonzero(e_persona == p)
            e_prod[m] = _pick_products(rng, spec, len(m), cat_start, cat_count)
        if M:  # anomalous customers browse too, any product
            a_c = N + np.repeat(np.arange(M), 1 + arng.poisson(2.5, M))
            a_lo, a_hi = np.maximum(first_s - 14 * DAY, 0)[a_c], np.minimum(last_s + 14 * DAY, END_S)[a_c]
            e_c = np.r_[e_c, a_c]
            e_ts = np.r_[e_ts, a_lo + (arng.random(len(a_c)) * (a_hi - a_lo + 1)).astype(np.int64)]
            e_type = np.r_[e_type, _choice(arng, _EVENT_P, len(a_c))]
            e_prod = np.r_[e_prod, arng.integers(0, len(prod_cat), len(a_c)).astype(np.int16)]
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

    # ---- ground truth (the personas' customers only; anomalous ones in anomalies.csv)
    persona_ids = cust_ids
    (out / "ground_truth" / "anomalies.csv").unlink(missing_ok=True)
    if M:
        planted = by_num >= N  # by customer number
        persona_ids, by_num = cust_ids.filter(pa.array(~planted)), by_num[~planted]
        by_number = np.argsort(cust_num[N:])
        _write_csv(pa.table({
            "customer_id": cust_ids.take(pa.array(cust_num[N:][by_number] - 1)),
            "kind": pa.array(ANOMALY_KINDS).take(pa.array(anomaly_kind[by_number])),
        }), out / "ground_truth" / "anomalies.csv")
    _write_csv(pa.table({
        "customer_id": persona_ids,
        "persona": pa.array(names).take(pa.array(label_of[by_num])),
    }), out / "ground_truth" / "personas.csv")
    _write_csv(pa.table({
        "customer_id": persona_ids,
        "behaviour": pa.array(names).take(pa.array(persona_of[by_num])),
        "whale": pa.array(whale_of[by_num].astype(np.int8)),
    }), out / "ground_truth" / "traits.csv")
    truth = {
        "input_rows": int(total),
        "rejected_by_reason": {r: int((kind == i).sum()) for i, r in enumerate(REASONS)},
        "accepted_rows": int(n_valid),
        "returns": int(n_returns),
    }
    (out / "ground_truth" / "bad_rows.json").write_text(json.dumps(truth, indent=2) + "\n")
    description = describe(config, world, counts)
    (out / "ground_truth" / "config.json").write_text(json.dumps(description, indent=2) + "\n")
    log("done")
    return truth


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def describe(config: ShopConfig, world: World | None = None, counts: np.ndarray | None = None) -> dict:
    """The content of ground_truth/config.json: configuration, catalogue groups and personas."""
    world = world or build_world(config)
    if counts is None:
        counts = _persona_counts([s["share"] for s in world.personas.values()], config.n_customers)
    personas = []
    for (name, spec), n in zip(world.personas.items(), counts):
        entry = {"name": name, "share": spec["share"], "customers": int(n)}
        if world.traits:
            entry["traits"] = world.traits[name]
        entry["spec"] = {k: v for k, v in spec.items() if k != "share"}
        personas.append(entry)
    return _jsonable({
        "config": config.to_dict(),
        "category_column": world.category_column,
        "groups": [
            {"name": g, "products": int(n), "price_range": list(r)}
            for g, n, r in zip(world.groups, world.group_products, world.group_price_range)
        ],
        "personas": personas,
    })
