from __future__ import annotations

import av
import numpy as np
import pytest

import video_assets.media.decode_pyav as decode_pyav
import video_assets.media.frames as frames_module
from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions
from video_assets.media.errors import VideoReadError
from video_assets.media.frames import (
    FramePolicy,
    FrameSignature,
    extract_clip_frames,
    extract_frames,
    iter_extract_frames,
)
from video_assets.media.synthetic import make_corrupted, make_text_file_as_video, read_frame_index

SEQ2 = FrameSignature(FramePolicy.SEQUENCE, 2.0)
MIDDLE = FrameSignature(FramePolicy.MIDDLE, 1.0)


@pytest.fixture
def decoders(monkeypatch):
    """Every decoder `frames` opens, to count passes and read their stats."""
    opened = []
    real = frames_module.open_decoder

    def spy(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(frames_module, "open_decoder", spy)
    return opened


@pytest.fixture
def numbered(synthetic_video):
    """12 s at 30 fps, each frame showing its own number."""
    return synthetic_video(duration_s=12.0, fps=30.0, size=(64, 48), pattern="index")


def _numbers(frames: np.ndarray) -> list[int]:
    return [read_frame_index(f) for f in frames]


def test_two_fps_over_ten_seconds_of_30fps_gives_21_frames(numbered):
    (clip,) = extract_frames(numbered, [ClipSpan(0.0, 10.0)], [SEQ2])
    got = clip.frames["sequence-2.0"]
    assert clip.error is None
    assert got.frames.shape == (21, 48, 64, 3) and got.frames.dtype == np.uint8
    expected = [15 * k for k in range(20)] + [299]  # the 10.0 s sample maps to the last frame
    assert _numbers(got.frames) == expected
    np.testing.assert_allclose(got.timestamps, np.array(expected) / 30.0)


def test_middle_is_the_real_middle_frame(numbered):
    # NeMo Curator returns the clip's first frame here (0 and 300).
    first, second = extract_frames(numbered, [ClipSpan(0.0, 10.0), ClipSpan(10.0, 12.0)], [MIDDLE])
    assert _numbers(first.frames["middle-1.0"].frames) == [150]
    assert _numbers(second.frames["middle-1.0"].frames) == [330]
    assert second.frames["middle-1.0"].timestamps.tolist() == pytest.approx([11.0])


@pytest.mark.parametrize("target_res, shape", [((32, 40), (32, 40)), ((-1, -1), (48, 64)), ((0, 40), (48, 64))])
def test_target_res_is_height_width_and_nonpositive_means_native(numbered, target_res, shape):
    (clip,) = extract_frames(numbered, [ClipSpan(0.0, 2.0)], [SEQ2], options=DecodeOptions(target_res=target_res))
    assert clip.frames["sequence-2.0"].frames.shape == (5, *shape, 3)


def test_all_signatures_and_clips_share_one_decode_pass(numbered, decoders):
    spans = [ClipSpan(0.0, 4.0), ClipSpan(2.0, 6.0), ClipSpan(6.0, 12.0)]  # two overlap
    sigs = [SEQ2, FrameSignature("sequence", 3.0), FrameSignature("sequence", 2.5), MIDDLE]
    together = extract_frames(numbered, spans, sigs)
    assert len(decoders) == 1
    used = {n for clip in together for got in clip.frames.values() for n in _numbers(got.frames)}
    assert decoders[0].stats.frames_converted == len(used)  # each frame converted once
    for span, clip in zip(spans, together):
        for sig in sigs:
            alone = extract_clip_frames(numbered, span, sig)
            np.testing.assert_array_equal(clip.frames[sig.key].frames, alone.frames)
            np.testing.assert_array_equal(clip.frames[sig.key].timestamps, alone.timestamps)


def test_clips_stream_out_before_the_video_is_decoded(numbered, decoders):
    spans = [ClipSpan(float(s), float(s + 2)) for s in range(0, 12, 2)]
    stream = iter_extract_frames(numbered, spans, [SEQ2])
    position, first = next(stream)
    assert position == 0 and _numbers(first.frames["sequence-2.0"].frames) == [0, 15, 30, 45, 59]
    assert decoders[0].stats.frames_converted < 10  # 6 clips x 5 frames wanted in all
    assert sorted(p for p, _ in stream) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("suffix, codec", [(".mp4", "libx264"), (".webm", "libvpx-vp9"), (".avi", "mjpeg")])
def test_sparse_clips_seek_and_match_a_decode_without_seeking(synthetic_video, decoders, monkeypatch, suffix, codec):
    path = synthetic_video(suffix, codec=codec, duration_s=12.0, size=(64, 48), pattern="index", gop=30)
    spans = [ClipSpan(0.2, 1.0), ClipSpan(6.1, 7.0), ClipSpan(10.0, 11.0)]
    seeking = extract_frames(path, spans, [FrameSignature("sequence", 3.0)])
    monkeypatch.setattr(decode_pyav, "MIN_SEEK_GAP_FRAMES", 10**9)
    straight = extract_frames(path, spans, [FrameSignature("sequence", 3.0)])
    assert decoders[0].stats.seeks == 2 and decoders[1].stats.seeks == 0
    assert decoders[0].stats.packets_demuxed < decoders[1].stats.packets_demuxed / 2
    for a, b, span in zip(seeking, straight, spans):
        np.testing.assert_array_equal(a.frames["sequence-3.0"].frames, b.frames["sequence-3.0"].frames)
        numbers = _numbers(a.frames["sequence-3.0"].frames)
        assert numbers[0] == round(span.start_s * 30) and numbers[-1] < round(span.end_s * 30)


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_frames_are_bit_identical_to_a_plain_full_decode(synthetic_video, decoders, codec):
    """Unwanted B-frames are skipped (skip_frame=NONREF); wanted frames must not change."""
    path = synthetic_video(codec=codec, duration_s=3.0, size=(96, 72), bframes=True, seed=2)
    (clip,) = extract_frames(path, [ClipSpan(0.0, 3.0)], [FrameSignature("sequence", 7.0)])
    got = clip.frames["sequence-7.0"]
    assert decoders[0].stats.frames_decoded < 90  # something was skipped
    with av.open(str(path)) as c:
        plain = {round(float(f.time) * 30): f.to_ndarray(format="rgb24") for f in c.decode(video=0)}
    for frame, t in zip(got.frames, got.timestamps):
        np.testing.assert_array_equal(frame, plain[round(t * 30)])


@pytest.mark.parametrize("rotation, undo", [(90, 1), (180, 2), (270, 3)])
def test_frames_are_turned_upright(synthetic_video, rotation, undo):
    path = synthetic_video(duration_s=1.0, size=(64, 48), pattern="index", rotation=rotation)
    sigs = [SEQ2, FrameSignature("sequence", 30.0)]
    (clip,) = extract_frames(path, [ClipSpan(0.0, 1.0)], sigs, options=DecodeOptions(target_res=(40, 30)))
    upright = clip.frames["sequence-30.0"]
    assert upright.frames.shape[1:3] == (40, 30)  # target_res is the upright (H, W)
    (native,) = extract_frames(path, [ClipSpan(0.0, 1.0)], [SEQ2])
    frames = native.frames["sequence-2.0"].frames
    assert frames.shape[1:3] == ((64, 48) if rotation in (90, 270) else (48, 64))
    # Turning back counter-clockwise by the rotation gives the picture as drawn.
    assert [read_frame_index(np.rot90(f, k=undo)) for f in frames] == [0, 15, 29]


def test_h264_with_b_frames_in_avi_is_matched_by_picture_count(synthetic_video, decoders):
    """AVI stamps packets in decode order: with B-frames a pts does not name a picture."""
    path = synthetic_video(".avi", codec="libx264", bframes=True, duration_s=3.0, size=(64, 48), pattern="index")
    (clip,) = extract_frames(path, [ClipSpan(0.0, 3.0)], [FrameSignature("sequence", 3.0)])
    assert _numbers(clip.frames["sequence-3.0"].frames) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 89]
    # Non-reference pictures nobody wants are skipped by the order read off the slice headers.
    assert decoders[0].stats.frames_decoded < 90 and decoders[0].stats.restarts == 0


def test_variable_frame_rate_uses_the_real_timestamps(synthetic_video):
    path = synthetic_video(".mkv", duration_s=4.0, pattern="index", vfr=True, seed=8, size=(64, 48))
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(stream) if p.pts is not None)
        real = np.array([float((p - pts[0]) * stream.time_base) for p in pts])
    (clip,) = extract_frames(path, [ClipSpan(0.0, 4.0)], [FrameSignature("sequence", 2.0)])
    got = clip.frames["sequence-2.0"]
    numbers = _numbers(got.frames)
    np.testing.assert_allclose(got.timestamps, real[numbers])  # the picture is the frame whose time we report
    for k, n in enumerate(numbers):  # and it is the frame nearest to the sample time
        assert np.argmin(np.abs(real - k * 0.5)) == n


def test_a_corrupt_stretch_fails_only_the_clips_it_touches(synthetic_video, tmp_path):
    src = synthetic_video(".avi", codec="mjpeg", duration_s=3.0, size=(64, 48), pattern="index")
    bad = make_corrupted(src, tmp_path / "bad.avi", start_s=1.0, end_s=2.0)
    spans = [ClipSpan(0.0, 1.0), ClipSpan(1.0, 2.0), ClipSpan(2.0, 3.0)]
    before, hit, after = extract_frames(bad, spans, [SEQ2])
    assert _numbers(before.frames["sequence-2.0"].frames) == [0, 15, 29]
    assert _numbers(after.frames["sequence-2.0"].frames) == [60, 75, 89]
    assert hit.frames == {} and "decode" in hit.error


def test_unreadable_file_and_empty_span_errors(numbered, tmp_path):
    text = make_text_file_as_video(tmp_path / "notes.mp4")
    with pytest.raises(VideoReadError, match="notes.mp4"):
        extract_frames(text, [ClipSpan(0.0, 1.0)], [SEQ2])
    (late,) = extract_frames(numbered, [ClipSpan(20.0, 30.0)], [SEQ2])
    assert late.frames == {} and late.error == "no frames in span"
    with pytest.raises(VideoReadError, match="no frames in span"):
        extract_clip_frames(numbered, ClipSpan(20.0, 30.0), SEQ2)


def test_one_frame_video_gives_its_frame_for_every_policy(synthetic_video):
    path = synthetic_video(duration_s=1 / 25, fps=25.0, size=(64, 48), pattern="index")
    (clip,) = extract_frames(path, [ClipSpan(0.0, 0.04)], [FrameSignature("sequence", 60.0), MIDDLE])
    assert _numbers(clip.frames["sequence-60.0"].frames) == [0]
    assert _numbers(clip.frames["middle-1.0"].frames) == [0]


def test_frame_signature_key_round_trip():
    assert SEQ2.key == "sequence-2.0"
    assert FrameSignature.parse("middle-1.0") == FrameSignature(FramePolicy.MIDDLE, 1.0)
    assert FrameSignature.parse(FrameSignature("sequence", 0.25).key).fps == 0.25
    for bad in ("sequence", "first-1.0", "sequence-0", "sequence-x"):
        with pytest.raises(ValueError):
            FrameSignature.parse(bad)


@pytest.mark.parametrize("mode", ["late", "fail"])
def test_bad_seeks_fall_back_to_decoding_from_the_start(synthetic_video, decoders, monkeypatch, mode):
    """A keyframe seek that lands late (a lying index) or fails."""
    path = synthetic_video(duration_s=12.0, size=(64, 48), pattern="index", gop=30)
    real_seek = decode_pyav.PyAVDecoder._seek

    def seek(self, container, stream, pts):
        if mode == "fail":
            raise av.FFmpegError(22, "seek refused")
        real_seek(self, container, stream, pts + int(2 / stream.time_base))

    monkeypatch.setattr(decode_pyav.PyAVDecoder, "_seek", seek)
    (clip,) = extract_frames(path, [ClipSpan(6.0, 7.0)], [SEQ2])
    assert decoders[0].stats.restarts == 1
    assert _numbers(clip.frames["sequence-2.0"].frames) == [180, 195, 209]
