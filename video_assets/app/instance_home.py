"""The Dagster instance home `run`, `remove` and `ui` use: persistent, with the project's instance settings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# The single-machine instance settings (pools of one, run monitoring), shipped with the package.
PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent / "dagster_instance.yaml"


def dagster_home() -> Path:
    """$DAGSTER_HOME, else ./.dagster: persistent, so partitions and pool limits survive."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and PROJECT_DAGSTER_YAML.exists():
        shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
