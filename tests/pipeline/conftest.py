"""A small folder of generated videos (good, near-copy, bad) and a temp Dagster home."""

from __future__ import annotations

from pathlib import Path

import pytest

from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_near_copy, make_text_file_as_video, make_zero_byte
from video_assets.settings.config import ClippingSettings, Settings


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    for seed, pattern in ((1, "moving"), (2, "moving"), (3, "moving")):
        make_video(root / f"scene {seed}.mp4", duration_s=4.0, fps=24, size=(160, 120), seed=seed, pattern=pattern)
    make_near_copy(root / "scene 1.mp4", root / "copies" / "scene1_small.mp4", size=(112, 84), crf=32)
    make_text_file_as_video(root / "notes.mp4")
    make_zero_byte(root / "empty.mp4")
    return root


def settings_for(folder: Path, data_dir: Path, **overrides) -> Settings:
    return Settings(
        input_dir=folder,
        data_dir=data_dir,
        enabled_models=("fingerprint",),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=1.0),
        **overrides,
    )


@pytest.fixture(scope="session")
def browse_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of `run` + `duplicates` over tests/pipeline/browse_data.py's videos, shared by the
    browse API and browser tests."""
    from tests.pipeline.browse_data import build_browse_data

    return build_browse_data(tmp_path_factory.mktemp("browse"))
