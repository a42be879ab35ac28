"""Shared fixtures: synthetic videos made once per test session; one worker for CLI runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from video_assets.media.synthetic import make_video


@pytest.fixture(autouse=True, scope="session")
def one_worker_unless_a_test_asks() -> Iterator[None]:
    """`video-assets run` defaults to one worker process per core; the suite's many small CLI runs
    stay in process (each worker pays torch's import) unless a test sets --workers or this variable."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VIDEO_ASSETS_WORKERS", "1")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``synthetic_video(suffix=".mp4", **make_video_kwargs)`` -> path; the same arguments
    return the same file, written once per session (tests must not modify it)."""
    root = tmp_path_factory.mktemp("synthetic")
    made: dict[str, Path] = {}

    def make(suffix: str = ".mp4", **kwargs: object) -> Path:
        key = f"{suffix}|{sorted(kwargs.items())!r}"
        if key not in made:
            made[key] = make_video(root / f"video{len(made)}{suffix}", **kwargs)
        return made[key]

    return make
