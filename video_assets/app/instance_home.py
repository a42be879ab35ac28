"""The Dagster instance home `run`, `remove` and `ui` use: persistent, with the project's instance settings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from video_assets.media.probe import sha256_file

# The single-machine instance settings (pools of one, run monitoring), shipped with the package.
PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent / "dagster_instance.yaml"

# sha256 of every dagster.yaml an earlier version copied into a home. A home still holding one
# of them untouched gets the current file (the run queue, the warm launcher and the daemon's
# cadence arrived after many homes were made); an edited file is the user's and is left alone.
# tests/pipeline/test_instance_home.py fails when the project's file changes and its old text is
# not listed here.
SHIPPED_BEFORE = frozenset(
    {
        "a303020a35f6cb31760343400df1a4da297d3a59d77bdcb068a5841022846093",
        "78ae2af9564653e8fb6f52894ce80281cca0c7397bbc14c1d1ae45f32db91c48",
        "9600560eae5ec8a609d04b543a488b19e78e77059642fe932f1c04c60b0d5d52",
        "404a45b81249506357b237f6eb4106895c94d1fc8599e20fe904a867dea5aec0",
        "9551e35cccaaef5d9ec87498ed4f84f36783f6ecf827e5247979d28561fe0dea",
        "5a8aca156b938a46b16d93973c6d2bd5440af76bb770fbdeaed02131ea0f7595",
        "f995e28e713a93d842c90ba0e87fdc4b5640abbc3b582fc28c76a0d53beb8798",
    }
)

# The sections of the project's file that make UI runs as fast as `run`; named when a home lacks them.
UI_SPEED_SECTIONS = ("run_coordinator", "run_launcher")


def dagster_home() -> Path:
    """$DAGSTER_HOME, else ./.dagster: persistent, so partitions and pool limits survive.

    A home without a dagster.yaml, or with one an earlier version wrote and nobody edited,
    gets the project's file."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    # A link is the user's arrangement (it may point into another checkout): never written through.
    linked = settings.is_symlink()
    stale = not linked and settings.is_file() and sha256_file(settings) in SHIPPED_BEFORE
    if (stale or not (linked or settings.exists())) and PROJECT_DAGSTER_YAML.exists():
        try:
            shutil.copy(PROJECT_DAGSTER_YAML, settings)
        except OSError:
            if not stale:
                raise
            # A read-only file (a mounted config): it still works as it did; `ui` names what it lacks.
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def missing_ui_sections(home: Path) -> list[str]:
    """The project's UI-speed sections that the home's own (edited) dagster.yaml does not name."""
    try:
        mine = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []  # no file, or one Dagster itself will refuse with its own message
    return [name for name in UI_SPEED_SECTIONS if name not in mine]
