"""Anomalous customers planted for the fraud-and-abuse review list (``ShopConfig.anomalies``).

Four kinds, in equal numbers, drawn from a random stream of their own and added *beside* the personas' customers
(they are in no persona: ``ground_truth/anomalies.csv`` names them, ``personas.csv`` leaves them out):

- ``extreme_returns``: shop like a persona, then return about 90% of the lines;
- ``order_burst``: 25-60 single-line orders within minutes on one day (a script or a card tester);
- ``bulk_single_product``: one product, 1-3 orders of 150-1,500 units each (reselling, stock draining);
- ``shared_pattern``: rings of 8-15 accounts that each buy exactly the same four products (one actor, many
  accounts); each account alone looks like an ordinary customer with a four-item basket.

The result has the layout of one persona's block of orders and lines (see ``shops._persona_block``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ANOMALY_KINDS", "anomaly_block", "anomaly_count"]

ANOMALY_KINDS = ("extreme_returns", "order_burst", "bulk_single_product", "shared_pattern")

DAY = 86_400


def anomaly_count(n_customers: int, share: float) -> int:
    """Anomalous customers planted beside ``n_customers`` persona customers (at least one per kind when on).

    Examples
    --------
    >>> anomaly_count(3000, 0.02), anomaly_count(3000, 0.0), anomaly_count(50, 0.02)
    (60, 0, 4)
    """
    if share <= 0:
        return 0
    return max(len(ANOMALY_KINDS), int(round(share * n_customers)))


def _simple_orders(rng, k, first_s, last_s):
    """Order timestamps for customers with ``k`` orders each, uniform in their window."""
    cust = np.repeat(np.arange(len(k), dtype=np.int32), k)
    span = (last_s - first_s + 1)[cust]
    return cust, first_s[cust] + (rng.random(len(cust)) * span).astype(np.int64)


def anomaly_block(rng, n, specs, n_days, persona_block, cat_start, cat_count, list_cents):
    """Orders and lines of ``n`` anomalous customers (customer index local to the block) and each one's kind.

    ``specs`` are the shop's persona specs (the returners shop like them); ``persona_block`` is the generator's
    function that draws a persona's orders.
    """
    kind = np.arange(n) % len(ANOMALY_KINDS)
    n_products = len(list_cents)
    end_s = n_days * DAY - 1
    parts = []  # (customer indices, block of their orders/lines with local customer numbers)

    # returners: like a persona (round robin), ~90% of the lines returned
    returners = np.flatnonzero(kind == 0)
    for p, spec in enumerate(specs):
        mine = returners[np.arange(len(returners)) % len(specs) == p]
        if len(mine):
            block = persona_block(rng, spec, len(mine), cat_start, cat_count, list_cents)
            block["returned"] = rng.random(len(block["line_order"])) < 0.9
            parts.append((mine, block))

    def single_line_orders(customers, k, ts, product, qty):
        n_orders = len(ts)
        return customers, dict(
            k=k, cust=np.repeat(np.arange(len(customers), dtype=np.int32), k), ts=ts,
            channel=rng.integers(0, 2, n_orders).astype(np.int8),
            line_order=np.arange(n_orders, dtype=np.int32), pos=np.zeros(n_orders, dtype=np.int8),
            product=product.astype(np.int16), qty=qty.astype(np.int16), cents=list_cents[product].astype(np.int64),
            returned=np.zeros(n_orders, dtype=bool))

    # bursts: many single-line orders 20 s to 3 min apart, on one day
    burst = np.flatnonzero(kind == 1)
    k = rng.integers(25, 61, len(burst)).astype(np.int64)
    day = rng.integers(30, n_days, len(burst))
    cust = np.repeat(np.arange(len(burst)), k)
    gaps = rng.integers(20, 180, len(cust))
    starts = np.cumsum(k) - k
    within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[starts] - gaps[starts], k)
    ts = np.minimum(day[cust] * DAY + 9 * 3600 + within, end_s)
    parts.append(single_line_orders(burst, k, ts, rng.integers(0, n_products, len(cust)), np.ones(len(cust))))

    # bulk buyers: one product, a few huge lines
    bulk = np.flatnonzero(kind == 2)
    k = rng.integers(1, 4, len(bulk)).astype(np.int64)
    first = rng.integers(0, (n_days - 60) * DAY, len(bulk))
    cust, ts = _simple_orders(rng, k, first, np.minimum(first + 60 * DAY, end_s))
    product = rng.integers(0, n_products, len(bulk))[cust]
    parts.append(single_line_orders(bulk, k, ts, product, rng.integers(150, 1501, len(cust))))

    # rings: every account of a ring buys the ring's four products, in one or two orders
    ring = np.flatnonzero(kind == 3)
    ring_of = np.repeat(np.arange(len(ring)), rng.integers(8, 16, len(ring)))[:len(ring)]
    basket = np.stack([rng.choice(n_products, 4, replace=False) for _ in range(int(ring_of.max()) + 1)])
    k = rng.integers(1, 3, len(ring)).astype(np.int64)
    first = rng.integers(0, (n_days - 90) * DAY, len(ring))
    cust, ts = _simple_orders(rng, k, first, np.minimum(first + 90 * DAY, end_s))
    n_orders = len(ts)
    parts.append((ring, dict(
        k=k, cust=cust, ts=ts, channel=np.zeros(n_orders, dtype=np.int8),
        line_order=np.repeat(np.arange(n_orders, dtype=np.int32), 4),
        pos=np.tile(np.arange(4, dtype=np.int8), n_orders),
        product=basket[ring_of[cust]].ravel().astype(np.int16), qty=np.ones(4 * n_orders, dtype=np.int16),
        cents=list_cents[basket[ring_of[cust]].ravel()].astype(np.int64),
        returned=np.zeros(4 * n_orders, dtype=bool))))

    return _merge(parts, n), kind


def _merge(parts, n):
    """One block from the parts, customers renumbered to their index in the block, orders in customer order."""
    k = np.zeros(n, dtype=np.int64)
    orders, lines = [], []
    offset = 0
    for customers, b in parts:
        k[customers] = b["k"]
        orders.append(dict(cust=customers[b["cust"]], ts=b["ts"], channel=b["channel"]))
        lines.append(dict(line_order=b["line_order"] + offset, pos=b["pos"], product=b["product"],
                          qty=b["qty"].astype(np.int16), cents=b["cents"], returned=b["returned"]))
        offset += len(b["ts"])
    cust = np.concatenate([o["cust"] for o in orders]).astype(np.int32)
    by_customer = np.argsort(cust, kind="stable")
    new_index = np.empty_like(by_customer)
    new_index[by_customer] = np.arange(len(by_customer))
    line = {key: np.concatenate([part[key] for part in lines]) for key in lines[0]}
    line_order = new_index[line["line_order"]].astype(np.int32)
    by_order = np.lexsort((line["pos"], line_order))
    return dict(
        k=k, cust=cust[by_customer],
        ts=np.concatenate([o["ts"] for o in orders])[by_customer].astype(np.int64),
        channel=np.concatenate([o["channel"] for o in orders])[by_customer].astype(np.int8),
        line_order=line_order[by_order], **{key: line[key][by_order] for key in ("pos", "product", "qty", "cents",
                                                                              "returned")})
