"""clipping.scene_detector = "adaptive": PySceneDetect's AdaptiveDetector on our decoder's frames."""

from __future__ import annotations

import os
import sys

import av
import pytest

from video_assets.media.clipping import scene_cut_spans
from video_assets.media.scene_detectors import INSTALL_HINT, SceneDetectorUnavailable
from video_assets.settings.config import ClippingSettings
from video_assets.stages.clips import spans_for

FPS = 25
CUTS_S = [1.0, 2.0]  # frames 25 and 50


def _need_scenedetect() -> None:
    """Skip without the `scenes` extra, except where VIDEO_ASSETS_REQUIRE_SCENEDETECT=1 (CI): there a
    missing package or a cv2 that cannot load (no libGL) fails, so CI cannot skip the option silently."""
    if os.environ.get("VIDEO_ASSETS_REQUIRE_SCENEDETECT") == "1":
        import scenedetect  # noqa: F401
    else:
        pytest.importorskip("scenedetect")


def _first_pts(path) -> int:
    with av.open(str(path)) as container:
        return min(packet.pts for packet in container.demux(video=0) if packet.pts is not None)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".mp4", "libx264"), (".avi", "mpeg4")],  # MPEG-4 Part 2 AVI with B-frames: pts start at 1
)
def test_adaptive_finds_hard_cuts_on_their_frame(synthetic_video, suffix, codec):
    _need_scenedetect()
    path = synthetic_video(suffix, duration_s=3.0, fps=FPS, size=(64, 48), codec=codec, scene_cuts_s=CUTS_S, seed=3)
    if codec == "mpeg4":
        assert _first_pts(path) == 1  # the case PySceneDetect's own backends stamp one frame late
    spans = scene_cut_spans(path, detector="adaptive", min_clip_len_s=0.5, max_clip_len_s=10.0)
    assert [t for s in spans for t in (s.start_s, s.end_s)] == pytest.approx([0.0, 1.0, 1.0, 2.0, 2.0, 3.0], abs=1e-6)


def test_the_pipeline_setting_picks_the_detector(synthetic_video):
    _need_scenedetect()
    # Three 1 s scenes; the builtin splitter at a threshold of 0.99 sees none of the cuts.
    path = synthetic_video(duration_s=3.0, fps=FPS, size=(64, 48), scene_cuts_s=CUTS_S, seed=3)
    settings = {"method": "scene_cut", "min_clip_len_s": 0.5, "max_clip_len_s": 10.0, "scene_threshold": 0.99}
    builtin = spans_for(str(path), 3.0, ClippingSettings(**settings))
    adaptive = spans_for(str(path), 3.0, ClippingSettings(**settings, scene_detector="adaptive"))
    assert [s.start_s for s in builtin] == [0.0]
    assert [s.start_s for s in adaptive] == pytest.approx([0.0, 1.0, 2.0], abs=1e-6)


def test_adaptive_without_scenedetect_names_the_setting_and_the_extra(synthetic_video, monkeypatch):
    path = synthetic_video(duration_s=1.0, fps=FPS, size=(64, 48))
    monkeypatch.setitem(sys.modules, "scenedetect", None)  # import scenedetect now raises ImportError
    with pytest.raises(SceneDetectorUnavailable) as error:
        scene_cut_spans(path, detector="adaptive")
    assert "clipping.scene_detector" in str(error.value)
    assert "not installed" in str(error.value)
    assert INSTALL_HINT == 'pip install "video-assets[scenes]"'
    assert INSTALL_HINT in str(error.value)


def test_an_unknown_detector_is_refused(synthetic_video):
    with pytest.raises(ValueError, match="unknown scene detector"):
        scene_cut_spans(synthetic_video(duration_s=1.0, fps=FPS, size=(64, 48)), detector="transnet-v3")
