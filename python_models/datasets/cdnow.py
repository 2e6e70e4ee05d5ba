"""CDNOW in the raw input contract.

CDNOW's files are whitespace-aligned text, not CSV, so they are converted once rather than mapped:

    python -m python_models.datasets cdnow --out DIR     # DIR/transactions.csv from data/cdnow/CDNOW_sample.txt

UCI Online Retail needs no conversion: `data/online_retail/columns.yml` maps it as it is.
"""

from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
CDNOW_SAMPLE = DATA_DIR / "cdnow" / "CDNOW_sample.txt"


def cdnow_transactions(path: Path = CDNOW_SAMPLE) -> pd.DataFrame:
    """CDNOW's 1/10 sample as contract order lines, one per purchase record.

    `customer_id` is the sample's own id (1..2357, the `ID` of cdnow_customers_summary.csv); each record becomes
    one order with `quantity` = CDs and `unit_price` = dollars / CDs.

    Examples
    --------
    >>> lines = cdnow_transactions()
    >>> len(lines), lines["customer_id"].nunique()
    (6919, 2357)
    """
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["master_id", "sample_id", "date", "cds", "dollars"],
                      dtype={"master_id": str, "sample_id": str, "date": str})
    customer = raw["sample_id"].astype(int).astype(str)
    return pd.DataFrame(
        {
            "order_id": customer + "-" + raw.index.astype(str),
            "customer_id": customer,
            "order_ts": pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "quantity": raw["cds"],
            "unit_price": (raw["dollars"] / raw["cds"]).round(4),
        }
    )


def write_cdnow(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "transactions.csv"
    cdnow_transactions().to_csv(target, index=False)
    return target

