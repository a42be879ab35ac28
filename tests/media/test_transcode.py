from __future__ import annotations

import av
import pytest

from video_assets.media.clipping import ClipSpan
from video_assets.media.errors import VideoReadError
from video_assets.media.frames import FrameSignature, extract_frames
from video_assets.media.probe import probe
from video_assets.media.synthetic import read_frame_index
from video_assets.media.transcode import transcode_clip


def _audio_seconds(path) -> float:
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
        return samples / c.streams.audio[0].codec_context.sample_rate


def test_clip_has_the_span_duration_frames_and_audio(synthetic_video, tmp_path):
    src = synthetic_video(duration_s=6.0, fps=30.0, size=(96, 72), pattern="index", audio=True)
    out = transcode_clip(src, ClipSpan(1.0, 3.5), tmp_path / "clips" / "a.mp4")
    info = probe(out)
    assert (info.codec, info.pix_fmt, info.num_frames, info.has_audio) == ("h264", "yuv420p", 75, True)
    assert info.duration_s == pytest.approx(2.5, abs=1e-3)
    assert _audio_seconds(out) == pytest.approx(2.5, abs=0.05)  # AAC frames are 21 ms
    (clip,) = extract_frames(out, [ClipSpan(0.0, 2.5)], [FrameSignature("sequence", 30.0)])
    numbers = [read_frame_index(f) for f in clip.frames["sequence-30.0"].frames]
    assert numbers == list(range(30, 105))  # exactly the source frames of the span
    assert [p.name for p in out.parent.iterdir()] == ["a.mp4"]  # no temp file left behind


def test_without_audio_odd_sizes_and_rotation(synthetic_video, tmp_path):
    src = synthetic_video(duration_s=2.0, size=(97, 61), pix_fmt="yuv444p", audio=True, rotation=90)
    info = probe(transcode_clip(src, ClipSpan(0.5, 1.5), tmp_path / "b.mp4", keep_audio=False))
    assert not info.has_audio
    assert (info.width, info.height, info.rotation) == (96, 60, 90)  # 4:2:0 needs even sizes
    assert info.num_frames == 30


def test_vp9_source_and_a_failed_clip_leaves_nothing(synthetic_video, tmp_path):
    src = synthetic_video(".webm", codec="libvpx-vp9", duration_s=2.0, audio=True)
    info = probe(transcode_clip(src, ClipSpan(0.0, 2.0), tmp_path / "c.mp4"))
    assert info.num_frames == 60 and info.has_audio
    with pytest.raises(VideoReadError, match="no frame in clip"):
        transcode_clip(src, ClipSpan(5.0, 6.0), tmp_path / "d.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]
