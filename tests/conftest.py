import json
from pathlib import Path

import pytest

from python_models.datasets import generate_shop
from tests.pipeline import materialize_all, parse_dbt_project

DEMO_CUSTOMERS = 3000
DEMO_SEED = 7


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest():
    parse_dbt_project()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_data")
    generate_shop("demo", out, n_customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    truth = json.loads((out / "ground_truth" / "bad_rows.json").read_text())
    return out, truth


@pytest.fixture(scope="session")
def demo_warehouse(demo_data, tmp_path_factory):
    """The whole graph materialized once on the demo data; tests only read it."""
    data_dir, _ = demo_data
    # a folder that does not exist yet, as on a fresh clone
    database = tmp_path_factory.mktemp("warehouse") / "not_yet_created" / "segments.duckdb"
    result = materialize_all(data_dir, database)
    assert result.success
    return database


ONLINE_RETAIL = Path(__file__).resolve().parent.parent / "data" / "online_retail"


@pytest.fixture(scope="session")
def online_retail_warehouse(tmp_path_factory):
    """The whole graph materialized once on UCI Online Retail, as distributed (data/online_retail/columns.yml)."""
    database = tmp_path_factory.mktemp("online_retail") / "segments.duckdb"
    result = materialize_all(ONLINE_RETAIL, database)
    assert result.success
    return database
