"""The named family of synthetic shops: one seeded ``ShopConfig`` per axis the segmentation is judged along.

    python -m python_models.datasets list                     # names, sizes and descriptions
    python -m python_models.datasets shop --config whales --out DIR [--customers N] [--seed S] ...

Sizes are test-sized (2k-20k customers, a few seconds each) except ``large_200k`` (the bench). ``holdout`` and
``regions_holdout`` (its meta-learning twin: markets and labels) are for a final check only: never tune anything on
them.
"""

from __future__ import annotations

from pathlib import Path

from .shops import ShopConfig, write_shop


def _family(*configs: ShopConfig) -> dict[str, ShopConfig]:
    return {c.name: c for c in configs}


SHOP_CONFIGS: dict[str, ShopConfig] = _family(
    ShopConfig("demo", "the project's demo: six hand-written personas over eight categories (make demo)",
               n_customers=20_000, seed=42, personas="demo"),
    ShopConfig("three_personas", "three procedural personas over eight categories",
               n_customers=5_000, n_personas=3, seed=301),
    ShopConfig("nine_personas", "nine procedural personas over eight categories",
               n_customers=20_000, n_personas=9, seed=309),
    ShopConfig("five_categories", "six personas over only five categories",
               n_customers=10_000, n_categories=5, seed=405),
    ShopConfig("many_categories_24", "six personas over 24 categories (favourites often outside the top 8)",
               n_customers=10_000, n_categories=24, seed=424),
    ShopConfig("many_categories_60", "seven personas over 60 categories (favourites often outside the top 8)",
               n_customers=20_000, n_personas=7, n_categories=60, seed=460),
    ShopConfig("no_category", "no category column: taste only in which products (hidden ranges) customers buy",
               n_customers=10_000, n_categories=0, seed=500),
    ShopConfig("imbalanced_shares", "seven personas from 40% down to 2% of the customers",
               n_customers=20_000, n_personas=7, shares=(0.40, 0.22, 0.14, 0.10, 0.07, 0.05, 0.02), seed=602),
    ShopConfig("whales", "3% of each persona buy wholesale quantities (Pareto-tailed spend), label unchanged",
               n_customers=10_000, whale_share=0.03, seed=703),
    ShopConfig("label_noise", "5% of each persona behave like another persona but keep their label",
               n_customers=10_000, label_noise=0.05, seed=805),
    ShopConfig("no_events_no_demographics", "transactions and products only: no events.csv, no customers file",
               n_customers=5_000, events=False, demographics=False, seed=906),
    ShopConfig("clean", "no bad rows at all: every input line is valid",
               n_customers=5_000, bad_rows=False, seed=1007),
    ShopConfig("small_2k", "the smallest shop: 2,000 customers, five personas",
               n_customers=2_000, n_personas=5, seed=1102),
    ShopConfig("large_200k", "200,000 customers, eight personas, 24 categories, 1% whales (for the bench)",
               n_customers=200_000, n_personas=8, n_categories=24, whale_share=0.01, seed=1200),
    ShopConfig("holdout", "HOLDOUT, never tune on this: six personas, 24 categories, 2% whales, 3% label noise",
               n_customers=15_000, n_categories=24, whale_share=0.02, label_noise=0.03, seed=271828),
    ShopConfig("demo_regions", "the demo's personas shifted region by region and in 2025, five labels per persona "
               "for Central (segment_labels.csv): the meta-learning demo", n_customers=20_000, seed=42,
               personas="demo", region_shift=0.8, labels_per_persona=5, labelled_region="Central"),
    ShopConfig("regions_holdout", "HOLDOUT for meta-learning, never tune on this: five procedural personas over 24 "
               "categories shifted by region and period, five labels per persona for East",
               n_customers=15_000, n_personas=5, n_categories=24, seed=161803, region_shift=0.7,
               labels_per_persona=5, labelled_region="East"),
)


def shop_config(config_or_name: ShopConfig | str, **overrides) -> ShopConfig:
    """A named configuration (or the given one) with some fields overridden.

    Examples
    --------
    >>> shop_config("whales", n_customers=1500).whale_share
    0.03
    >>> shop_config("holdout").name
    'holdout'
    """
    if isinstance(config_or_name, ShopConfig):
        config = config_or_name
    else:
        try:
            config = SHOP_CONFIGS[config_or_name]
        except KeyError:
            raise KeyError(f"no shop configuration {config_or_name!r}; known: {', '.join(SHOP_CONFIGS)}") from None
    return config.replace(**overrides) if overrides else config


def generate_shop(config_or_name: ShopConfig | str, out_dir, fmt: str = "csv", verbose: bool = False,
                  **overrides) -> dict:
    """Write a shop into out_dir; return the bad-row truth (``ground_truth/bad_rows.json``).

    ``config_or_name`` is a ``ShopConfig`` or a name in ``SHOP_CONFIGS``; ``overrides`` are ``ShopConfig`` fields
    (``n_customers=1500``, ``seed=3``, ``events=False``, ...). ``fmt`` is the transactions file's format, csv or
    parquet. The same configuration and format give byte-identical files.
    """
    return write_shop(shop_config(config_or_name, **overrides), Path(out_dir), fmt=fmt, verbose=verbose)
