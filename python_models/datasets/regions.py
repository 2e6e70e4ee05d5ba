"""Markets that differ: regions and periods whose personas shift, and a few labels from one held-out region.

With ``ShopConfig.region_shift`` above 0 every customer's region is drawn before their behaviour, and each
(persona, region) pair gets a spec of its own, shifted from the persona's by amounts drawn from the seed and scaled
by the shift:

- **spend level**: every price multiplied by ``exp(U(-1, 1) * shift)``;
- **cadence**: order counts multiplied by ``exp(U(-1, 1) * shift)``;
- **channel mix**: pulled towards the region's favourite channel;
- **category mix**: pulled towards the region's favourite group;
- **activity**: with probability ``shift / 2`` a persona that lapses elsewhere stays active in the region, or one
  that stays active elsewhere lapses there (new customers stay new), so whether a customer buys again depends on
  the market as well as on the persona.

The later period (2025) shifts every region: a share ``0.3 * shift`` of its orders move to the app and its
prices rise by ``25% * shift``. ``segment_labels.csv`` (``customer_id, label, source``) names the persona of
``labels_per_persona`` customers of each persona in ``labelled_region``.

Everything is drawn from a stream of its own, so the rest of the shop draws as it would without markets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .shops import DAY, N_DAYS, REGIONS, _REGION_P, _choice

__all__ = ["Markets", "build_markets"]

#: The later period starts on 2025-01-01 (day 366 of the window).
LATER_PERIOD_S = 366 * DAY
_CHANNELS = 3  # web, app, store
_APP = 1


def _shifted(spec: dict, rng: np.random.Generator, shift: float, channel: int, group: int, flip: bool) -> dict:
    """One persona's spec in one region (see the module docstring)."""
    out = dict(spec)
    cadence = float(np.exp(rng.uniform(-1, 1) * shift))
    out["price_factor"] = float(np.exp(rng.uniform(-1, 1) * shift))
    orders = spec["orders"]
    if orders[0] == "poisson":
        out["orders"] = ("poisson", max(1, int(round(orders[1] * cadence))), orders[2] * cadence)
    else:
        out["orders"] = ("binomial", orders[1], max(1, int(round(orders[2] * cadence))), orders[3])
    pull = 0.6 * shift * rng.uniform(0.5, 1.0)
    channels = (1 - pull) * np.asarray(spec["channels"]) + pull * np.eye(_CHANNELS)[channel]
    out["channels"] = tuple(float(v) for v in channels / channels.sum())
    pull = 0.5 * shift * rng.uniform(0.5, 1.0)
    cats = (1 - pull) * np.asarray(spec["cats"]) + pull * np.eye(len(spec["cats"]))[group]
    out["cats"] = cats / cats.sum()
    if flip and not spec.get("new"):
        if spec.get("dormant"):  # lapses elsewhere, stays active here
            out.update(last=("end", 0, 30), pin_last=True)
            out.pop("dormant")
        else:  # active elsewhere, lapses here: nothing in the last 240 days
            cap = N_DAYS - 240
            # a persona that starts buying after the cap (frequent ones start in the last year) starts in the 200
            # days before it instead: otherwise every order of its customers fell on their first second
            f_lo, f_hi = spec["first"]
            out.update(first=(min(f_lo, cap - 200), min(f_hi, cap - 20)), last=("after_first_cap", 20, 200, cap),
                       pin_last=False, dormant=True)
    return out


@dataclass
class Markets:
    """Per-customer regions (grouped within each behaviour persona's block) and per (persona, region) specs."""

    region_of: np.ndarray  # internal customer index -> region index into REGIONS
    specs: list[list[dict]]  # [persona][region]
    rng: np.random.Generator

    def block(self, persona_block, p: int, rng, start: int, n: int, *args) -> dict:
        """The orders of behaviour persona ``p``'s ``n`` customers (internal ``start`` ..), region by region."""
        regions = self.region_of[start:start + n]
        parts = []
        for r in range(len(REGIONS)):
            m = int((regions == r).sum())
            if m:
                parts.append(persona_block(rng, self.specs[p][r], m, *args))
        return _concat(parts)

    def later_period(self, o_ts: np.ndarray, o_chan: np.ndarray, l_order: np.ndarray, l_cents: np.ndarray,
                     shift: float) -> None:
        """The later period's shift, in place: orders moved to the app, prices raised."""
        later = o_ts >= LATER_PERIOD_S
        moved = later & (self.rng.random(len(o_ts)) < 0.3 * shift)
        o_chan[moved] = _APP
        raised = later[l_order]
        l_cents[raised] = np.round(l_cents[raised] * (1 + 0.25 * shift)).astype(l_cents.dtype)

    def labels(self, label_of: np.ndarray, names: tuple[str, ...], cust_ids: pa.Array, cust_num: np.ndarray,
               per_persona: int, region: str) -> pa.Table:
        """``per_persona`` customers of each planted persona in ``region``, labelled with the persona's name."""
        in_region = self.region_of == REGIONS.index(region)
        chosen = []
        for p in range(len(names)):
            pool = np.flatnonzero(in_region & (label_of == p))
            chosen.append(self.rng.choice(pool, min(per_persona, len(pool)), replace=False))
        rows = np.concatenate(chosen).astype(np.int64)
        rows = rows[np.argsort(cust_num[rows])]
        return pa.table({
            "customer_id": cust_ids.take(pa.array(cust_num[rows] - 1)),
            "label": pa.array(names).take(pa.array(label_of[rows].astype(np.int64))),
            "source": pa.array(["survey"] * len(rows), pa.string()),
        })


def _concat(parts: list[dict]) -> dict:
    """One block from several, customer and order indices offset so they stay local to the whole."""
    out = {key: [] for key in parts[0]}
    customers = orders = 0
    for part in parts:
        for key, value in part.items():
            if key == "cust":
                value = value + customers
            elif key == "line_order":
                value = value + orders
            out[key].append(value)
        customers += len(part["k"])
        orders += len(part["ts"])
    return {key: np.concatenate(values) for key, values in out.items()}


def build_markets(config, specs: list[dict], behaviour: np.ndarray, n_groups: int) -> Markets:
    """Regions per customer and the shifted specs, from the configuration's own stream."""
    rng = np.random.default_rng(np.random.SeedSequence([int(config.seed), 20240101, 3]))
    n_regions = len(REGIONS)
    region_channel = rng.integers(0, _CHANNELS, n_regions)
    region_group = rng.integers(0, n_groups, n_regions)
    flips = rng.random((len(specs), n_regions)) < config.region_shift / 2
    shifted = [[_shifted(spec, rng, config.region_shift, int(region_channel[r]), int(region_group[r]),
                         bool(flips[p, r])) for r in range(n_regions)] for p, spec in enumerate(specs)]
    region = _choice(rng, _REGION_P, len(behaviour))
    # regions sorted within each behaviour persona's block, so a block's orders are drawn region by region
    region = region[np.lexsort((region, behaviour))]
    return Markets(region_of=region, specs=shifted, rng=rng)
