"""`run` checks model weights once, before any partition: absent weights stop it at once."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from video_assets.cli.main import main
from video_assets.media.synthetic import make_video

pytestmark = pytest.mark.slow


def test_absent_weights_stop_the_run_before_any_partition(tmp_path, dagster_home, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is never asked: the check is local
    folder = tmp_path / "videos"
    for seed in (1, 2, 3):
        make_video(folder / f"v{seed}.mp4", duration_s=2.0, fps=12, size=(96, 64), seed=seed)
    data = tmp_path / "data"
    started = time.perf_counter()
    code = main(["run", "--input", str(folder), "--output", str(data), "--models", "fingerprint,internvideo2"])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2
    assert "internvideo2" in err and "video-assets models download internvideo2" in err
    # The model came from --models: the way out is there, not in a settings key the user never wrote.
    assert "drop 'internvideo2' from --models" in err and "enabled_models" not in err
    assert elapsed < 30  # one check, not one hub timeout per partition
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []  # no partition started
    assert not (data / "lancedb").exists()
