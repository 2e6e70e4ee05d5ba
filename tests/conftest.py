import fcntl
import json
import os

# One thread per native thread pool: the suite runs on two pytest-xdist workers on two cores, and OpenMP's
# spin-waiting on a busy core made a 2,000-row gradient boosting fit 40x slower (0.8 s -> 33 s, measured here).
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")
from pathlib import Path
from typing import Callable

import pytest

from python_models.datasets import generate_shop
from tests.pipeline import materialize_all

DEMO_CUSTOMERS = 3000
DEMO_SEED = 7


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest():
    from dagster_assets.project import prepare_manifest  # `dbt parse` if the manifest is missing or stale

    prepare_manifest()


def built_once(tmp_path_factory, worker_id: str, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build` fills once per test session, shared by pytest-xdist's workers (the first builds it,
    the others wait and read it)."""
    if worker_id == "master":  # not under xdist
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    folder = tmp_path_factory.getbasetemp().parent / name
    folder.mkdir(exist_ok=True)
    with open(folder.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder.parent / f"{name}.done").exists():
            build(folder)
            (folder.parent / f"{name}.done").touch()
    return folder


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory, worker_id):
    out = built_once(tmp_path_factory, worker_id, "demo_data",
                     lambda folder: generate_shop("demo", folder, n_customers=DEMO_CUSTOMERS, seed=DEMO_SEED))
    truth = json.loads((out / "ground_truth" / "bad_rows.json").read_text())
    return out, truth


@pytest.fixture(scope="session")
def demo_warehouse(demo_data, tmp_path_factory, worker_id):
    """The whole graph materialized once on the demo data; tests only read it."""
    data_dir, _ = demo_data

    def build(folder: Path) -> None:
        # a folder that does not exist yet, as on a fresh clone
        assert materialize_all(data_dir, folder / "not_yet_created" / "segments.duckdb").success

    return built_once(tmp_path_factory, worker_id, "demo_warehouse", build) / "not_yet_created" / "segments.duckdb"


ONLINE_RETAIL = Path(__file__).resolve().parent.parent / "data" / "online_retail"


@pytest.fixture(scope="session")
def online_retail_warehouse(tmp_path_factory, worker_id):
    """The whole graph materialized once on UCI Online Retail, as distributed (data/online_retail/columns.yml)."""

    def build(folder: Path) -> None:
        assert materialize_all(ONLINE_RETAIL, folder / "segments.duckdb").success

    return built_once(tmp_path_factory, worker_id, "online_retail", build) / "segments.duckdb"
