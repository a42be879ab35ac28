"""Weights-free scene boundaries from frame differences on tiny frames (used by clipping)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from video_assets.media.decode import open_decoder
from video_assets.media.errors import VideoReadError

HIST_BINS = 8  # per channel; coarse bins keep the histogram blind to small motion


def _histogram(rgb: np.ndarray) -> np.ndarray:
    """(3, HIST_BINS) per-channel histograms, each summing to 1."""
    bins = (rgb.reshape(-1, 3).astype(np.int64) * HIST_BINS) >> 8  # 0..HIST_BINS-1
    counts = np.stack([np.bincount(bins[:, c], minlength=HIST_BINS) for c in range(3)])
    return counts / bins.shape[0]


def change_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """How different two small RGB frames are, in [0, 1].

    Mean of (a) the colour-histogram L1 distance (halved, so in [0, 1], averaged over
    channels), which ignores motion, and (b) the mean absolute pixel difference / 255,
    which sees a cut between two scenes of similar colours.
    """
    hist = float(np.abs(_histogram(prev) - _histogram(cur)).sum(axis=1).mean() / 2.0)
    pixels = float(np.abs(prev.astype(np.int16) - cur.astype(np.int16)).mean() / 255.0)
    return (hist + pixels) / 2.0


def change_scores(
    path: str | Path, *, analysis_size: tuple[int, int], backend: str = "pyav", num_threads: int = 0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Decode every frame at ``analysis_size`` (H, W), streaming.

    Returns (times, scores, end_s): the timestamps of the frames that decoded, the change
    score of each against the previous decoded frame (0 for the first), and the video's end.
    """
    times, scores = [], []
    with open_decoder(path, backend=backend, num_threads=num_threads) as decoder:
        prev = None
        for i, rgb in decoder.read(np.arange(len(decoder.index)), size=analysis_size):
            scores.append(0.0 if prev is None else change_score(prev, rgb))
            times.append(float(decoder.index.times[i]))
            prev = rgb
        end_s = decoder.index.end_s
        if not times:
            raise VideoReadError(path, f"no frame could be decoded ({'; '.join(decoder.errors[:3])})")
    return np.asarray(times), np.asarray(scores), end_s


def boundaries_from_scores(
    times: np.ndarray, scores: np.ndarray, end_s: float, threshold: float
) -> list[tuple[float, float]]:
    """Scenes as (start_s, end_s) from per-frame change scores.

    A run of consecutive frames over the threshold is one transition; the new scene starts
    at its last frame (the first frame that looks like what follows), so a dissolve
    belongs to the scene before it, as in NeMo's TransNetV2 stage.
    """
    cut = scores > threshold
    starts = [0]
    for i in range(1, len(cut)):
        if cut[i] and not (i + 1 < len(cut) and cut[i + 1]):
            starts.append(i)
    edges = [float(times[s]) for s in starts] + [float(end_s)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def scene_boundaries(
    path: str | Path,
    *,
    threshold: float,
    analysis_size: tuple[int, int] = (27, 48),
    backend: str = "pyav",
    num_threads: int = 0,
) -> list[tuple[float, float]]:
    """Scenes of the video at ``path`` as (start_s, end_s), covering it from 0 to its end."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    times, scores, end_s = change_scores(path, analysis_size=analysis_size, backend=backend, num_threads=num_threads)
    return boundaries_from_scores(times, scores, end_s, threshold)
