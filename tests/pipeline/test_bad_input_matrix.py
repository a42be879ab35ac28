"""The bad-input matrix: one folder of every kind of file a real collection holds, one
real `run`, and a test per row: each file either ends done with every planned clip
indexed, or fails alone with a reason naming it, listed in the summary; the good video
beside them is indexed exactly as when it runs alone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from video_assets.app.outcome import RunSummary
from video_assets.app.runner import run_folder
from video_assets.app.summary import summary_lines
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.catalog.shown_names import escape_name
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_codecs import make_codec_case, make_garbage_middle, make_mpeg4_avi
from video_assets.media.synthetic_damaged import (
    make_audio_only,
    make_text_file_as_video,
    make_truncated,
    make_zero_byte,
)
from video_assets.media.synthetic_timeline import make_edit_list_cut, make_resolution_change
from video_assets.settings.config import ClippingSettings, Settings

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Row:
    name: str  # the file, relative to the input folder
    outcome: str  # "done" (every planned clip indexed), "failed", "done_or_failed", "skipped"
    reason: str = ""  # a fragment the failure or skip reason must contain


def _strip_moov(src: Path, dst: Path) -> None:
    """The whole 'moov' box cut out: an MP4 without its index (media data intact)."""
    data = src.read_bytes()
    at = data.find(b"moov") - 4  # the box starts with its 32-bit size
    assert at > 0
    size = int.from_bytes(data[at : at + 4], "big")
    dst.write_bytes(data[:at] + data[at + size :])


def _build(root: Path) -> list[Row]:
    small = {"duration_s": 2.0, "fps": 12.0, "size": (96, 64)}
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)

    make_video(root / "good.mp4", seed=1, **small)
    add(Row("good.mp4", "done"))
    make_zero_byte(root / "zero.mp4")
    add(Row("zero.mp4", "failed", "empty (0 bytes)"))
    make_text_file_as_video(root / "text.mp4")
    add(Row("text.mp4", "failed", "cannot open"))
    (root / "random.mkv").write_bytes(os.urandom(40_000))
    add(Row("random.mkv", "failed"))
    src = make_video(root.parent / "src.mp4", seed=2, duration_s=4.0, fps=12.0, size=(96, 64))
    make_truncated(src, root / "truncated.mp4", keep_fraction=0.6)  # moov at the end: cut off
    add(Row("truncated.mp4", "failed", "moov box) is missing"))
    mkv = make_video(root.parent / "src.mkv", seed=3, duration_s=4.0, fps=12.0, size=(96, 64))
    make_truncated(mkv, root / "truncated.mkv", keep_fraction=0.6)  # streamable: the start decodes
    add(Row("truncated.mkv", "done_or_failed"))
    _strip_moov(src, root / "no_moov.mp4")
    add(Row("no_moov.mp4", "failed", "moov box) is missing"))
    make_audio_only(root / "audio.mp4", duration_s=2.0)
    add(Row("audio.mp4", "failed", "no video stream"))
    make_audio_only(root / "audio.m4a", duration_s=2.0)
    add(Row("audio.m4a", "skipped", "audio-only"))
    make_codec_case("one_frame", root / "one_frame.mp4", size=(96, 64))
    add(Row("one_frame.mp4", "failed", "minimum clip"))
    make_codec_case("half_second", root / "half.mp4", size=(96, 64))
    add(Row("half.mp4", "failed", "0.50 s of video, shorter than the 1.0 s minimum clip"))
    for case, suffix in (
        ("vfr_mkv", ".mkv"),
        ("rotated_90", ".mp4"),
        ("hevc_10bit", ".mp4"),
        ("h264_10bit", ".mp4"),
        ("mjpeg_avi", ".avi"),
        ("h264_avi", ".avi"),
        ("vp9_webm", ".webm"),
        ("odd_17x13", ".mp4"),
    ):
        make_codec_case(case, root / f"{case}{suffix}", duration_s=2.0, fps=12.0, size=(96, 64))
        add(Row(f"{case}{suffix}", "done"))
    make_video(root / "huge_8000.avi", codec="mjpeg", size=(8000, 8000), fps=2.0, duration_s=2.0)
    add(Row("huge_8000.avi", "done"))
    make_video(root / "wide_16000x200.avi", codec="mjpeg", size=(16000, 200), fps=2.0, duration_s=2.0)
    add(Row("wide_16000x200.avi", "done"))
    garbage_src = make_video(root.parent / "long.mp4", seed=4, duration_s=6.0, fps=12.0, size=(96, 64))
    make_garbage_middle(garbage_src, root / "garbage_mid.mp4")
    add(Row("garbage_mid.mp4", "done_or_failed"))
    for name in ("with space.mp4", "ünïcödé 映像.mp4", 'quote\'s "double".mp4', "$(touch pwned).mp4"):
        make_video(root / name, seed=5, **small)
        add(Row(name, "done"))
    # MPEG-4 Part 2 in AVI as Xvid/DivX write it (issue 12, point 2).
    make_mpeg4_avi(root / "xvid_bframes.avi", bframes=2, fps=12, duration_s=2.0, size=(96, 64))
    add(Row("xvid_bframes.avi", "done"))
    make_mpeg4_avi(root / "divx_packed.avi", bframes=1, packed=True, fps=12, duration_s=2.0, size=(96, 64))
    add(Row("divx_packed.avi", "done"))
    make_mpeg4_avi(
        root / "xvid_not_coded.avi", drop_every=4, dropped="not_coded", fps=12, duration_s=2.0, size=(96, 64)
    )
    add(Row("xvid_not_coded.avi", "done"))
    make_mpeg4_avi(root / "xvid_empty_chunks.avi", drop_every=4, dropped="empty", fps=12, duration_s=2.0, size=(96, 64))
    add(Row("xvid_empty_chunks.avi", "done"))
    # A folder that links to itself, and two file links that point at each other.
    (root / "loop").mkdir()
    (root / "loop" / "self").symlink_to(root / "loop", target_is_directory=True)
    add(Row("loop/self", "skipped", "already walked"))
    (root / "ping.mp4").symlink_to(root / "pong.mp4")
    (root / "pong.mp4").symlink_to(root / "ping.mp4")
    add(Row("ping.mp4", "skipped", "symlink loop"))
    (root / "dangling.mp4").symlink_to(root / "nowhere.mp4")
    add(Row("dangling.mp4", "skipped", "broken symlink"))
    # Issue 23. A link to / is not followed (the run walked the whole machine, /proc included).
    (root / "to_root").symlink_to("/", target_is_directory=True)
    add(Row("to_root", "skipped", "outside the input folder: not followed"))
    # A Latin-1 name stopped the whole run; a newline in a name forged a status line.
    with open(os.fsencode(root) + b"/caf\xe9.mp4", "wb") as f:
        f.write((root / "good.mp4").read_bytes())
    add(Row(os.fsdecode(b"caf\xe9.mp4"), "skipped", "not valid UTF-8"))
    make_text_file_as_video(root / "forged\nFAILED elsewhere.mp4")
    add(Row("forged\nFAILED elsewhere.mp4", "failed", "cannot open"))
    # An MP4 cut with -ss and stream copy (an edit list); a stream whose picture size changes midway.
    make_edit_list_cut(
        make_video(root.parent / "uncut.mp4", seed=6, duration_s=4.0, fps=12.0, size=(96, 64)),
        root / "edit_list_cut.mp4",
        1.32,
    )
    add(Row("edit_list_cut.mp4", "done"))
    make_resolution_change(root / "resolution_change.ts", [(96, 64), (128, 96)], frames_each=18)
    add(Row("resolution_change.ts", "done"))
    return rows


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Row], RunSummary, Settings]:
    base = tmp_path_factory.mktemp("matrix")
    root = base / "videos"
    root.mkdir()
    rows = _build(root)
    settings = Settings(
        input_dir=root,
        data_dir=base / "data",
        enabled_models=("fingerprint",),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=1.0),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(base / "home"))
        mp.chdir(base)  # a `$(touch pwned)` that reached a shell would create base/pwned
        summary = run_folder(settings, progress=lambda _: None)
    return root, rows, summary, settings


def _row_ids(matrix) -> list[str]:
    return [row.name for row in matrix[1]]


def _index(settings: Settings) -> dict[str, int]:
    rows = open_clip_table(connect(str(settings.data_dir / "lancedb")), "fingerprint").to_arrow()
    ids = rows.column("video_id").to_pylist()
    assert len(set(rows.column("clip_id").to_pylist())) == len(ids)  # no clip twice
    return {v: ids.count(v) for v in set(ids)}


ROW_NAMES = [
    "good.mp4",
    "zero.mp4",
    "text.mp4",
    "random.mkv",
    "truncated.mp4",
    "truncated.mkv",
    "no_moov.mp4",
    "audio.mp4",
    "audio.m4a",
    "one_frame.mp4",
    "half.mp4",
    "vfr_mkv.mkv",
    "rotated_90.mp4",
    "hevc_10bit.mp4",
    "h264_10bit.mp4",
    "mjpeg_avi.avi",
    "h264_avi.avi",
    "vp9_webm.webm",
    "odd_17x13.mp4",
    "huge_8000.avi",
    "wide_16000x200.avi",
    "garbage_mid.mp4",
    "with space.mp4",
    "ünïcödé 映像.mp4",
    'quote\'s "double".mp4',
    "$(touch pwned).mp4",
    "xvid_bframes.avi",
    "divx_packed.avi",
    "xvid_not_coded.avi",
    "xvid_empty_chunks.avi",
    "loop/self",
    "ping.mp4",
    "dangling.mp4",
    "to_root",
    os.fsdecode(b"caf\xe9.mp4"),
    "forged\nFAILED elsewhere.mp4",
    "edit_list_cut.mp4",
    "resolution_change.ts",
]


def test_every_row_of_the_matrix_is_built(matrix):
    assert _row_ids(matrix) == ROW_NAMES


@pytest.mark.parametrize("name", ROW_NAMES)
def test_each_file_ends_done_or_fails_alone_with_its_reason(matrix, name):
    root, rows, summary, settings = matrix
    row = next(r for r in rows if r.name == name)
    path = escape_name(str(root / name))  # as every line shows it: one line, valid UTF-8
    lines = summary_lines(summary)
    assert not any(line.startswith("FAILED elsewhere.mp4") for line in lines)  # no forged status line
    if row.outcome == "skipped":
        skipped = {s.path: s.reason for s in summary.skipped_inputs}
        assert path in skipped and row.reason in skipped[path]
        assert f"SKIPPED {path}: {skipped[path]}" in lines
        return
    video = VideoRegistry(settings.data_dir / "registry.sqlite").get(video_id_for(name))
    indexed = _index(settings).get(video.video_id, 0)
    account = next(a for a in summary.videos if a.video_id == video.video_id)
    if video.status == "done":
        assert row.outcome in ("done", "done_or_failed"), f"{name} was expected to fail"
        assert indexed == account.indexed_clips > 0
        if row.outcome == "done":  # every planned clip reached the index
            assert indexed == account.planned and not account.drops, account.drops
    else:
        assert row.outcome in ("failed", "done_or_failed"), f"{name}: {video.error}"
        assert video.status == "failed" and video.error and row.reason in video.error
        assert indexed == 0
        # The summary names the file once, then the reason.
        reason = escape_name(video.error.removeprefix(f"{root / name}: "))
        assert f"FAILED {path}: {reason}" in lines
        assert next(line for line in lines if line.startswith(f"FAILED {path}:")).count(path) == 1


def test_nothing_else_changed_and_no_name_reached_a_shell(matrix, tmp_path):
    root, rows, summary, settings = matrix
    assert not (root.parent / "pwned").exists() and not (root / "pwned").exists()
    # The good video is indexed exactly as it is when it runs alone.
    alone = tmp_path / "alone"
    alone.mkdir()
    os.link(root / "good.mp4", alone / "good.mp4")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(tmp_path / "home"))
        single = Settings(**{**settings.model_dump(), "input_dir": alone, "data_dir": tmp_path / "data"})
        assert run_folder(single, progress=lambda _: None).complete
    table = open_clip_table(connect(str(settings.data_dir / "lancedb")), "fingerprint").to_arrow()
    mine = {r["clip_id"]: r["vector"] for r in table.to_pylist() if r["video_id"] == video_id_for("good.mp4")}
    theirs = {
        r["clip_id"]: r["vector"]
        for r in open_clip_table(connect(str(tmp_path / "data" / "lancedb")), "fingerprint").to_arrow().to_pylist()
    }
    assert mine.keys() == theirs.keys() and all(mine[k] == pytest.approx(theirs[k], abs=1e-6) for k in mine)
    # The exit code a CLI run would give: non-zero, since some rows fail.
    assert not summary.complete
