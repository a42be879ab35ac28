"""`run` tells the whole story: what it is doing before its bar, the learned models it left out and the
next commands after its summary, FAILED lines in colour on a terminal only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.progress_calls import Terminal
from video_assets.app.summary_hints import RED, painted, use_colour
from video_assets.cli.main import main
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_text_file_as_video


def test_run_says_what_it_does_then_what_it_left_out_and_what_comes_next(tmp_path: Path, dagster_home, capsys) -> None:
    videos, data = tmp_path / "videos", tmp_path / "data"
    make_video(videos / "good.mp4", duration_s=3.0, fps=12, size=(96, 64), seed=1)
    make_text_file_as_video(videos / "notes.mp4")
    assert main(["run", "--input", str(videos), "--output", str(data)]) == 1  # default models: fingerprint here
    out = capsys.readouterr().out
    lines = out.splitlines()
    first_partition = next(i for i, line in enumerate(lines) if line.startswith("[1/2]"))
    before = "\n".join(lines[:first_partition])
    assert lines[0] == "loading Dagster and the model registry..."
    assert f"scanning {videos}..." in before and "2 partition(s) to run" in before
    # No weights in this data dir: every learned model is named, with the command that fetches it.
    assert "learned models skipped (weights absent):" in out
    assert f"video-assets models download internvideo2 --output {data}" in out
    for command in ("duplicates", "filters", "browse"):
        assert f"video-assets {command} --output {data}" in out
    failed = [line for line in lines if line.startswith(("FAILED", f"{RED}FAILED"))]
    assert failed and failed[0].startswith("FAILED")  # captured, not a terminal: no colour codes
    assert "\033[" not in out


def test_named_models_leave_no_skipped_list(tmp_path: Path, dagster_home, capsys) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "good.mp4", duration_s=3.0, fps=12, size=(96, 64), seed=1)
    args = ["run", "--input", str(videos), "--output", str(tmp_path / "data"), "--models", "fingerprint"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "learned models skipped" not in out and "next:" in out


def test_failed_lines_are_coloured_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Terminal()) and not use_colour(io.StringIO())
    assert painted("FAILED a.mp4: broken", colour=True).startswith(RED)
    assert painted("videos run: 2", colour=True) == "videos run: 2"
    assert painted("FAILED a.mp4: broken", colour=False) == "FAILED a.mp4: broken"
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Terminal())
