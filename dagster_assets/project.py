"""The dbt project, in its own module: dagster-dbt reads target/manifest.json when this is imported.

Importing it makes sure the manifest is there and current: `dbt parse` runs first when the manifest is missing
(a fresh clone) or older than any file dbt reads (a model was edited), so every way of loading the code location
(`make`, `dagster dev`, `dagster asset materialize`, the tests) sees the models as they are on disk.
"""

import fcntl
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The dbt installed beside this Python, so nothing depends on PATH (a venv that is not activated has no `dbt`).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
DBT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "dbt_tests")

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)


def manifest_is_stale(manifest: Path = dbt_project.manifest_path) -> bool:
    """Whether the manifest is missing or older than a file that dbt parses."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in DBT_INPUTS:
        path = PROJECT_ROOT / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def prepare_manifest() -> None:
    """`dbt parse` when the manifest is stale; one process at a time (tests run in parallel workers)."""
    if not manifest_is_stale():
        return
    dbt_project.target_path.mkdir(parents=True, exist_ok=True)
    with open(dbt_project.target_path / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():  # another process may have parsed while this one waited
            subprocess.run([str(DBT_EXECUTABLE), "parse", "--quiet", "--profiles-dir", str(PROJECT_ROOT)],
                           cwd=PROJECT_ROOT, check=True)


prepare_manifest()
