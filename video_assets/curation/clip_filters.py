"""Keep/drop decisions per clip, with every reason that applies (the `<model>_clip_filters` asset).

Pixel measures come from the frames the pipeline already extracted (no decoding here):

- motion: the mean absolute difference of consecutive frames' luma, each frame first
  averaged over blocks so its short side has about `GRID` cells, as a fraction of full
  scale. The block averages make sensor noise and compression flicker (independent per
  pixel) shrink by the block's side while real movement survives; a clip under
  `static_below` is "static".
- black: ffmpeg blackdetect's test per frame (a share of pixels at or under a luma level),
  on the full-resolution luma.
- frozen: the longest run of consecutive frames whose difference (same measure as motion)
  stays under `frozen_diff`, in seconds of the frames' timestamps, against `frozen_min_s`.

The other reasons come from the clip's row (duration, text scores) and the duplicates file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from video_assets.settings.filters import FilterSettings

# Every reason a clip can be dropped for; `reason('...')` in a filter accepts only these.
REASONS = ("too_short", "too_long", "too_few_frames", "duplicate", "low_text_score", "static", "black", "frozen")
GRID = 16  # cells along a frame's short side for the motion measure
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601, as ffmpeg's gray


@dataclass(frozen=True)
class PixelStats:
    frames: int
    motion: float | None  # None with fewer than 2 frames
    black_frames: int
    frozen_s: float  # longest frozen run; 0.0 when none (or under 2 frames)


@dataclass(frozen=True)
class ClipFacts:
    clip_id: str
    duration_s: float
    pixels: PixelStats
    text_scores: Mapping[str, float] | None  # the clip's texts_to_verify probabilities; None = not scored
    duplicate: bool | None  # not the kept clip of its group; None = unknown (no duplicates file, or clip newer)


def luma(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) float32 luma in [0, 255]."""
    return frame.astype(np.float32) @ _LUMA


def block_means(y: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(H, W) -> block averages with about `grid` cells on the short side (edges that do not fill a block are cut)."""
    side = max(1, min(y.shape) // grid)
    h, w = (y.shape[0] // side) * side, (y.shape[1] // side) * side
    return y[:h, :w].reshape(h // side, side, w // side, side).mean(axis=(1, 3))


def pixel_stats(frames: np.ndarray, timestamps: np.ndarray, settings: FilterSettings) -> PixelStats:
    """Motion, black frames and the longest frozen run of one clip's (N, H, W, 3) uint8 frames."""
    n = len(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
    if len(timestamps) != n:
        raise ValueError(f"{n} frames but {len(timestamps)} timestamps")
    black_level = settings.black_pixel_luma * 255.0
    coarse, black = [], 0
    for frame in frames:  # one frame's luma at a time: a 4K clip never holds N float copies
        y = luma(frame)
        black += bool(np.mean(y <= black_level) >= settings.black_pixel_share)
        coarse.append(block_means(y))
    if n < 2:
        return PixelStats(n, None, black, 0.0)
    diffs = np.abs(np.diff(np.stack(coarse), axis=0)).mean(axis=(1, 2)) / 255.0  # (N-1,)
    return PixelStats(n, float(diffs.mean()), black, _longest_frozen_s(diffs < settings.frozen_diff, timestamps))


def _longest_frozen_s(still: np.ndarray, timestamps: np.ndarray) -> float:
    """Seconds covered by the longest run of still pairs: from its first frame to one sample past its last."""
    step = float(np.median(np.diff(timestamps)))
    best, start = 0.0, None
    for i, flag in enumerate([*still.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            best = max(best, float(timestamps[i] - timestamps[start]) + step)
            start = None
    return best


def reasons_for(facts: ClipFacts, settings: FilterSettings) -> list[str]:
    """Every reason in REASONS that applies to the clip, in REASONS order (empty: keep)."""
    found: set[str] = set()
    if facts.duration_s < settings.min_duration_s:
        found.add("too_short")
    if settings.max_duration_s is not None and facts.duration_s > settings.max_duration_s:
        found.add("too_long")
    pixels = facts.pixels
    if pixels.frames < settings.min_frames:
        found.add("too_few_frames")
    if facts.duplicate:
        found.add("duplicate")
    scores = facts.text_scores or {}
    if any(text in scores and scores[text] < low for text, low in settings.min_text_score.items()):
        found.add("low_text_score")
    if pixels.motion is not None and pixels.motion < settings.static_below:
        found.add("static")
    if settings.detect_black and pixels.frames and pixels.black_frames >= settings.black_frame_share * pixels.frames:
        found.add("black")
    if settings.detect_frozen and pixels.frozen_s >= settings.frozen_min_s:
        found.add("frozen")
    return [r for r in REASONS if r in found]
