"""clipping.scene_detector = "transnetv2" and `probe --scenes`: where the published network cuts
generated videos (hard cuts, a dissolve, a fade through black, a flash), as the pipeline runs it."""

from __future__ import annotations

import json

import av
import pytest

from tests.media.scene_videos import blend_script, write_blends, write_shots
from tests.models.transnetv2_fixture import need_weights
from video_assets.cli.main import main
from video_assets.media.clipping import scene_cut_spans
from video_assets.settings.config import ClippingSettings
from video_assets.stages.clips import spans_for

FPS = 25
# Frames 0-29 shot 0, a hard cut to shot 1 at 30, a 12-frame dissolve to shot 2 over 60-71,
# a 12-frame fade through black to shot 3 over 96-107, and a two-frame flash at 130-131.
SCRIPT = blend_script(
    ("shot", 0, 30), ("shot", 1, 30), ("dissolve", 2, 12), ("shot", 2, 24), ("fade", 3, 12), ("shot", 3, 40)
)
FLASH = (130, 131)


def test_the_pipeline_setting_cuts_hard_cuts_dissolves_and_fades_not_a_flash(tmp_path):
    need_weights()
    path = write_blends(tmp_path / "script.mp4", SCRIPT, flashes=FLASH, fps=FPS)
    settings = ClippingSettings(
        method="scene_cut", scene_detector="transnetv2", min_clip_len_s=0.1, max_clip_len_s=100.0
    )
    spans = spans_for(str(path), len(SCRIPT) / FPS, settings)
    starts = [round(span.start_s * FPS) for span in spans]
    assert starts[:2] == [0, 30]  # the hard cut, on its frame
    assert len(starts) == 4, starts  # nothing at the flash
    assert 60 <= starts[2] < 72  # within the dissolve (its peak is at its middle)
    assert 96 <= starts[3] < 108  # within the fade
    assert spans[-1].end_s == pytest.approx(len(SCRIPT) / FPS)


def test_hard_cuts_on_a_b_frame_avi_are_stamped_on_their_frame(synthetic_video):
    """MPEG-4 Part 2 AVI with B-frames: its pts start at 1; cuts are timed by our decoder."""
    need_weights()
    from video_assets.models.transnetv2_cuts import cut_probabilities

    path = synthetic_video(
        ".avi", duration_s=3.0, fps=FPS, size=(64, 48), codec="mpeg4", scene_cuts_s=[1.0, 2.0], seed=3
    )
    with av.open(str(path)) as container:
        assert min(p.pts for p in container.demux(video=0) if p.pts is not None) == 1
    spans = scene_cut_spans(
        path, detector="transnetv2", cut_probabilities=cut_probabilities, min_clip_len_s=0.5, max_clip_len_s=10.0
    )
    assert [t for s in spans for t in (s.start_s, s.end_s)] == pytest.approx([0.0, 1.0, 1.0, 2.0, 2.0, 3.0], abs=1e-6)


def test_without_the_network_the_detector_says_what_it_needs(synthetic_video):
    with pytest.raises(ValueError, match="needs cut_probabilities"):
        scene_cut_spans(synthetic_video(duration_s=1.0, fps=FPS, size=(64, 48)), detector="transnetv2")


def probe_cuts(path, detector: str, capsys) -> list[dict]:
    assert main(["probe", str(path), "--scenes", detector, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_frames"] == 50  # the probe's own fields are still there
    return report["scene_cuts"]


@pytest.mark.parametrize("detector", ["builtin", "adaptive", "transnetv2"])
def test_probe_lists_each_detectors_cuts(tmp_path, capsys, detector):
    if detector == "transnetv2":
        need_weights()
    if detector == "adaptive":
        pytest.importorskip("scenedetect")
    path = write_shots(tmp_path / "shots.mp4", [0] * 20 + [1] * 30, fps=FPS)
    cuts = probe_cuts(path, detector, capsys)
    assert [(c["frame"], c["time_s"]) for c in cuts] == [(20, 0.8)]
    score = cuts[0]["score"]
    if detector == "builtin":
        assert ClippingSettings().scene_threshold < score <= 1.0  # a change score over the threshold
    elif detector == "adaptive":
        assert score >= 3.0  # PySceneDetect's adaptive ratio, cut at 3.0
    else:
        assert 0.5 < score <= 1.0  # the transition probability
