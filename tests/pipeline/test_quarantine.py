"""A file that can never decode is settled by the user and no longer keeps every run at exit 1
(issue 23); it stays settled across rescans until the file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.cli.main import main
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_text_file_as_video

pytestmark = pytest.mark.slow


def test_a_settled_video_is_listed_apart_and_runs_exit_0_until_its_file_changes(tmp_path: Path, dagster_home, capsys):
    videos, data = tmp_path / "videos", tmp_path / "data"
    make_video(videos / "good.mp4", duration_s=2.0, fps=12, size=(96, 64), seed=1)
    make_text_file_as_video(videos / "broken.mp4")
    run = ["run", "--input", str(videos), "--output", str(data), "--models", "fingerprint"]
    assert main(run) == 1
    capsys.readouterr()
    assert main(["quarantine", "good.mp4", "--output", str(data)]) == 2  # done: nothing to settle
    assert "it is done" in capsys.readouterr().err
    assert main(["quarantine", str(videos / "broken.mp4"), "--output", str(data)]) == 0
    assert "broken.mp4" in capsys.readouterr().out
    for _ in range(2):  # settled across rescans: not retried, listed apart, exit 0
        assert main(run) == 0
        out = capsys.readouterr().out
        assert f"SETTLED {videos / 'broken.mp4'}: cannot open as a video container" in out
        assert "partitions run: 0" in out and "FAILED" not in out
    assert main([*run, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["video_id"] for s in report["settled"]] == [video_id_for("broken.mp4")]
    assert report["registered"]["settled"] == 1 and report["registered"]["failed"] == 0
    # The file changed: tried again (and fails again, exit 1).
    (videos / "broken.mp4").write_bytes(b"still not a video, but other bytes")
    os.utime(videos / "broken.mp4", (1, 1))
    assert main(run) == 1
    assert "FAILED" in capsys.readouterr().out
    assert VideoRegistry(data / "registry.sqlite").get(video_id_for("broken.mp4")).status == "failed"
    # --undo puts a settled video back.
    assert main(["quarantine", "broken.mp4", "--output", str(data)]) == 0
    assert main(["quarantine", "--undo", video_id_for("broken.mp4"), "--output", str(data)]) == 0
    assert VideoRegistry(data / "registry.sqlite").get(video_id_for("broken.mp4")).status == "pending"
