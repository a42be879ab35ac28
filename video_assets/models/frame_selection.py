"""Which frames of a clip go to the model, and re-extraction when there are too few.

NeMo Curator takes ``frames[::N // k][:k]``, which for a 10 s clip at 2 fps
(N = 21, k = 8) keeps indices 0..14 and so covers only the first ~7 s. We take
the centre frame of each of k equal segments instead, so the model always sees
the whole clip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOO_FEW_FRAMES = "too few frames"


def uniform_indices(num_frames: int, k: int) -> np.ndarray:
    """k indices spread uniformly over num_frames: the centre of each of k equal segments."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if num_frames < k:
        raise ValueError(f"need at least {k} frames, got {num_frames}")
    return np.floor((np.arange(k) + 0.5) * num_frames / k).astype(np.int64)


def select_uniform(frames: np.ndarray, k: int) -> np.ndarray:
    """The k frames of ``frames`` (N, ...) chosen by `uniform_indices`."""
    return frames[uniform_indices(len(frames), k)]


@dataclass(frozen=True)
class FrameCreation:
    """The outcome of finding enough frames for one clip."""

    frames: np.ndarray | None  # (N, H, W, 3) uint8, N >= needed; None when skipped
    fps: float  # the fps the frames were sampled at (the last one tried when skipped)
    reextracted: bool
    skip_reason: str | None  # TOO_FEW_FRAMES when even max_fps gives too few


def ensure_enough_frames(
    frames: np.ndarray,
    needed: int,
    *,
    fps: float,
    max_fps: float,
    extract_at: Callable[[float], np.ndarray],
) -> FrameCreation:
    """Re-extract at doubled fps (2 -> 4 -> 8 -> 16, never above max_fps) while a clip
    has fewer than ``needed`` frames, as NeMo Curator's frame-creation stages do.

    ``extract_at(fps)`` decodes the same clip at another fps.
    """
    reextracted = False
    while len(frames) < needed:
        next_fps = fps * 2
        if next_fps > max_fps:
            return FrameCreation(None, fps, reextracted, TOO_FEW_FRAMES)
        fps = next_fps
        frames = extract_at(fps)
        reextracted = True
    return FrameCreation(frames, fps, reextracted, None)
