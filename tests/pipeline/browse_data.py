"""A data directory for the browse tests, made as a user makes one: `run` over generated videos, then `duplicates`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.runner import run_folder
from video_assets.cli.main import main
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_near_copy, make_text_file_as_video

MODEL = "fingerprint"  # needs no weights
GOOD = ["scene 1.mp4", "scene 2.mp4", "copies/scene1_small.mp4"]  # two clips each
BROKEN = "notes.mp4"  # a text file named .mp4: its video fails with a reason


def make_browse_videos(folder: Path) -> Path:
    """Two generated scenes, a smaller re-encoded copy of the first, and a broken file."""
    for seed in (1, 2):
        make_video(folder / f"scene {seed}.mp4", duration_s=4.0, fps=24, size=(160, 120), seed=seed, pattern="moving")
    make_near_copy(folder / "scene 1.mp4", folder / "copies" / "scene1_small.mp4", size=(112, 84), crf=32)
    make_text_file_as_video(folder / BROKEN)
    return folder


def build_browse_data(root: Path) -> Path:
    """`run` the browse videos into root/data with its own Dagster home, then bring the fingerprint's
    duplicate groups up to date; returns the data dir."""
    folder = make_browse_videos(root / "videos")
    data = root / "data"
    home = root / "dagster_home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.delenv("VIDEO_ASSETS_SETTINGS", raising=False)  # the commands read the data dir's settings.json
        summary = run_folder(settings_for(folder, data), progress=lambda _: None)
        assert len(summary.failed) == 1, summary.failed  # the broken file
        assert main(["duplicates", "--output", str(data), "--model", MODEL, "--quiet"]) == 0
    return data
