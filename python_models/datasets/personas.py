"""Procedural worlds: a catalogue and personas drawn from a configuration's seed.

A persona combines one level of each behavioural aspect, then perturbs every number a little:

- **lifecycle** (recency pattern and order cadence): ``frequent`` (many orders over the last year, active till the
  end), ``loyal`` (a steady few orders a quarter for two years, active till the end), ``cooling`` (bought
  regularly, stopped 4-8 months ago), ``lapsed`` (2-5 orders, nothing in the last 300 days), ``new`` (1-3 orders,
  first one in the last three months), ``occasional`` (1-3 orders anywhere in the two years);
- **basket**: ``single`` (one item), ``regular`` (two or three items), ``bulk`` (several lines, several of each);
- **price** band within a product group: ``budget``, ``mid``, ``premium``;
- **channel** mix: mostly ``web``, ``app`` or ``store``, or ``mixed``;
- **taste**: 2-4 favourite product groups (categories, or hidden product ranges when the shop has no category
  column) drawn uniformly, so with 24 or 60 categories favourites are often outside the most popular ones;
- **returns**: ``low`` or ``high`` return rate.

Any two personas differ in at least two aspects (taste counts as different when the first favourites differ and
the favourites share at most one group), and at least one pair shares at least two aspects: segments are
distinguishable, but not every persona differs from every other in everything. Persona names are words built from
the traits, detailed just enough to be unique ("lapsed web buyers of Home").
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .shops import N_DAYS, ShopConfig, World

CATEGORY_NAMES = (
    "Electronics", "Fashion", "Home", "Beauty", "Grocery", "Sports", "Toys", "Books", "Garden", "Kitchen",
    "Pet Supplies", "Office", "Music", "Films", "Video Games", "Jewellery", "Shoes", "Baby", "Health",
    "Automotive", "DIY", "Crafts", "Stationery", "Outdoor", "Lighting", "Furniture", "Bedding", "Bath", "Wine",
    "Tea and Coffee", "Snacks", "Fitness", "Cycling", "Camping", "Fishing", "Travel", "Luggage", "Watches",
    "Eyewear", "Phones", "Computers", "Cameras", "Audio", "Smart Home", "Party", "Gifts", "Greeting Cards",
    "Art Supplies", "Sewing", "Plants", "Tools", "Cleaning", "Storage", "Kidswear", "Menswear", "Womenswear",
    "Lingerie", "Swimwear", "Outerwear", "Accessories",
)
RANGE_NAMES = (
    "Alder", "Ash", "Beech", "Birch", "Cedar", "Cherry", "Elm", "Fir", "Hazel", "Holly", "Juniper", "Larch",
    "Linden", "Maple", "Oak", "Pine", "Rowan", "Spruce", "Willow", "Yew",
)
HIDDEN_RANGES = len(RANGE_NAMES)  # product ranges of a shop without categories
HIDDEN_RANGE_PRODUCTS = 1_200

ASPECTS = ("lifecycle", "basket", "price", "channel", "taste", "returns")
LEVELS = {
    "lifecycle": ("frequent", "loyal", "cooling", "lapsed", "new", "occasional"),
    "basket": ("single", "regular", "bulk"),
    "price": ("budget", "mid", "premium"),
    "channel": ("web", "app", "store", "mixed"),
    "returns": ("low", "high"),
}
_LEVEL_P = {
    "lifecycle": (0.18, 0.20, 0.14, 0.16, 0.14, 0.18),
    "basket": (0.30, 0.45, 0.25),
    "price": (0.35, 0.35, 0.30),
    "channel": (0.30, 0.30, 0.22, 0.18),
    "returns": (0.70, 0.30),
}
_WORDS = {
    "lifecycle": {"frequent": "frequent", "loyal": "loyal", "cooling": "cooling", "lapsed": "lapsed",
                  "new": "new", "occasional": "occasional"},
    "price": {"budget": "bargain", "mid": "", "premium": "premium"},
    "basket": {"single": "single-item", "regular": "", "bulk": "bulk"},
    "channel": {"web": "web", "app": "app", "store": "in-store", "mixed": "omnichannel"},
    "returns": {"low": "", "high": "who return a lot"},
}
_DORMANT = ("cooling", "lapsed")


# --------------------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------------------


def _catalogue(rng: np.random.Generator, n_categories: int):
    """Group names, products per group, (low, high) list price per group, background popularity."""
    if n_categories == 0:
        names = RANGE_NAMES
        total = HIDDEN_RANGE_PRODUCTS
    else:
        if n_categories > len(CATEGORY_NAMES):
            raise ValueError(f"at most {len(CATEGORY_NAMES)} categories")
        names = tuple(CATEGORY_NAMES[i] for i in np.sort(rng.choice(len(CATEGORY_NAMES), n_categories, replace=False)))
        total = 200 + 22 * n_categories
    g = len(names)
    products = 5 + np.floor(rng.dirichlet(np.full(g, 3.0)) * (total - 5 * g)).astype(np.int64)
    low = np.round(np.exp(rng.uniform(np.log(0.8), np.log(25.0), g)), 2)
    high = np.round(low * np.exp(rng.uniform(2.0, 5.0, g)), 2)
    background = np.empty(g)
    background[rng.permutation(g)] = 1.0 / (1.0 + np.arange(g)) ** 0.8
    return names, products, np.column_stack([low, high]), background / background.sum()


# --------------------------------------------------------------------------------------------------------
# Shares
# --------------------------------------------------------------------------------------------------------


def draw_shares(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    """n shares summing to 1, each in [lo, hi]: a Dirichlet draw projected onto the box (shift and clip)."""
    x = rng.dirichlet(np.full(n, 2.0))
    a, b = lo - x.max(), hi - x.min()  # clip(x + t) sums to n*lo at t=a and n*hi at t=b
    for _ in range(100):
        t = (a + b) / 2
        if np.clip(x + t, lo, hi).sum() < 1:
            a = t
        else:
            b = t
    s = np.clip(x + (a + b) / 2, lo, hi)
    s = np.round(s / s.sum(), 4)
    residual = 1 - s.sum()  # back to an exact sum after rounding, on the share furthest from the bound it nears
    s[np.argmax(hi - s) if residual > 0 else np.argmax(s - lo)] += residual
    return s


# --------------------------------------------------------------------------------------------------------
# Personas
# --------------------------------------------------------------------------------------------------------


def _taste_differs(a: list[int], b: list[int]) -> bool:
    return a[0] != b[0] and len(set(a) & set(b)) <= 1


def differences(t1: dict, t2: dict) -> list[str]:
    """The aspects in which two personas' traits differ clearly."""
    return [a for a in ASPECTS
            if (_taste_differs(t1["taste"], t2["taste"]) if a == "taste" else t1[a] != t2[a])]


def _draw_traits(rng: np.random.Generator, n_groups: int) -> dict:
    t = {a: LEVELS[a][int(rng.choice(len(LEVELS[a]), p=_LEVEL_P[a]))] for a in LEVELS}
    max_fav = min(4, max(2, -(-n_groups // 3)))
    n_fav = int(rng.integers(2, max_fav + 1))
    t["taste"] = [int(g) for g in rng.choice(n_groups, n_fav, replace=False)]
    return {a: t[a] for a in ASPECTS}


def _persona_traits(rng: np.random.Generator, n: int, n_groups: int) -> list[dict]:
    """n trait sets, pairwise different in >= 2 aspects, some pair alike in >= 2, not all of them dormant."""
    for _ in range(500):
        traits: list[dict] = []
        for _ in range(n):
            for _ in range(500):
                t = _draw_traits(rng, n_groups)
                if all(len(differences(t, u)) >= 2 for u in traits):
                    traits.append(t)
                    break
            else:
                break
        if len(traits) < n or all(t["lifecycle"] in _DORMANT for t in traits):
            continue
        if max(len(ASPECTS) - len(differences(a, b)) for a, b in combinations(traits, 2)) < 2:
            continue
        return traits
    raise RuntimeError(f"cannot draw {n} distinguishable personas over {n_groups} groups")


def _spec(rng: np.random.Generator, t: dict, share: float, background: np.ndarray) -> dict:
    """A persona spec (see ``shops.PERSONAS``) from discrete traits, every number perturbed."""

    def u(a, b):
        return float(rng.uniform(a, b))

    spec: dict = {"share": float(share)}
    life = t["lifecycle"]
    if life == "frequent":
        spec.update(orders=("poisson", int(rng.integers(10, 14)), u(4.0, 7.0)),
                    first=(N_DAYS - int(u(260, 330)), N_DAYS - int(u(100, 160))), last=("end", 0, int(u(6, 14))),
                    pin_last=True)
    elif life == "loyal":
        spec.update(orders=("poisson", int(rng.integers(5, 8)), u(2.5, 4.0)), first=(0, int(u(100, 200))),
                    last=("end", 0, int(u(20, 40))), pin_last=True)
    elif life == "cooling":
        spec.update(orders=("poisson", 3, u(1.5, 2.5)), first=(0, int(u(220, 300))),
                    last=("end", int(u(120, 140)), int(u(220, 240))), dormant=True)
    elif life == "lapsed":
        # last activity at least 300 days before the end (a return comes at most 30 days later)
        spec.update(orders=("binomial", 2, 3, u(0.4, 0.6)), first=(0, int(u(200, 260))),
                    last=("after_first_cap", 20, int(u(200, 260)), N_DAYS - 300), dormant=True)
    elif life == "new":
        spec.update(orders=("binomial", 1, 2, u(0.3, 0.5)), first=(N_DAYS - int(u(75, 95)), N_DAYS - 1),
                    last=("end", 0, 0), new=True)
    else:  # occasional
        spec.update(orders=("binomial", 1, 2, u(0.3, 0.5)), first=(0, 0), last=("end", 0, 0))

    basket = t["basket"]
    if basket == "single":
        spec.update(lines=(1, u(0.10, 0.25)), qty=(0, 0.0))
    elif basket == "regular":
        spec.update(lines=(3, u(0.30, 0.40)), qty=(1, u(0.15, 0.30)))
    else:
        spec.update(lines=(4, u(0.50, 0.65)), qty=(5, u(0.40, 0.55)))

    spec["price_q"] = {"budget": (u(0.0, 0.04), u(0.26, 0.34)), "mid": (u(0.30, 0.38), u(0.62, 0.70)),
                       "premium": (u(0.70, 0.80), 1.0)}[t["price"]]

    channel = t["channel"]
    if channel == "mixed":
        c = 1 / 3 + rng.uniform(-0.06, 0.06, 3)
    else:
        top, split = u(0.62, 0.80), u(0.3, 0.7)
        c = np.empty(3)
        i = ("web", "app", "store").index(channel)
        c[i] = top
        c[[j for j in range(3) if j != i]] = ((1 - top) * split, (1 - top) * (1 - split))
    spec["channels"] = tuple(float(v) for v in c / c.sum())

    fav = np.zeros(len(background))
    fav[t["taste"]] = np.sort(rng.dirichlet(np.full(len(t["taste"]), 3.0)))[::-1]  # first favourite first
    concentration = u(0.60, 0.80)
    spec["cats"] = concentration * fav + (1 - concentration) * background
    spec["returns"] = u(0.01, 0.04) if t["returns"] == "low" else u(0.10, 0.16)
    return spec


def _name(t: dict, groups: tuple[str, ...], hidden: bool, detail: int) -> str:
    favs = [groups[g] for g in t["taste"]]
    taste = " & ".join(favs if detail >= 2 else favs[:1])
    taste = f"the {taste} range{'s' if ' & ' in taste else ''}" if hidden else taste
    words = [_WORDS["lifecycle"][t["lifecycle"]]]
    if detail >= 1:
        words += [_WORDS["price"][t["price"]], _WORDS["basket"][t["basket"]]]
    words += [_WORDS["channel"][t["channel"]], "buyers of", taste]
    if detail >= 3:
        words.append(_WORDS["returns"][t["returns"]])
    return " ".join(w for w in words if w)


def _names(traits: list[dict], groups: tuple[str, ...], hidden: bool) -> list[str]:
    """Unique names, each persona's only as detailed as needed to tell it from the others."""
    detail = [0] * len(traits)
    while True:
        names = [_name(t, groups, hidden, d) for t, d in zip(traits, detail)]
        clash = [i for i, n in enumerate(names) if names.count(n) > 1]
        if not clash:
            return names
        if all(detail[i] == 3 for i in clash):
            raise RuntimeError(f"personas with the same traits: {[names[i] for i in clash]}")
        for i in clash:
            detail[i] = min(detail[i] + 1, 3)


def procedural_world(config: ShopConfig) -> World:
    """The catalogue and personas of a procedural configuration, drawn from its seed.

    They depend on ``seed``, ``n_personas``, ``n_categories`` and ``shares``/``share_range`` only, so the same
    world can be generated at any size, with or without whales, label noise, events or demographics.

    Examples
    --------
    >>> world = procedural_world(ShopConfig("example", n_personas=4, n_categories=0, seed=1))
    >>> len(world.personas), world.category_column, len(world.groups)
    (4, False, 20)
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), config.n_personas, config.n_categories,
                                                        1_000_003]))
    groups, products, price_range, background = _catalogue(rng, config.n_categories)
    if config.shares is not None:
        shares = np.asarray(config.shares, dtype=float) / sum(config.shares)
    else:
        shares = draw_shares(rng, config.n_personas, *config.share_range)
    traits = _persona_traits(rng, config.n_personas, len(groups))
    specs = [_spec(rng, t, s, background) for t, s in zip(traits, shares)]
    hidden = config.n_categories == 0
    names = _names(traits, groups, hidden)
    readable = [{**t, "taste": [groups[g] for g in t["taste"]]} for t in traits]
    return World(
        groups=groups, category_column=not hidden, group_products=products, group_price_range=price_range,
        personas=dict(zip(names, specs)), traits=dict(zip(names, readable)), background=background,
    )
