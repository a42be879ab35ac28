"""Clip spans: fixed-stride windows, weights-free scene cuts, and stable clip ids."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from video_assets.settings.config import SCENE_THRESHOLD

if TYPE_CHECKING:
    from video_assets.media.learned_scenes import CutProbabilities

# Span edges are kept to the microsecond: enough for any frame rate, and it stops
# float noise (29.999999999) from leaking into stored spans.
_DIGITS = 6


@dataclass(frozen=True, order=True)
class ClipSpan:
    """A clip as [start_s, end_s) in seconds from the first frame of the video."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_s", float(self.start_s))
        object.__setattr__(self, "end_s", float(self.end_s))
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise ValueError(f"clip span must be finite, got ({self.start_s}, {self.end_s})")
        if self.start_s < 0 or self.end_s <= self.start_s:
            raise ValueError(f"clip span needs 0 <= start < end, got ({self.start_s}, {self.end_s})")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _span(start_s: float, end_s: float) -> ClipSpan:
    return ClipSpan(round(start_s, _DIGITS), round(end_s, _DIGITS))


def fixed_stride_spans(
    duration_s: float,
    *,
    clip_len_s: float = 10.0,
    stride_s: float = 10.0,
    min_clip_len_s: float = 2.0,
) -> list[ClipSpan]:
    """Windows of ``clip_len_s`` starting at 0, ``stride_s`` apart (NeMo's FixedStrideExtractor).

    Each window ends at ``min(start + clip_len_s, duration_s)`` and is kept when it is at
    least ``min_clip_len_s`` long, so a short tail is kept when it reaches the minimum.
    Starts are ``k * stride_s`` (not a running sum), so there is no drift over long videos.
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"duration_s must be finite and >= 0, got {duration_s}")
    if clip_len_s <= 0 or stride_s <= 0:
        raise ValueError(f"clip_len_s and stride_s must be > 0, got {clip_len_s}, {stride_s}")
    if not 0 <= min_clip_len_s <= clip_len_s:
        raise ValueError(f"min_clip_len_s must be in [0, clip_len_s], got {min_clip_len_s}")
    spans = []
    for k in range(math.ceil(duration_s / stride_s)):
        start = k * stride_s
        end = min(start + clip_len_s, duration_s)
        if end - start >= min_clip_len_s and end > start:
            spans.append(_span(start, end))
    return spans


def split_long_span(start_s: float, end_s: float, *, min_clip_len_s: float, max_clip_len_s: float) -> list[ClipSpan]:
    """Cut a scene into ``max_clip_len_s`` pieces (stride mode), dropping a tail under the minimum."""
    pieces = []
    k = 0
    while start_s + k * max_clip_len_s < end_s:
        piece_start = start_s + k * max_clip_len_s
        piece_end = min(piece_start + max_clip_len_s, end_s)
        if piece_end - piece_start >= min_clip_len_s:
            pieces.append(_span(piece_start, piece_end))
        k += 1
    return pieces


def scene_cut_spans(
    path: str | Path,
    *,
    threshold: float = SCENE_THRESHOLD,
    min_clip_len_s: float = 2.0,
    max_clip_len_s: float = 10.0,
    analysis_size: tuple[int, int] = (27, 48),
    detector: str = "builtin",
    backend: str = "pyav",
    num_threads: int = 0,
    cut_probabilities: CutProbabilities | None = None,
) -> list[ClipSpan]:
    """Clips that follow the scenes of a video.

    ``detector="builtin"`` finds them without model weights: every frame is decoded and
    scaled by the backend (libswscale for PyAV) to the tiny ``analysis_size`` (H, W)
    (TransNetV2's 27x48 input size); a cut is where the change score between consecutive
    frames (mean of colour-histogram distance and mean absolute pixel difference, both in
    [0, 1]) exceeds ``threshold``, except around a flash of a few frames after which the
    picture is back to what it was. This is a heuristic, not TransNetV2: it finds hard cuts
    well and gradual transitions poorly. ``detector="adaptive"`` runs PySceneDetect's
    AdaptiveDetector, with its default settings, on the same decoder's frames at
    ``analysis_size`` (optional extra ``scenes``; ``threshold`` is not used).
    ``detector="transnetv2"`` cuts after each run of frames whose ``cut_probabilities``
    (48x27 frames -> per-frame transition probability; the caller passes
    models.transnetv2_cuts.cut_probabilities, as media/ does not import models/) is over
    0.5 (media/learned_scenes.py; ``threshold`` and ``analysis_size`` are not used).

    Scenes longer than ``max_clip_len_s`` are split into max-length pieces (a tail under
    the minimum is dropped), then scenes shorter than ``min_clip_len_s`` are dropped.
    """
    if not 0 < min_clip_len_s <= max_clip_len_s:
        raise ValueError(f"need 0 < min_clip_len_s <= max_clip_len_s, got {min_clip_len_s}, {max_clip_len_s}")
    if detector == "adaptive":
        from video_assets.media.scene_detectors import adaptive_scene_boundaries

        scenes = adaptive_scene_boundaries(path, analysis_size=analysis_size, backend=backend, num_threads=num_threads)
    elif detector == "builtin":
        from video_assets.media.scenes import scene_boundaries

        scenes = scene_boundaries(
            path, threshold=threshold, analysis_size=analysis_size, backend=backend, num_threads=num_threads
        )
    elif detector == "transnetv2":
        from video_assets.media.learned_scenes import learned_scene_boundaries

        if cut_probabilities is None:
            raise ValueError('detector="transnetv2" needs cut_probabilities (models.transnetv2_cuts.cut_probabilities)')
        scenes = learned_scene_boundaries(path, cut_probabilities, backend=backend, num_threads=num_threads)
    else:
        raise ValueError(f"unknown scene detector {detector!r}; choose builtin, adaptive or transnetv2")
    spans: list[ClipSpan] = []
    for start, end in scenes:
        # A scene shorter than the minimum is a single piece under it, so this drops it too.
        spans.extend(split_long_span(start, end, min_clip_len_s=min_clip_len_s, max_clip_len_s=max_clip_len_s))
    return spans


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000.0))


def clip_id(video_id: str, span: ClipSpan) -> str:
    """uuid5 of ``"{video_id}_{start_ms}_{end_ms}"``: the same clip gets the same id on every
    run, and float noise below half a millisecond in the span does not change it.

    NeMo Curator builds the string from ``int(seconds * fps)``, which truncates (so 9.99999
    and 10.0 give different ids) and changes when the probed fps does; milliseconds do not.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video_id}_{_ms(span.start_s)}_{_ms(span.end_s)}"))
