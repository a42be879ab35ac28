"""Clips and frame times follow the player's timeline (issue 23): an MP4 cut with `-ss` and stream
copy has an edit list that hides the pictures before the cut; a stream whose picture size changes
midway is read at its first picture's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions
from video_assets.media.frames import FramePolicy, FrameSignature, extract_clip_frames, extract_frames
from video_assets.media.probe import probe
from video_assets.media.synthetic import make_video, read_frame_index
from video_assets.media.synthetic_timeline import make_edit_list_cut, make_resolution_change

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


def test_a_resolution_change_is_read_at_the_first_pictures_size(tmp_path: Path) -> None:
    """It failed ("frame size changes inside the clip; set target_res") unless target_res was set."""
    path = make_resolution_change(tmp_path / "switch.ts", [(96, 64), (128, 96), (64, 48)])
    (extraction,) = extract_frames(path, [ClipSpan(0.0, 3.0)], [SEQ])
    assert extraction.error is None
    frames = extraction.frames[SEQ.key]
    assert frames.frames.shape[1:] == (64, 96, 3)  # every picture at the first one's (H, W)
    assert [read_frame_index(rgb) for rgb in frames.frames] == [round(t * FPS) for t in frames.timestamps]
    assert extraction.resized_from == ((48, 64), (96, 128))
    # A size asked for still wins, and nothing is reported as resized to the first picture.
    (asked,) = extract_frames(path, [ClipSpan(0.0, 3.0)], [SEQ], options=DecodeOptions(target_res=(32, 48)))
    assert asked.frames[SEQ.key].frames.shape[1:] == (32, 48, 3) and asked.resized_from == ()
