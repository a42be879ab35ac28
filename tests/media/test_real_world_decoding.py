"""Real-world files decode as ffmpeg decodes them: Xvid/DivX AVIs (B-frames, packed
B-frames, not-coded and dropped frames), the codec matrix, bit rot, truncation.

The reference is ffmpeg's own fps filter (`ffmpeg_fps_reference`, libavfilter through
PyAV) with ``round=up``: output n shows the last picture at or before n / fps. We follow
NeMo's rule (the frame nearest each sample time, both clip ends sampled), so we give the
same pictures where samples land on source frames, at most one frame apart elsewhere
(VFR, 25 fps at 3 fps), and one sample more at the end of a span.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from video_assets.media.clipping import ClipSpan
from video_assets.media.errors import VideoReadError
from video_assets.media.frames import FrameSignature, extract_frames
from video_assets.media.probe import probe
from video_assets.media.synthetic import make_truncated, make_video, read_frame_index
from video_assets.media.synthetic_codecs import (
    CODEC_CASES,
    ffmpeg_fps_reference,
    make_codec_case,
    make_garbage_middle,
    make_mpeg4_avi,
)
from video_assets.settings.config import FrameSettings
from video_assets.stages.clips import CLIP_SCHEMA, clip_row
from video_assets.stages.frames import FRAMES_SCHEMA, extract_partition_frames
from video_assets.stages.parquet_parts import StreamingParquetWriter

AVI_CASES = {
    "xvid_bframes": dict(bframes=2),
    "divx_packed_bframes": dict(bframes=2, packed=True),
    "divx_packed_3_bframes_25fps": dict(bframes=3, packed=True, fps=25),
    "xvid_not_coded_frames": dict(drop_every=2),
    "avi_empty_dropped_chunks": dict(drop_every=2, dropped="empty"),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("real_world")
    cache = {}

    def get(name: str):
        if name not in cache:
            if name in AVI_CASES:
                cache[name] = make_mpeg4_avi(root / f"{name}.avi", duration_s=3.0, **AVI_CASES[name])
            else:
                cache[name] = make_codec_case(name, root / name, duration_s=2.0)
        return cache[name]

    return get


def _number(rgb: np.ndarray, name: str) -> int:
    return read_frame_index(np.rot90(rgb, k=1) if name == "rotated_90" else rgb)


@pytest.mark.parametrize("fps", [2.0, 3.0])
@pytest.mark.parametrize("name", sorted(CODEC_CASES) + sorted(AVI_CASES))
def test_sampled_frames_match_ffmpegs_fps_filter(made, name, fps):
    path = made(name)
    ref, _ = ffmpeg_fps_reference(path, fps)
    (clip,) = extract_frames(path, [ClipSpan(0.0, probe(path).duration_s)], [FrameSignature("sequence", fps)])
    assert clip.error is None
    ours = clip.frames[f"sequence-{fps!r}"].frames
    assert len(ours) - len(ref) in (0, 1)  # ours also samples the end of the span
    for k, (mine, theirs) in enumerate(zip(ours, ref)):
        assert mine.shape == theirs.shape
        a, b = _number(mine, name), _number(theirs, name)
        assert abs(a - b) <= 1, (k, a, b)
        if a == b:  # the same source picture: the same pixels, same decoder and scaler
            assert np.abs(mine.astype(int) - theirs).mean() < 1.0


def test_packed_b_frames_with_shuffled_stamps_decode_in_order(made):
    path = made("divx_packed_bframes")
    (clip,) = extract_frames(path, [ClipSpan(0.0, 3.0)], [FrameSignature("sequence", 10.0)])
    got = clip.frames["sequence-10.0"]
    assert [read_frame_index(f) for f in got.frames] == [3 * k for k in range(30)] + [89]
    assert clip.repeated == 0


def test_not_coded_frames_take_the_nearest_picture_and_are_counted(made):
    """Every odd slot is a 7-byte not-coded VOP: the 0.5, 1.5 and 2.5 s samples (slots 15,
    45, 75) and the clip ends (slots 29, 59) have no picture of their own and show the
    slot before (ties go earlier). Slot 89, the last, gets a picture from FFmpeg itself:
    its decoder re-emits the last picture when flushed, so that sample is no repeat of ours."""
    path = made("xvid_not_coded_frames")
    spans = [ClipSpan(0.0, 1.0), ClipSpan(1.0, 2.0), ClipSpan(2.0, 3.0)]
    clips = extract_frames(path, spans, [FrameSignature("sequence", 2.0), FrameSignature("middle", 1.0)])
    assert [c.error for c in clips] == [None, None, None]
    seq = [[read_frame_index(f) for f in c.frames["sequence-2.0"].frames] for c in clips]
    assert seq == [[0, 14, 28], [30, 44, 58], [60, 74, 88]]
    # The middles (slots 15, 45, 75) are not coded as well: the sample and the middle count.
    assert [read_frame_index(c.frames["middle-1.0"].frames[0]) for c in clips] == [14, 44, 74]
    assert [c.repeated for c in clips] == [3, 3, 2]
    # Timestamps name the picture shown, not the slot that had none.
    np.testing.assert_allclose(clips[0].frames["sequence-2.0"].timestamps, np.array([0, 14, 28]) / 30)


def test_empty_dropped_frame_chunks_are_not_frames(made):
    path = made("avi_empty_dropped_chunks")
    assert probe(path).num_frames == 45  # 90 slots, every other one an empty chunk
    (clip,) = extract_frames(path, [ClipSpan(0.0, 3.0)], [FrameSignature("sequence", 2.0)])
    assert [read_frame_index(f) for f in clip.frames["sequence-2.0"].frames] == [0, 14, 30, 44, 60, 74, 88]
    assert clip.repeated == 0  # nearest-frame sampling picked real frames: nothing repeated


def test_repeated_samples_reach_the_frames_summary(made, tmp_path):
    path = made("xvid_not_coded_frames")
    spans = [ClipSpan(0.0, 1.5), ClipSpan(1.5, 3.0)]
    rows = [clip_row("v1", "v1", str(path), k, span) for k, span in enumerate(spans)]
    with StreamingParquetWriter(tmp_path / "frames.parquet", FRAMES_SCHEMA) as writer:
        summary = extract_partition_frames(pa.Table.from_pylist(rows, schema=CLIP_SCHEMA), FrameSettings(), writer)
        writer.commit()
    assert summary.clips == 2 and summary.dropped == {}
    # 2 fps: slots [0, 15, 30, 44] and [45, 60, 75, 89]; 15, 45 and 75 are not coded (89 is
    # re-emitted by FFmpeg's decoder, see above).
    assert summary.repeated_samples == 3 and summary.repeated_by_video == {"v1": 3}
    assert summary.repeated_by_clip == {rows[0]["clip_id"]: 1, rows[1]["clip_id"]: 2}
    assert summary.scaled_from == {}


def test_a_stretch_without_pictures_still_fails_its_clip_only(made, tmp_path):
    """Neighbours are borrowed only inside the clip: a clip none of whose frames decode fails."""
    src = made("mjpeg_avi")
    from video_assets.media.synthetic import make_corrupted

    bad = make_corrupted(src, tmp_path / "bad.avi", start_s=0.9, end_s=1.6)
    spans = [ClipSpan(0.0, 1.0), ClipSpan(1.0, 1.5), ClipSpan(1.5, 2.0)]
    before, hit, after = extract_frames(bad, spans, [FrameSignature("sequence", 2.0)])
    # Frames 27-47 are corrupt. [0, 1) samples frame 29 last: MJPEG is decoded only where
    # sampled, so the nearest decoded picture of the clip is the previous sample.
    assert [read_frame_index(f) for f in before.frames["sequence-2.0"].frames] == [0, 15, 15]
    assert hit.frames == {} and "no decoded picture in the clip" in hit.error
    # [1.5, 2) starts at corrupt frame 45: the packets after it are decoded until one gives
    # a picture (48), and the clip's edge keeps frame 26 of the clip before out.
    assert [read_frame_index(f) for f in after.frames["sequence-2.0"].frames] == [48, 59]
    assert before.repeated == 1 and after.repeated == 1


def test_mp4_cut_before_its_index_fails_naming_the_file(tmp_path):
    src = make_codec_case("h264_mp4", tmp_path / "clean", duration_s=1.0)  # moov at the end
    cut = make_truncated(src, tmp_path / "cut at 60%.mp4", keep_fraction=0.6)
    with pytest.raises(
        VideoReadError,
        match=r"cut at 60%.mp4: (cannot open as a video container|no video stream): the MP4 index \(moov box\)",
    ):
        extract_frames(cut, [ClipSpan(0.0, 1.0)], [FrameSignature("sequence", 2.0)])


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_files_keep_the_clips_before_the_damage(tmp_path, damage):
    src = make_video(tmp_path / "clean.mkv", duration_s=4.0, size=(96, 72), pattern="index", gop=30)
    if damage == "garbage":
        bad = make_garbage_middle(src, tmp_path / "garbage.mkv", at=0.6, length=3000)
    else:
        bad = make_truncated(src, tmp_path / "cut.mkv", keep_fraction=0.6)
    spans = [ClipSpan(float(s), float(s) + 1.0) for s in range(4)]
    sig = [FrameSignature("sequence", 2.0)]
    clean = extract_frames(src, spans, sig)
    damaged = extract_frames(bad, spans, sig)  # never raises: damage stays in its clips
    assert damaged[0].error is None
    np.testing.assert_array_equal(damaged[0].frames["sequence-2.0"].frames, clean[0].frames["sequence-2.0"].frames)
    for clip in damaged:
        assert clip.error is None or "decode failed" in clip.error or clip.error == "no frames in span"


@pytest.mark.parametrize("name", ["h264_mp4", "h264_avi", "xvid_bframes"])
def test_each_video_is_opened_once(made, monkeypatch, name):
    """Index, order check and decode share one container (it cost ~0.08 s per video to
    open it five times)."""
    import video_assets.media.decode_pyav as decode_pyav

    path = made(name)  # written before the spy goes in
    opened = []
    real_open = decode_pyav.av.open
    monkeypatch.setattr(decode_pyav.av, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    clips = extract_frames(path, [ClipSpan(0.0, 1.0), ClipSpan(1.0, 2.0)], [FrameSignature("sequence", 2.0)])
    assert [c.error for c in clips] == [None, None] and len(opened) == 1
