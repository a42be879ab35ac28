"""Scene cuts from a learned per-frame transition probability (TransNetV2), on our decoder's frames.

media/ does not import models/: the network comes in as a callable, `CutProbabilities`
(models.transnetv2_cuts.cut_probabilities is one), and this module does the decoding and
the post-processing. Frames are decoded in decode order by our decoder (so B-frame AVIs are
stamped right, see scene_detectors.py) and scaled to 48x27 with bicubic filtering, what the
reference gets from ffmpeg's `-s 48x27`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video_assets.media.decoders import open_decoder
from video_assets.media.errors import VideoReadError
from video_assets.media.scene_detectors import ONE_THREAD_BICUBIC

# (27, 48, 3) uint8 RGB frames in -> (N,) probability that a transition is at each frame.
CutProbabilities = Callable[[Iterable[np.ndarray]], np.ndarray]
LEARNED_SIZE = (27, 48)  # (H, W): TransNetV2's input
LEARNED_THRESHOLD = 0.5  # the reference's threshold


@dataclass(frozen=True)
class FrameProbabilities:
    times: np.ndarray  # (N,) seconds from the first frame, in decode order
    probabilities: np.ndarray  # (N,)
    end_s: float  # the video's end


def frame_probabilities(
    path: str | Path, cut_probabilities: CutProbabilities, *, backend: str = "pyav", num_threads: int = 0
) -> FrameProbabilities:
    """Decode every frame at 48x27, streaming, and score it with `cut_probabilities`."""
    times: list[float] = []
    with open_decoder(path, backend=backend, num_threads=num_threads) as decoder:
        index = decoder.index

        def frames() -> Iterator[np.ndarray]:
            for i, rgb in decoder.read(np.arange(len(index)), size=LEARNED_SIZE, scaling=ONE_THREAD_BICUBIC):
                times.append(float(index.times[i]))
                yield rgb

        probabilities = np.asarray(cut_probabilities(frames()), dtype=np.float64)
        if not times:
            raise VideoReadError(path, f"no frame could be decoded ({'; '.join(decoder.errors[:3])})")
        end_s = float(index.end_s)
    if len(probabilities) != len(times):
        raise ValueError(f"{path}: {len(probabilities)} probabilities for {len(times)} frames")
    return FrameProbabilities(np.asarray(times), probabilities, end_s)


def scene_start_frames(probabilities: np.ndarray, threshold: float = LEARNED_THRESHOLD) -> list[int]:
    """First frame of each scene after the first: the frame after each run of frames over the
    threshold, as the reference's `predictions_to_scenes` starts its scenes. The frames of a
    transition (a dissolve's run) stay with the scene before, as the builtin splitter does."""
    over = np.asarray(probabilities) > threshold
    return [i for i in range(1, len(over)) if over[i - 1] and not over[i]]


def learned_scene_boundaries(
    path: str | Path,
    cut_probabilities: CutProbabilities,
    *,
    threshold: float = LEARNED_THRESHOLD,
    backend: str = "pyav",
    num_threads: int = 0,
) -> list[tuple[float, float]]:
    """Scenes of the video at ``path`` as (start_s, end_s), covering it from 0 to its end."""
    scored = frame_probabilities(path, cut_probabilities, backend=backend, num_threads=num_threads)
    edges = [0.0] + [float(scored.times[k]) for k in scene_start_frames(scored.probabilities, threshold)]
    edges.append(scored.end_s)
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
