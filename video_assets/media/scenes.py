"""Weights-free scene boundaries from frame differences on tiny frames (used by clipping)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video_assets.media.decode import Scaling
from video_assets.media.decoders import open_decoder
from video_assets.media.errors import VideoReadError

HIST_BINS = 8  # per channel; coarse bins keep the histogram blind to small motion
# A run of at most this many frames that ends where it began (a camera flash, a flash
# frame, a glitch) is not a scene: see `boundaries_from_scores`.
FLASH_MAX_FRAMES = 3
# How the splitter's tiny frames are scaled; never the models' frames (`Scaling()`). An
# area average summarises a picture as well as bicubic (change scores within 0.01) at a
# third of its cost on 720p, and one libswscale thread spares the thread pool libswscale
# otherwise starts for every 27x48 picture, which cost more than the scaling at 640x360.
# The splitter takes 2.1-2.7x less time (benchmarks/RESULTS.md, "Cheaper analysis scaling").
ANALYSIS_SCALING = Scaling("AREA", threads=1)


def _histogram(rgb: np.ndarray) -> np.ndarray:
    """(3, HIST_BINS) per-channel histograms, each summing to 1."""
    bins = (rgb.reshape(-1, 3).astype(np.int64) * HIST_BINS) >> 8  # 0..HIST_BINS-1
    counts = np.stack([np.bincount(bins[:, c], minlength=HIST_BINS) for c in range(3)])
    return counts / bins.shape[0]


def _score(prev: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]) -> float:
    """`change_score` of two (frame as int16, histogram) pairs, so each frame is prepared once."""
    hist = float(np.abs(prev[1] - cur[1]).sum(axis=1).mean() / 2.0)
    pixels = float(np.abs(prev[0] - cur[0]).mean() / 255.0)
    return (hist + pixels) / 2.0


def _prepared(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rgb.astype(np.int16), _histogram(rgb)


def change_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """How different two small RGB frames are, in [0, 1].

    Mean of (a) the colour-histogram L1 distance (halved, so in [0, 1], averaged over
    channels), which ignores motion, and (b) the mean absolute pixel difference / 255,
    which sees a cut between two scenes of similar colours.
    """
    return _score(_prepared(prev), _prepared(cur))


@dataclass(frozen=True)
class FrameChanges:
    """Per decoded frame: its time, its change score against the frame before (0 for the
    first) and, in ``skips[i, k - 1]``, its score against frame ``i - k - 1`` (the frame
    before a ``k``-frame run that ends at ``i - 1``; NaN where there is none)."""

    times: np.ndarray  # (N,) seconds from the first frame
    scores: np.ndarray  # (N,)
    skips: np.ndarray  # (N, FLASH_MAX_FRAMES)
    end_s: float  # the video's end


def change_scores(
    path: str | Path,
    *,
    analysis_size: tuple[int, int],
    backend: str = "pyav",
    num_threads: int = 0,
    scaling: Scaling = ANALYSIS_SCALING,
) -> FrameChanges:
    """Decode every frame scaled to ``analysis_size`` (H, W) as ``scaling`` says, streaming,
    and score the changes."""
    times, scores, skips = [], [], []
    recent: list[tuple[np.ndarray, np.ndarray]] = []  # the last FLASH_MAX_FRAMES + 1 frames, newest last
    with open_decoder(path, backend=backend, num_threads=num_threads) as decoder:
        for i, rgb in decoder.read(np.arange(len(decoder.index)), size=analysis_size, scaling=scaling):
            cur = _prepared(rgb)
            scores.append(_score(recent[-1], cur) if recent else 0.0)
            skips.append(
                [_score(recent[-k - 1], cur) if k < len(recent) else np.nan for k in range(1, FLASH_MAX_FRAMES + 1)]
            )
            times.append(float(decoder.index.times[i]))
            recent = [*recent[-FLASH_MAX_FRAMES:], cur]
        end_s = decoder.index.end_s
        if not times:
            raise VideoReadError(path, f"no frame could be decoded ({'; '.join(decoder.errors[:3])})")
    return FrameChanges(np.asarray(times), np.asarray(scores), np.asarray(skips).reshape(-1, FLASH_MAX_FRAMES), end_s)


def flash_frames(changes: FrameChanges, threshold: float) -> np.ndarray:
    """(N,) bool: frames of a flash and the frame after it.

    A flash is a run of at most FLASH_MAX_FRAMES frames that starts with a change over the
    threshold and after which the picture is back to the one before it (the frame after
    the run scores under the threshold against the frame before it). Cuts on these frames
    would split one shot in two around a run too short to keep, so they are not cuts.
    """
    flash = np.zeros(len(changes.scores), dtype=bool)
    for start in np.flatnonzero(changes.scores > threshold):
        for k in range(1, FLASH_MAX_FRAMES + 1):
            after = start + k
            if after < len(flash) and changes.skips[after, k - 1] <= threshold:
                flash[start : after + 1] = True
                break
    return flash


def scene_start_frames(changes: FrameChanges, threshold: float) -> list[int]:
    """First frame of each scene after the first: the last frame of each run of frames over
    the threshold that is not a flash (see `boundaries_from_scores`)."""
    cut = (changes.scores > threshold) & ~flash_frames(changes, threshold)
    return [i for i in range(1, len(cut)) if cut[i] and not (i + 1 < len(cut) and cut[i + 1])]


def boundaries_from_scores(changes: FrameChanges, threshold: float) -> list[tuple[float, float]]:
    """Scenes as (start_s, end_s) from per-frame change scores.

    A run of consecutive frames over the threshold is one transition; the new scene starts
    at its last frame (the first frame that looks like what follows), so a dissolve
    belongs to the scene before it, as in NeMo's TransNetV2 stage. Flashes
    (`flash_frames`) make no cut.
    """
    starts = [0, *scene_start_frames(changes, threshold)]
    edges = [float(changes.times[s]) for s in starts] + [float(changes.end_s)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def scene_boundaries(
    path: str | Path,
    *,
    threshold: float,
    analysis_size: tuple[int, int] = (27, 48),
    backend: str = "pyav",
    num_threads: int = 0,
    scaling: Scaling = ANALYSIS_SCALING,
) -> list[tuple[float, float]]:
    """Scenes of the video at ``path`` as (start_s, end_s), covering it from 0 to its end."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    changes = change_scores(
        path, analysis_size=analysis_size, backend=backend, num_threads=num_threads, scaling=scaling
    )
    return boundaries_from_scores(changes, threshold)
