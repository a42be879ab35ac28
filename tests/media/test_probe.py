from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from video_assets.media.errors import VideoReadError
from video_assets.media.probe import probe, sha256_file
from video_assets.media.synthetic import (
    make_audio_only,
    make_text_file_as_video,
    make_truncated,
    make_zero_byte,
)


@pytest.mark.parametrize(
    "suffix, codec, container, decoder, pix_fmt",
    [
        (".mp4", "libx264", "mp4", "h264", "yuv420p"),
        (".mp4", "mpeg4", "mp4", "mpeg4", "yuv420p"),
        (".webm", "libvpx-vp9", "webm", "vp9", "yuv420p"),
        (".avi", "mjpeg", "avi", "mjpeg", "yuvj420p"),
    ],
)
def test_probe_fields_per_codec(synthetic_video, suffix, codec, container, decoder, pix_fmt):
    path = synthetic_video(suffix, codec=codec, duration_s=2.0, fps=30.0, size=(160, 120))
    info = probe(path)
    assert container in info.container.split(",")
    assert (info.codec, info.pix_fmt, info.width, info.height) == (decoder, pix_fmt, 160, 120)
    assert info.num_frames == 60  # WebM stores no frame count: this one is counted
    assert info.duration_s == pytest.approx(2.0, abs=1e-3)
    assert info.avg_fps == pytest.approx(30.0)
    assert info.rotation == 0 and not info.has_audio and not info.warnings
    assert info.size_bytes == path.stat().st_size
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert json.loads(json.dumps(info.to_dict()))["num_frames"] == 60


def test_odd_size_needs_a_4_4_4_format_for_h264(synthetic_video, tmp_path):
    with pytest.raises(av.FFmpegError):  # libx264 refuses odd sizes in 4:2:0
        synthetic_video(".mp4", size=(97, 61), duration_s=0.2)
    info = probe(synthetic_video(".mp4", size=(97, 61), pix_fmt="yuv444p", duration_s=0.5))
    assert (info.width, info.height, info.pix_fmt) == (97, 61, "yuv444p")
    mjpeg = probe(synthetic_video(".avi", codec="mjpeg", size=(97, 61), pix_fmt="yuvj444p", duration_s=0.5))
    assert (mjpeg.width, mjpeg.height) == (97, 61)


def test_one_frame_and_sub_second_videos(synthetic_video):
    one = probe(synthetic_video(duration_s=1 / 25, fps=25.0))
    assert one.num_frames == 1
    assert one.duration_s == pytest.approx(0.04, abs=1e-3)
    short = probe(synthetic_video(duration_s=0.4, fps=30.0))
    assert short.num_frames == 12
    assert short.duration_s == pytest.approx(0.4, abs=1e-3)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_rate_is_counted_from_packets(synthetic_video, suffix):
    path = synthetic_video(suffix, vfr=True, duration_s=3.0, seed=4)
    with av.open(str(path)) as c:
        pts = sorted(p.pts * c.streams.video[0].time_base for p in c.demux(video=0) if p.pts is not None)
    info = probe(path)
    assert info.num_frames == len(pts)
    gaps = np.diff(np.asarray(pts, dtype=float))
    assert gaps.max() > 1.3 * gaps.min()  # really irregular
    # Duration = last timestamp + last frame's length: between the last pts and one max gap later.
    assert float(pts[-1]) < info.duration_s <= float(pts[-1]) + gaps.max() + 1e-3


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_from_the_display_matrix(synthetic_video, rotation):
    info = probe(synthetic_video(rotation=rotation, duration_s=0.3))
    assert info.rotation == rotation
    assert info.display_size == ((120, 160) if rotation in (90, 270) else (160, 120))


def test_audio_is_reported(synthetic_video):
    assert probe(synthetic_video(audio=True, duration_s=1.0)).has_audio
    assert probe(synthetic_video(".webm", codec="libvpx-vp9", audio=True, duration_s=1.0)).has_audio


def test_sha256_is_streamed_in_chunks(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=777) == hashlib.sha256(data).hexdigest()


def _assert_read_error(path: Path, *words: str) -> None:
    with pytest.raises(VideoReadError) as caught:
        probe(path)
    message = str(caught.value)
    assert str(path) in message and caught.value.path == str(path)
    for word in words:
        assert word in message


def test_bad_inputs_raise_video_read_error_naming_the_file(synthetic_video, tmp_path):
    _assert_read_error(make_zero_byte(tmp_path / "empty.mp4"), "empty")
    _assert_read_error(make_text_file_as_video(tmp_path / "notes.mp4"), "cannot open")
    _assert_read_error(make_audio_only(tmp_path / "podcast.m4a"), "no video stream", "audio")
    _assert_read_error(tmp_path / "missing.mp4", "does not exist")
    # MP4 keeps its index at the end: half a file cannot be opened.
    src = synthetic_video(duration_s=2.0)
    _assert_read_error(make_truncated(src, tmp_path / "cut.mp4", 0.5), "cannot open")
    # Matroska without its first cluster has no frame at all.
    mkv = synthetic_video(".mkv", duration_s=2.0)
    _assert_read_error(make_truncated(mkv, tmp_path / "stub.mkv", 0.01))


def test_truncated_matroska_is_readable_with_a_warning(synthetic_video, tmp_path):
    src = synthetic_video(".mkv", duration_s=4.0)
    info = probe(make_truncated(src, tmp_path / "half.mkv", 0.5))
    assert 0 < info.num_frames < 120
    assert info.duration_s < 3.5
    assert any("truncated" in w for w in info.warnings)


def _write_mjpeg_ticks(path: Path) -> Path:
    """Ten frames, one 90 kHz tick apart, whatever the container makes of that."""
    with av.open(str(path), "w") as c:
        stream = c.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        stream.codec_context.time_base = Fraction(1, 90000)
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            c.mux(stream.encode(frame.reformat(format="yuvj420p")))
        c.mux(stream.encode(None))
    return path


def test_absurd_frame_rate_is_refused(tmp_path):
    _assert_read_error(_write_mjpeg_ticks(tmp_path / "absurd.mp4"), "absurd frame rate")  # 90000 fps


def test_timestamps_that_collapse_are_refused(tmp_path):
    # Matroska keeps milliseconds: the ten 90 kHz ticks all become pts 0.
    _assert_read_error(_write_mjpeg_ticks(tmp_path / "same_ms.mkv"), "broken timestamps")
