"""An MP4 without its index (the moov box, written last unless "faststart") fails with a
reason that says so, instead of FFmpeg's "Invalid data" or "only data streams"."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from video_assets.media.clipping import ClipSpan
from video_assets.media.errors import VideoReadError
from video_assets.media.frames import FrameSignature, extract_frames
from video_assets.media.mp4_index import missing_index, top_level_boxes
from video_assets.media.probe import probe
from video_assets.media.synthetic import make_audio_only, make_truncated, make_video

MOOV_GONE = "the MP4 index (moov box) is missing"
MOOV_CUT = "the MP4 index (moov box) is cut off"
HINT = "the file is probably truncated or still being written"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = make_video(tmp_path_factory.mktemp("mp4_index") / "clean.mp4", duration_s=2.0, fps=12.0, size=(96, 64))
    assert [b.kind for b in top_level_boxes(path)][-1] == "moov"  # not faststart: the index comes last
    return path


def _strip_moov(src: Path, dst: Path) -> Path:
    """The whole moov box cut out, the media data intact."""
    data = src.read_bytes()
    (moov,) = [b for b in top_level_boxes(src) if b.kind == "moov"]
    dst.write_bytes(data[: moov.offset] + data[moov.end :])
    return dst


def _reason(path: Path) -> str:
    with pytest.raises(VideoReadError) as caught:
        probe(path)
    assert caught.value.path == str(path) and str(caught.value).startswith(f"{path}: ")
    return caught.value.reason


def test_mp4_cut_at_60_percent_says_its_index_is_missing(mp4: Path, tmp_path: Path) -> None:
    cut = make_truncated(mp4, tmp_path / "cut at 60%.mp4", keep_fraction=0.6)
    reason = _reason(cut)
    assert reason.startswith(f"cannot open as a video container: {MOOV_GONE}") and HINT in reason
    assert "ends inside its 'mdat' box" in reason  # the cut fell in the media data
    # Frame extraction opens the file the same way and says the same.
    with pytest.raises(VideoReadError, match=MOOV_GONE.replace("(", r"\(").replace(")", r"\)")):
        extract_frames(cut, [ClipSpan(0.0, 1.0)], [FrameSignature("sequence", 2.0)])


def test_mp4_with_its_moov_box_cut_out_says_its_index_is_missing(mp4: Path, tmp_path: Path) -> None:
    reason = _reason(_strip_moov(mp4, tmp_path / "no moov.mp4"))
    assert reason == f"cannot open as a video container: {MOOV_GONE}; {HINT}"


def _opens_without_video(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            return not container.streams.video
    except av.FFmpegError:
        return False


def test_mp4_cut_inside_its_moov_box_says_the_index_is_cut_off(mp4: Path, tmp_path: Path) -> None:
    (moov,) = [b for b in top_level_boxes(mp4) if b.kind == "moov"]
    data, cut = mp4.read_bytes(), tmp_path / "half index.mp4"
    # Most cuts inside the index make FFmpeg refuse the file ...
    cut.write_bytes(data[: moov.offset + moov.size // 2])
    assert _reason(cut).startswith(f"cannot open as a video container: {MOOV_CUT}")
    # ... some (before the video track's handler) open with a lone "data" stream.
    for end in range(moov.offset + 8, moov.end, 4):
        cut.write_bytes(data[:end])
        if _opens_without_video(cut):
            break
    else:
        pytest.fail(f"no cut of {mp4}'s index opened without a video stream")
    reason = _reason(cut)
    assert reason.startswith(f"no video stream: {MOOV_CUT} (it needs {moov.end} bytes") and reason.endswith(HINT)


def test_whole_mp4_without_video_keeps_the_plain_reason(tmp_path: Path) -> None:
    audio = make_audio_only(tmp_path / "podcast.mp4")
    assert missing_index(audio) is None
    assert _reason(audio) == "no video stream (only audio streams)"


def test_recording_in_progress_mdat_to_end_of_file(tmp_path: Path) -> None:
    # A writer that has not finished leaves mdat's size 0 ("to the end of the file").
    ftyp = (16).to_bytes(4, "big") + b"ftypisom" + (512).to_bytes(4, "big")
    path = tmp_path / "recording.mp4"
    path.write_bytes(ftyp + (0).to_bytes(4, "big") + b"mdat" + bytes(1000))
    assert [(b.kind, b.end) for b in top_level_boxes(path)] == [("ftyp", 16), ("mdat", 1024)]
    assert missing_index(path) == f"{MOOV_GONE}; {HINT}"


def test_files_that_are_no_mp4_get_no_mp4_diagnosis(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20, encoding="utf-8")
    assert missing_index(text) is None
    assert "moov" not in _reason(text)
    mkv = make_truncated(make_video(tmp_path / "clip.mkv", duration_s=1.0, size=(64, 48)), tmp_path / "stub.mkv", 0.01)
    assert missing_index(mkv) is None and "moov" not in _reason(mkv)
