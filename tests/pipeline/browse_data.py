"""A data directory for the browse tests, made as a user makes one: `run` over generated videos, then `duplicates`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from video_assets.cli import main
from video_assets.runner import run_folder

MODEL = "fingerprint"  # needs no weights


def build_browse_data(folder: Path, root: Path) -> Path:
    """`run` the folder (three scenes, a near copy of scene 1, two broken files) into root/data with its own
    Dagster home, then bring the fingerprint's duplicate groups up to date; returns the data dir."""
    data = root / "data"
    home = root / "dagster_home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.delenv("VIDEO_ASSETS_SETTINGS", raising=False)  # the commands read the data dir's settings.json
        summary = run_folder(settings_for(folder, data), progress=lambda _: None)
        assert len(summary.failed) == 2, summary.failed  # notes.mp4 and empty.mp4
        assert main(["duplicates", "--output", str(data), "--model", MODEL, "--quiet"]) == 0
    return data
