"""Clips and frame times follow the player's timeline (issue 23): an MP4 cut with `-ss` and stream
copy has an edit list that hides the pictures before the cut; a stream whose picture size changes
midway is read at its first picture's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from video_assets.media.clipping import ClipSpan
from video_assets.media.frames import FramePolicy, FrameSignature, extract_clip_frames
from video_assets.media.probe import probe
from video_assets.media.synthetic import make_video, read_frame_index
from video_assets.media.synthetic_timeline import make_edit_list_cut

FPS = 12
SEQ = FrameSignature(FramePolicy.SEQUENCE, 4.0)


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s numbered at 12 fps, one keyframe every 4 s, cut at 1.32 s: the player starts at frame 16."""
    root = tmp_path_factory.mktemp("timeline")
    src = make_video(root / "src.mp4", duration_s=8.0, fps=FPS, size=(96, 64), pattern="index", gop=48)
    return make_edit_list_cut(src, root / "cut.mp4", 1.32)


def test_an_edit_list_cut_is_probed_as_the_player_shows_it(cut: Path) -> None:
    found = probe(cut)
    shown = 96 - 16  # frames 16..95
    assert found.num_frames == shown and found.duration_s == pytest.approx(shown / FPS, abs=1e-3)


@pytest.mark.parametrize("start_s", [0.0, 4.0])
def test_frames_of_an_edit_list_cut_carry_the_player_times(cut: Path, start_s: float) -> None:
    frames = extract_clip_frames(cut, ClipSpan(start_s, start_s + 2.0), SEQ)
    shown = [read_frame_index(rgb) for rgb in frames.frames]
    # The picture at player time t is source frame 16 + t * 12 (was 1.32 s late: 0 + t * 12).
    assert shown == [16 + round(t * FPS) for t in frames.timestamps]
    assert frames.timestamps[0] == pytest.approx(start_s, abs=1 / FPS) and np.all(np.diff(frames.timestamps) > 0)
