"""Active-picture detection: bars and picture-in-picture backgrounds are cut, pictures kept."""

from __future__ import annotations

import numpy as np
import torch

from tests.models import fingerprint_corpus as corpus
from video_assets.models.fingerprint_area import active_box
from video_assets.models.frame_selection import select_uniform


def _luma(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames.astype(np.float32).mean(axis=-1) / 255.0)  # (T, H, W)


def _clip() -> np.ndarray:
    return corpus.SyntheticVideo(2).frames(corpus.clip_times(0.0, 4.0))  # (8, 120, 160, 3)


def test_a_full_picture_is_kept_whole() -> None:
    assert active_box(_luma(_clip())) == (0, 120, 0, 160)


def test_pillarbox_bars_are_cut() -> None:
    top, bottom, left, right = active_box(_luma(corpus.letterbox(_clip(), width=214)))
    assert (top, bottom) == (0, 120)
    assert abs(left - 27) <= 1 and abs(right - 187) <= 1


def test_picture_in_picture_is_found_on_grey_and_on_a_blurred_copy() -> None:
    # 60 % inset at top 10 %, left 30 % (grey) and top 25 %, left 5 % (blurred): rows
    # 12-84 / 30-102, columns 48-144 / 8-104 of 120 x 160.
    for background, (y, x) in (("grey", (0.1, 0.3)), ("blurred", (0.25, 0.05))):
        frames = corpus.picture_in_picture(_clip(), background=background, top=y, left=x)
        box = np.array(active_box(_luma(frames)))
        expected = np.array([int(120 * y), int(120 * y) + 72, int(160 * x), int(160 * x) + 96])
        assert np.abs(box - expected).max() <= 2, (background, box.tolist(), expected.tolist())


def test_the_mirrored_clip_gets_the_mirrored_box() -> None:
    frames = corpus.picture_in_picture(_clip(), background="blurred", top=0.25, left=0.05)
    top, bottom, left, right = active_box(_luma(frames))
    assert active_box(_luma(corpus.mirror(frames))) == (top, bottom, 160 - right, 160 - left)


def test_flat_clips_keep_the_whole_frame() -> None:
    grey = np.full((8, 60, 80, 3), 90, np.uint8)
    assert active_box(_luma(grey)) == (0, 60, 0, 80)


def test_faint_ridges_in_a_blurred_background_do_not_stop_the_trim() -> None:
    # Upscaled blurred backgrounds keep faint lines on their coarse sampling grid (and
    # codecs add block edges): isolated detailed columns and rows outside the inset.
    frames = corpus.picture_in_picture(_clip(), background="grey", top=0.25, left=0.05)  # rows 30-102, cols 8-104
    outside = np.ones(frames.shape[1:3], bool)
    outside[30:102, 8:104] = False
    ridges = np.zeros(frames.shape[1:3], bool)
    ridges[:, 110::8] = ridges[:, 111::8] = True  # two-pixel lines every 8 columns
    ridges[110::8, :] = True
    frames[:, ridges & outside] = 150
    box = np.array(active_box(_luma(frames)))
    assert np.abs(box - np.array([30, 102, 8, 104])).max() <= 2, box.tolist()


def test_a_re_encoded_blurred_background_is_cut_at_the_inset_edge() -> None:
    # Codec noise lifts a blurred background to 0.2-0.4 of a soft picture's detail, over
    # the ratio test's threshold; the inset's straight edge with quiet rows beyond it ends
    # the box there (this clip kept rows 12-113 before, the inset is rows 12-84).
    clip = corpus.SyntheticVideo(115).frames(corpus.clip_times(0.0, 10.0))
    frames = corpus.reencode_h264(corpus.picture_in_picture(corpus.mirror(clip), background="blurred"), 32)
    chosen = select_uniform(frames, 8).astype(np.float32)  # the embedder's 8 frames and BT.601 luma
    box = np.array(active_box(chosen @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0))
    assert np.abs(box - np.array([12, 84, 48, 144])).max() <= 2, box.tolist()


def test_a_strong_line_across_textured_content_cuts_nothing() -> None:
    frames = _clip()
    frames[:, 90:92] = 255  # a bright full-width line, textured picture on both sides
    frames[:, :, 120:122] = 0
    assert active_box(_luma(frames)) == (0, 120, 0, 160)
