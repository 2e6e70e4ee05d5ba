"""The dbt project, in its own module: dagster-dbt reads target/manifest.json when this is imported.

`make` runs `dbt parse` during set-up so the manifest exists; `dagster dev` re-parses on start.
"""

from pathlib import Path

from dagster_dbt import DbtProject

PROJECT_ROOT = Path(__file__).resolve().parent.parent

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)
dbt_project.prepare_if_dev()
