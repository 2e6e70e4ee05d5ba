"""`make dev` serves the code location: every asset listed, no load error, with the PATH that make gives it.

The UI is started as a user starts it (`make dev`), on a free loopback port, with a PATH that does not hold the
venv (a fresh clone whose venv was never activated), and read through Dagster's GraphQL API.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.pipeline import ROOT

QUERY = """{
  workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
    __typename ... on PythonError { message } } } } }
  assetNodes { assetKey { path } }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int) -> dict | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["data"]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_make_dev_loads_every_asset(tmp_path):
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    port = free_port()
    env = {**os.environ, "PATH": path, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "SEGMENTS_DUCKDB_PATH": str(tmp_path / "segments.duckdb")}
    server = subprocess.Popen(["make", "--no-print-directory", "dev", f"DEV_PORT={port}"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        data, deadline = None, time.monotonic() + 180
        while time.monotonic() < deadline and server.poll() is None:
            data = graphql(port)
            if data and data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]:
                break
            time.sleep(2)
        assert data, f"no answer on port {port}: {server.stdout.read1().decode() if server.poll() is not None else ''}"
        [location] = data["workspaceOrError"]["locationEntries"]
        assert location["locationOrLoadError"]["__typename"] == "RepositoryLocation", location
        served = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    from dagster_assets.definitions import defs

    defined = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert served == defined
    # the tables the README walks through, by name: the list above is not empty by accident
    assert {"customer_360", "customer_segments", "customer_rfm", "customer_clv"} <= served


PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "dbt_tests", "dagster_assets",
                 "python_models")


def list_assets(clone: Path) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(clone), "DAGSTER_HOME": str(clone / "dagster_home")}
    listed = subprocess.run([str(Path(sys.executable).with_name("dagster")), "asset", "list", "-m",
                             "dagster_assets.definitions"], cwd=clone, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr[-3000:]
    return set(listed.stdout.split())


def test_the_documented_command_prepares_the_manifest_in_a_fresh_clone_and_after_an_edit(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, clone / name)
    (clone / "dagster_home").mkdir()
    assert not (clone / "target").exists()  # as in a fresh clone: nothing has run `dbt parse`
    assert "customer_360" in list_assets(clone)
    assert (clone / "target" / "manifest.json").exists()
    (clone / "models" / "marts" / "zz_added_model.sql").write_text("select 1 as one\n")
    assert "zz_added_model" in list_assets(clone)
