"""Which source frames a clip uses: NeMo Curator's timestamp sampling, on index arrays.

Everything here works on the sorted frame timestamps of a video (seconds from the first
frame) and returns integer frame indices into them, so the decoder can fetch each frame
once for any number of clips and frame rates.
"""

from __future__ import annotations

import math

import numpy as np

# Ties between two frames are decided with this slack, so float noise in timestamps
# (0.05 - 1/30 vs 2/30 - 0.05) cannot flip a tie to the later frame.
TIE_EPS_S = 1e-9
# Span edges are compared with this slack so that float noise in a span (9.999999 vs 10)
# never moves a frame between neighbouring clips.
EDGE_EPS_S = 1e-6


def frames_in_span(times: np.ndarray, start_s: float, end_s: float) -> tuple[int, int]:
    """Index range [lo, hi) of the frames whose timestamp lies in the half-open [start, end)."""
    lo = int(np.searchsorted(times, start_s - EDGE_EPS_S, side="left"))
    hi = int(np.searchsorted(times, end_s - EDGE_EPS_S, side="left"))
    return lo, max(lo, hi)


def sample_times(start_s: float, stop_s: float, fps: float) -> np.ndarray:
    """``arange(start, stop + 0.5/fps, 1/fps)`` computed by count, so float error cannot add
    or drop the endpoint: it is included when it is less than half an interval past stop."""
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive finite number, got {fps}")
    count = math.ceil((stop_s - start_s) * fps + 0.5 - 1e-9)
    return start_s + np.arange(max(count, 1), dtype=np.float64) / fps


def nearest_frames(times: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Index of the frame nearest each sample time; ties go to the earlier frame."""
    if len(times) == 1:
        return np.zeros(len(samples), dtype=np.int64)
    right = np.clip(np.searchsorted(times, samples, side="left"), 1, len(times) - 1)
    left = right - 1
    take_left = (samples - times[left]) <= (times[right] - samples) + TIE_EPS_S
    return np.where(take_left, left, right).astype(np.int64)


def sequence_indices(times: np.ndarray, lo: int, hi: int, fps: float) -> np.ndarray:
    """Frames of ``times[lo:hi]`` sampled at ``fps``, one per sample time.

    Sample times run from the first to the last frame in the range; a frame repeats when
    ``fps`` is above the source rate (the output length is always the number of samples).
    Example: a 10 s clip of 30 fps video at 2 fps gives 21 frames (0, 0.5, ..., 10.0 s,
    the last mapped to the frame at 9.967 s).
    """
    clip_times = times[lo:hi]
    samples = sample_times(float(clip_times[0]), float(clip_times[-1]), fps)
    return lo + nearest_frames(clip_times, samples)


def middle_index(lo: int, hi: int) -> int:
    """The middle frame of [lo, hi): for an even count, the later of the two middles."""
    return lo + (hi - lo) // 2
