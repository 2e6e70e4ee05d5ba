"""The dbt project, in its own module: dagster-dbt reads target/manifest.json when this is imported.

Importing it makes sure the manifest is there and current: `dbt parse` runs first when the manifest is missing
(a fresh clone) or older than any file dbt reads (a model was edited), so every way of loading the code location
(`make`, `dagster dev`, `dagster asset materialize`, the tests) sees the models as they are on disk.
"""

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The dbt installed beside this Python, so nothing depends on PATH (a venv that is not activated has no `dbt`).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
DBT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "dbt_tests")

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)
TARGET_ENV_VAR = "DBT_TARGET_PATH"  # where dagster-dbt puts each dbt step's folder, and finds the parse to start from
PARTIAL_PARSE = "partial_parse.msgpack"


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


def start_dbt_target(folder: Path) -> str | None:
    """Point this run's dbt steps at `folder`, emptied of the previous run's step folders; returns the old setting.

    dbt parses the whole project again (about 4 s) whenever the profile differs from the one its saved parse was
    made with, and during a run the profile names the run's build copy, not the file the manifest was parsed for.
    dagster-dbt starts each dbt step from `$DBT_TARGET_PATH/partial_parse.msgpack`; with one folder per warehouse,
    kept current by `keep_parse`, only the first dbt step on a new warehouse parses everything.
    """
    if folder.exists():
        for step_folder in (child for child in folder.iterdir() if child.is_dir()):
            shutil.rmtree(step_folder)
    folder.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get(TARGET_ENV_VAR)
    os.environ[TARGET_ENV_VAR] = str(folder)
    return previous


def keep_parse(step_folder: Path, folder: Path) -> None:
    """Keep a dbt step's parse in the run's folder, for the steps after it."""
    parsed = step_folder / PARTIAL_PARSE
    if parsed.exists() and folder.is_dir():
        shutil.copyfile(parsed, folder / PARTIAL_PARSE)


prepare_manifest()
