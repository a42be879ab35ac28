"""The builtin splitter: a flash of a few frames inside one shot is not a cut; a short shot is."""

from __future__ import annotations

import pytest

from tests.media.scene_videos import write_shots
from video_assets.media.clipping import scene_cut_spans
from video_assets.media.scenes import FLASH_MAX_FRAMES, boundaries_from_scores, change_scores
from video_assets.settings.config import SCENE_THRESHOLD

FPS = 25


def _starts(path) -> list[int]:
    """Frames where the builtin splitter starts a scene after the first (one span per scene)."""
    spans = scene_cut_spans(path, min_clip_len_s=1e-3, max_clip_len_s=1e9)
    return [round(s.start_s * FPS) for s in spans[1:]]


@pytest.mark.parametrize("length", range(1, FLASH_MAX_FRAMES + 1))
def test_a_flash_inside_a_shot_is_no_cut(tmp_path, length):
    flash = list(range(30, 30 + length))
    path = write_shots(tmp_path / "flash.mp4", [0] * 60 + [1] * 30, flashes=flash, fps=FPS)
    changes = change_scores(path, analysis_size=(27, 48))
    # The flash itself scores like a cut, so only the suppression keeps it out.
    assert changes.scores[flash[0]] > SCENE_THRESHOLD
    assert _starts(path) == [60]  # the real cut after it is still found


def test_a_flash_longer_than_the_limit_is_cut_around(tmp_path):
    flash = list(range(30, 30 + FLASH_MAX_FRAMES + 2))
    path = write_shots(tmp_path / "long_flash.mp4", [0] * 60, flashes=flash, fps=FPS)
    assert _starts(path) == [flash[0], flash[-1] + 1]


def test_a_short_shot_between_two_cuts_keeps_both(tmp_path):
    # Shot 0, two frames of shot 1, then shot 2: the frame after the short shot does not look
    # like the one before it, so both cuts stand and the short shot is its own scene.
    path = write_shots(tmp_path / "short.mp4", [0] * 30 + [1] * 2 + [2] * 30, fps=FPS)
    assert _starts(path) == [30, 32]
    changes = change_scores(path, analysis_size=(27, 48))
    scenes = boundaries_from_scores(changes, SCENE_THRESHOLD)
    assert [round((b - a) * FPS) for a, b in scenes] == [30, 2, 30]
    # A minimum clip length over two frames drops the short scene and keeps the others whole.
    spans = scene_cut_spans(path, min_clip_len_s=0.5)
    assert [t for s in spans for t in (s.start_s, s.end_s)] == pytest.approx([0.0, 30 / FPS, 32 / FPS, 62 / FPS])
