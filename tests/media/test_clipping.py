from __future__ import annotations

import uuid

import pytest

from video_assets.media.clipping import ClipSpan, clip_id, fixed_stride_spans, scene_cut_spans, split_long_span
from video_assets.media.decode import Scaling
from video_assets.media.decoders import available_backends
from video_assets.media.scenes import scene_boundaries
from video_assets.settings.config import SCENE_THRESHOLD


def _pairs(spans: list[ClipSpan]) -> list[tuple[float, float]]:
    return [(s.start_s, s.end_s) for s in spans]


def test_fixed_stride_keeps_a_tail_that_reaches_the_minimum():
    assert _pairs(fixed_stride_spans(25.0)) == [(0, 10), (10, 20), (20, 25)]
    assert _pairs(fixed_stride_spans(22.0)) == [(0, 10), (10, 20), (20, 22)]  # exactly the minimum
    assert _pairs(fixed_stride_spans(21.9)) == [(0, 10), (10, 20)]
    assert fixed_stride_spans(1.5) == [] and fixed_stride_spans(0.0) == []


def test_fixed_stride_overlapping_and_gapped_windows():
    assert _pairs(fixed_stride_spans(20.0, clip_len_s=10, stride_s=5)) == [(0, 10), (5, 15), (10, 20), (15, 20)]
    assert _pairs(fixed_stride_spans(20.0, clip_len_s=4, stride_s=10)) == [(0, 4), (10, 14)]


def test_fixed_stride_has_no_drift_over_long_videos():
    spans = fixed_stride_spans(3600.0, clip_len_s=0.1, stride_s=0.1, min_clip_len_s=0.05)
    assert len(spans) == 36000
    assert spans[-1] == ClipSpan(3599.9, 3600.0)


@pytest.mark.parametrize("kwargs", [dict(clip_len_s=0), dict(stride_s=-1), dict(min_clip_len_s=11)])
def test_fixed_stride_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        fixed_stride_spans(30.0, **kwargs)


def test_clip_span_validates_and_orders():
    with pytest.raises(ValueError):
        ClipSpan(5.0, 5.0)
    with pytest.raises(ValueError):
        ClipSpan(-1.0, 2.0)
    assert sorted([ClipSpan(10, 20), ClipSpan(0, 10)])[0] == ClipSpan(0.0, 10.0)
    assert ClipSpan(2, 5.5).duration_s == 3.5


def test_long_scene_split_in_stride_mode_drops_a_short_tail():
    assert _pairs(split_long_span(0.0, 25.0, min_clip_len_s=2, max_clip_len_s=10)) == [(0, 10), (10, 20), (20, 25)]
    assert _pairs(split_long_span(3.0, 14.5, min_clip_len_s=2, max_clip_len_s=10)) == [(3, 13)]
    assert split_long_span(0.0, 1.0, min_clip_len_s=2, max_clip_len_s=10) == []


def test_clip_id_is_uuid5_of_video_and_milliseconds():
    expected = str(uuid.uuid5(uuid.NAMESPACE_URL, "videos/a.mp4_10000_20000"))
    assert clip_id("videos/a.mp4", ClipSpan(10.0, 20.0)) == expected
    # Float noise well under a millisecond does not change the id; a real change does.
    assert clip_id("videos/a.mp4", ClipSpan(9.99999999, 20.0000001)) == expected
    assert clip_id("videos/a.mp4", ClipSpan(10.0, 20.01)) != expected
    assert clip_id("videos/b.mp4", ClipSpan(10.0, 20.0)) != expected


@pytest.mark.parametrize(
    ("suffix", "codec", "backend"),
    [
        (".mp4", "libx264", "pyav"),
        (".avi", "mpeg4", "pyav"),  # MPEG-4 Part 2 with B-frames in AVI: pts in decode order
        (".mp4", "libx264", "decord"),  # decord's frames go through `resize_rgb`
    ],
)
def test_scene_cuts_find_three_scenes_on_their_exact_frame(synthetic_video, suffix, codec, backend):
    if backend not in available_backends():
        pytest.skip("decord is not installed")
    path = synthetic_video(
        suffix, duration_s=9.0, fps=30.0, size=(96, 72), codec=codec, scene_cuts_s=[3.0, 6.0], seed=5
    )
    # The splitter as the pipeline runs it (`ANALYSIS_SCALING`), and at the models' bicubic scaling.
    spans = scene_cut_spans(path, min_clip_len_s=1.0, max_clip_len_s=10.0, backend=backend)
    scenes = scene_boundaries(path, threshold=SCENE_THRESHOLD, backend=backend, scaling=Scaling())
    expected = [0.0, 3.0, 3.0, 6.0, 6.0, 9.0]
    assert [t for s in spans for t in (s.start_s, s.end_s)] == pytest.approx(expected, abs=1e-6)
    assert [t for scene in scenes for t in scene] == pytest.approx(expected, abs=1e-6)


def test_scene_cuts_split_long_scenes_and_drop_short_ones(synthetic_video):
    # Scenes of 1 s (dropped: under the minimum), 11 s (split 5 + 5, the 1 s tail dropped).
    path = synthetic_video(duration_s=12.0, fps=10.0, size=(64, 48), scene_cuts_s=[1.0], seed=6)
    spans = scene_cut_spans(path, min_clip_len_s=2.0, max_clip_len_s=5.0)
    assert [(round(s.start_s, 3), round(s.end_s, 3)) for s in spans] == [(1.0, 6.0), (6.0, 11.0)]
