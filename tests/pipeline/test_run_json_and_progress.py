"""`run --json` reports the videos run and the failed ones with their reason, and the registry's totals;
the progress bars only on a terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.progress_calls import Terminal
from video_assets.app.outcome import PartitionOutcome
from video_assets.app.progress import PhaseBars, RunProgress, phase_bars
from video_assets.cli.main import main
from video_assets.curation.progress import no_progress
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_text_file_as_video


def test_run_json_lists_each_video_with_its_reason(tmp_path: Path, dagster_home, capsys) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "good.mp4", duration_s=3.0, fps=12, size=(96, 64), seed=1)
    make_text_file_as_video(videos / "notes.mp4")
    (videos / "readme.txt").write_text("not a video")
    code = main(
        ["run", "--input", str(videos), "--output", str(tmp_path / "data"), "--models", "fingerprint", "--json"]
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout is the JSON alone: no progress lines mixed in
    assert code == 1 and report["complete"] is False
    by_path = {Path(v["path"]).name: v for v in report["videos"]}
    assert by_path["good.mp4"]["status"] == "done" and by_path["good.mp4"]["reason"] is None
    assert by_path["good.mp4"]["clips_indexed"] == {"fingerprint": 1}
    bad = by_path["notes.mp4"]
    assert bad["status"] == "failed" and bad["reason"].startswith("cannot open as a video container")
    assert str(videos / "notes.mp4") not in bad["reason"]  # the path is its own field
    assert report["registered"] == {"pending": 0, "done": 1, "failed": 1, "missing": 0, "settled": 0, "removed": 0}
    assert report["other_extensions"] == {".txt": 1}  # issue 23: the text summary counted it, --json did not

    # A rerun lists the videos it ran and the failed ones, not the done ones; the totals cover the registry.
    assert main(["run", "--input", str(videos), "--output", str(tmp_path / "data"), "--models", "fingerprint"]) == 1
    out = capsys.readouterr().out
    assert "registered videos: pending: 0, done: 1, failed: 1, missing: 0, settled: 0, removed: 0" in out
    assert "ignored files with other extensions (.txt: 1)" in out


def test_an_input_folder_without_videos_says_so(tmp_path: Path, dagster_home, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no videos here")
    args = ["run", "--input", str(empty), "--output", str(tmp_path / "data"), "--models", "fingerprint"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"no video files found in {empty}" in out and "every video is in the index" not in out
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["no_videos"] is True and report["videos"] == []


@pytest.mark.parametrize("stream_cls, bar", [(Terminal, True), (io.StringIO, False)])
def test_the_bar_is_drawn_only_on_a_terminal(stream_cls, bar, capsys) -> None:
    stream = stream_cls()
    progress = RunProgress(stream=stream)
    progress.start(2)
    progress("[1/2] a: ok")
    outcome = PartitionOutcome("a", True, 2.0)
    progress.partition_done(outcome)
    progress.close()
    assert "[1/2] a: ok" in capsys.readouterr().out  # lines always reach stdout
    drawn = stream.getvalue()
    assert ("1/2" in drawn and "videos done 0, failed 0" in drawn) is bar
    assert (drawn == "") is not bar


def test_quiet_prints_nothing(capsys) -> None:
    progress = RunProgress(quiet=True, stream=Terminal())
    progress.start(3)
    progress("a line")
    progress.close()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("stream_cls, drawn", [(Terminal, True), (io.StringIO, False)])
def test_phase_bars_draw_one_bar_per_phase_on_a_terminal_only(stream_cls, drawn) -> None:
    stream = stream_cls()
    bars = PhaseBars(units={"write": "clip"}, stream=stream)
    for phase, done, total in [("read", 0, 1), ("read", 1, 1), ("empty", 0, 0), ("write", 0, 3), ("write", 3, 3)]:
        bars(phase, done, total)
    bars.close()
    out = stream.getvalue()
    assert ("read: 100%" in out and "write: 100%" in out and "3/3" in out and "clip/s" in out) is drawn, out
    assert "empty" not in out and (out == "") is not drawn  # a phase with nothing to do gets no bar


def test_phase_bars_draw_nothing_when_quiet() -> None:
    with phase_bars(quiet=True) as bars:
        assert bars is no_progress
    with phase_bars() as bars:
        assert isinstance(bars, PhaseBars)


@pytest.mark.parametrize("layout", ["same", "input_inside_data"])
def test_an_input_folder_that_is_or_lies_in_the_data_dir_is_refused(tmp_path: Path, dagster_home, capsys, layout):
    """Issue 23: `--output` equal to `--input` (or an input inside the data dir) said "no video files found",
    exit 0: every video was left out as the pipeline's own file."""
    data = tmp_path / "data"
    videos = data if layout == "same" else data / "videos"
    make_video(videos / "good.mp4", duration_s=1.0, fps=12, size=(96, 64), seed=1)
    code = main(["run", "--input", str(videos), "--output", str(data), "--models", "fingerprint"])
    err = capsys.readouterr().err
    assert code == 2 and "\n" not in err.strip()
    expected = "--input and --output are the same folder" if layout == "same" else "lies inside the data directory"
    assert expected in err and str(videos) in err
    assert sorted(p.name for p in data.iterdir()) == (["good.mp4"] if layout == "same" else ["videos"])
