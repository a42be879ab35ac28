"""SIGKILL `video-assets run` mid-work; a plain rerun finishes with the index of an uninterrupted run.

Each crash is a real `kill -9` of a real CLI process (tests/pipeline/kill_points.py wraps
the write path it names), on a real Dagster instance and LanceDB table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from video_assets.catalog.registry import VideoRegistry
from video_assets.cli.main import main
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash_videos")
    for seed in (11, 12):
        make_video(folder / f"v{seed}.mp4", duration_s=4.0, fps=12, size=(96, 64), seed=seed)
    return folder


def _cli(folder: Path, data: Path, *extra: str) -> list[str]:
    return ["run", "--input", str(folder), "--output", str(data), "--models", "fingerprint", *extra]


def _index(data: Path) -> dict[str, np.ndarray]:
    rows = open_clip_table(connect(str(data / "lancedb")), "fingerprint").to_arrow().select(["clip_id", "vector"])
    ids = rows.column("clip_id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicate clip ids in the index"
    return dict(zip(ids, np.asarray(rows.column("vector").to_pylist(), dtype=np.float32)))


@pytest.fixture(scope="module")
def reference(two_videos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The index of an uninterrupted run."""
    base = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(base / "home"))
        (base / "home").mkdir()
        assert main(_cli(two_videos, base / "data")) == 0
    index = _index(base / "data")
    assert len(index) == 2  # one clip per 4 s video (default 10 s clips, 2 s minimum)
    return index


def _killed_run(point: str, args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.pipeline.kill_points", point, "--", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, f"expected SIGKILL at {point}, got {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"


def _assert_same_index(data: Path, reference: dict[str, np.ndarray]) -> None:
    index = _index(data)
    assert sorted(index) == sorted(reference)
    for clip_id, vector in reference.items():
        np.testing.assert_allclose(index[clip_id], vector, atol=1e-6)


@pytest.mark.parametrize("point", ["frames", "embeddings", "index_before_commit", "index_after_commit"])
def test_a_plain_rerun_after_a_kill_completes_the_index(point, two_videos, reference, dagster_home, tmp_path):
    data = tmp_path / "data"
    _killed_run(point, _cli(two_videos, data))
    registry = VideoRegistry(data / "registry.sqlite")
    assert all(v.status != "done" for v in registry.all()[:1]), "the killed video must not be done"

    assert main(_cli(two_videos, data)) == 0  # no manual step, no hang
    assert {v.status for v in registry.all()} == {"done"}
    _assert_same_index(data, reference)
    assert main(_cli(two_videos, data)) == 0  # and nothing left to do


def test_a_kill_during_a_later_merge_keeps_the_index_whole(two_videos, reference, dagster_home, tmp_path):
    data = tmp_path / "data"
    assert main(_cli(two_videos, data)) == 0
    _killed_run("index_before_commit", _cli(two_videos, data, "--all"))
    _assert_same_index(data, reference)
    _killed_run("index_after_commit", _cli(two_videos, data, "--all"))
    _assert_same_index(data, reference)
    assert main(_cli(two_videos, data)) == 0
    _assert_same_index(data, reference)
