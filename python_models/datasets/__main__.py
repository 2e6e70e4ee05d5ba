"""python -m python_models.datasets {shop,list,cdnow} ...: see the package docstring."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import SHOP_CONFIGS, generate_shop, write_cdnow
from .shops import EVENTS_DEFAULT_MAX_CUSTOMERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_models.datasets",
                                     description="Data sets in the raw input contract.")
    sub = parser.add_subparsers(dest="command", required=True)

    shop = sub.add_parser("shop", help="write a synthetic shop of the named family",
                          description="Write a synthetic shop; prints the bad-row truth as JSON.")
    shop.add_argument("--config", default="demo", choices=list(SHOP_CONFIGS),
                      help="named configuration (default: demo); `list` shows them")
    shop.add_argument("--out", required=True, help="output folder")
    shop.add_argument("--customers", type=int, help="number of customers (default: the configuration's)")
    shop.add_argument("--seed", type=int, help="seed (default: the configuration's)")
    shop.add_argument("--format", choices=("csv", "parquet"), default="csv", help="transactions file format")
    shop.add_argument("--events", action=argparse.BooleanOptionalAction, default=None,
                      help=f"write events.csv (default: the configuration's; demo: on for <= "
                           f"{EVENTS_DEFAULT_MAX_CUSTOMERS:,} customers)")
    shop.add_argument("--demographics", action=argparse.BooleanOptionalAction, default=None,
                      help="write customers.parquet (default: the configuration's)")
    shop.add_argument("--bad-rows", action=argparse.BooleanOptionalAction, default=None,
                      help="plant bad rows (default: the configuration's)")
    shop.add_argument("--anomalies", type=float, default=None,
                      help="plant this share of anomalous customers beside the personas (e.g. 0.02; default: none)")
    shop.add_argument("--verbose", "-v", action="store_true", help="progress and timings on stderr")

    sub.add_parser("list", help="the named shop configurations")

    cdnow = sub.add_parser("cdnow", help="CDNOW's 1/10 sample as DIR/transactions.csv")
    cdnow.add_argument("--out", type=Path, required=True, help="folder to write transactions.csv into")

    args = parser.parse_args(argv)
    if args.command == "cdnow":
        print(write_cdnow(args.out))
    elif args.command == "list":
        width = max(map(len, SHOP_CONFIGS))
        for name, c in SHOP_CONFIGS.items():
            print(f"{name:<{width}}  {c.n_customers:>7,}  {c.description}")
    else:
        overrides = {k: v for k, v in (("n_customers", args.customers), ("seed", args.seed),
                                       ("events", args.events), ("demographics", args.demographics),
                                       ("bad_rows", args.bad_rows), ("anomalies", args.anomalies))
                     if v is not None}
        t = time.perf_counter()
        truth = generate_shop(args.config, args.out, fmt=args.format, verbose=args.verbose, **overrides)
        print(json.dumps(truth))
        print(f"wrote {args.out} ({args.config}) in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
