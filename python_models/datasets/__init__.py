"""Data sets in the raw input contract: the synthetic shop family and public data loaders.

- ``shops``: the generator (``ShopConfig``, ``write_shop``), one vectorised numpy pass per shop;
- ``personas``: procedural catalogues and personas drawn from a configuration's seed;
- ``families``: the named configurations (``SHOP_CONFIGS``) and ``generate_shop(config_or_name, out_dir, ...)``;
- ``cdnow``: CDNOW's 1/10 sample as contract order lines.

Command line (``python -m python_models.datasets --help``)::

    python -m python_models.datasets shop --config demo --customers 20000 --seed 42 --out data/demo
    python -m python_models.datasets list
    python -m python_models.datasets cdnow --out DIR
"""

from .cdnow import CDNOW_SAMPLE, DATA_DIR, cdnow_transactions, write_cdnow
from .families import SHOP_CONFIGS, generate_shop, shop_config
from .shops import REASONS, ShopConfig, World, build_world, describe, write_shop

__all__ = [
    "CDNOW_SAMPLE", "DATA_DIR", "REASONS", "SHOP_CONFIGS", "ShopConfig", "World", "build_world", "cdnow_transactions",
    "describe", "generate_shop", "shop_config", "write_cdnow", "write_shop",
]
