"""Frames per clip by policy and fps, in one streaming decode pass per video.

Behaviour follows NeMo Curator's ``decoder_utils`` (timestamps from demuxed packets,
``sample_closest`` sampling, RGB NHWC uint8 output) with its bugs fixed:
- ``middle`` returns the real middle frame; Curator decodes frame 0 by mistake (it
  passes an index relative to a one-element subset);
- several fps (integer or not) and several clips share ONE decode pass: each wanted
  frame is decoded and converted once, and copied into each clip that shows it at once;
- sparse clips in a long video are reached by seeking to the keyframe before them;
- frames are turned upright by the display rotation (a phone video tagged rotate=90
  gives portrait frames), and ``target_res`` is the upright (H, W);
- a sample whose frame gives no picture (MPEG-4 "not coded" frames, AVI dropped frames,
  a corrupt packet) shows the nearest picture of the same clip, as ffmpeg's fps filter
  repeats frames; ``ClipExtraction.repeated`` counts such samples. A clip fails only
  when a sample has no decoded picture anywhere inside the clip;
- without ``target_res``, pictures above ``max_pixels`` are scaled down at decode,
  keeping the aspect ratio (``ClipExtraction.scaled_from`` keeps the native size).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DEFAULT_DECODE, DecodeOptions, Decoder, FrameIndex
from video_assets.media.decoders import open_decoder
from video_assets.media.errors import VideoReadError
from video_assets.media.sampling import frames_in_span, middle_index, sequence_indices

NO_FRAMES_IN_SPAN = "no frames in span"


class FramePolicy(str, Enum):
    """How a clip's frames are chosen. NeMo Curator's ``middle`` decodes the clip's FIRST
    frame (an index into a one-element subset is used as a frame number); ours returns
    the middle one."""

    SEQUENCE = "sequence"  # frames sampled at the signature's fps over the clip
    MIDDLE = "middle"  # the single middle frame of the clip (fps is ignored)


@dataclass(frozen=True)
class FrameSignature:
    """A frame policy and rate; ``key`` (e.g. ``"sequence-2.0"``) names it in stored data."""

    policy: FramePolicy
    fps: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", FramePolicy(self.policy))
        object.__setattr__(self, "fps", float(self.fps))
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"fps must be a positive finite number, got {self.fps}")

    @property
    def key(self) -> str:
        return f"{self.policy.value}-{self.fps!r}"

    @classmethod
    def parse(cls, key: str) -> FrameSignature:
        policy, sep, fps = key.rpartition("-")
        if not sep:
            raise ValueError(f"frame signature must look like 'sequence-2.0', got {key!r}")
        try:
            return cls(FramePolicy(policy), float(fps))
        except ValueError as err:
            raise ValueError(f"bad frame signature {key!r}: {err}") from err


@dataclass(frozen=True)
class ClipFrames:
    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    timestamps: np.ndarray  # (N,) float64, seconds from the first frame, of the source frame used


@dataclass(frozen=True)
class ClipExtraction:
    frames: dict[str, ClipFrames]  # by FrameSignature.key; empty when error is set
    error: str | None  # why this clip has no frames (the rest of the video may be fine)
    # Samples (over all signatures) shown with a neighbour's picture: their own frame gave none.
    repeated: int = 0
    scaled_from: tuple[int, int] | None = None  # native upright (H, W) when max_pixels scaled it
    # Native upright (H, W) sizes of pictures scaled to the stream's first picture's size (it changed midway).
    resized_from: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class _ClipPlan:
    """The frame indices one clip needs, per signature key (may repeat a frame)."""

    position: int
    indices: dict[str, np.ndarray]
    error: str | None
    lo: int = 0  # the clip's frames are [lo, hi): a missing picture may borrow only from them
    hi: int = 0

    @property
    def last(self) -> int:
        return max((int(ix[-1]) for ix in self.indices.values()), default=-1)


def _plan(index: FrameIndex, position: int, span: ClipSpan, signatures: Sequence[FrameSignature]) -> _ClipPlan:
    lo, hi = frames_in_span(index.times, span.start_s, span.end_s)
    if hi == lo:
        return _ClipPlan(position, {}, NO_FRAMES_IN_SPAN)
    indices = {}
    for sig in signatures:
        if sig.policy is FramePolicy.MIDDLE:
            indices[sig.key] = np.array([middle_index(lo, hi)], dtype=np.int64)
        else:
            indices[sig.key] = sequence_indices(index.times, lo, hi, sig.fps)
    return _ClipPlan(position, indices, None, lo, hi)


class _ClipOutput:
    """One pending clip's frame arrays, filled as its pictures come out of the decoder.

    Each picture is copied into every array position that shows it the moment it is
    converted, while the conversion's buffer is still in cache, and then let go (libswscale
    reuses that buffer for the next picture); holding pictures until the clip is complete
    and stacking them cost one more pass over cold memory per frame.
    """

    def __init__(self, plan: _ClipPlan) -> None:
        self.plan = plan
        self.needed = np.unique(np.concatenate(list(plan.indices.values())))
        self.last = int(self.needed[-1])
        # frame -> (signature key, positions in that key's array)
        self.where: dict[int, list[tuple[str, np.ndarray]]] = {}
        for key, ix in plan.indices.items():
            for i in np.unique(ix):
                self.where.setdefault(int(i), []).append((key, np.flatnonzero(ix == i)))
        self.arrays: dict[str, np.ndarray] = {}
        self.filled: set[int] = set()
        self.shapes: set[tuple[int, ...]] = set()

    def put(self, i: int, rgb: np.ndarray) -> None:
        self.shapes.add(rgb.shape)
        if not self.arrays:
            self.arrays = {k: np.empty((len(ix), *rgb.shape), np.uint8) for k, ix in self.plan.indices.items()}
        if len(self.shapes) > 1:
            return  # the clip fails in `finish`
        for key, positions in self.where[i]:
            self.arrays[key][positions] = rgb
        self.filled.add(i)

    def finish(self, decoder: Decoder) -> ClipExtraction:
        plan = self.plan
        source = {int(i): decoder.substitutes.get(int(i), int(i)) for i in self.needed}
        missing = [i for i in source if i not in self.filled or not plan.lo <= source[i] < plan.hi]
        if len(self.shapes) > 1:
            return ClipExtraction({}, f"frame size changes inside the clip {sorted(self.shapes)}; set target_res")
        if missing:
            why = "; ".join(decoder.errors[-3:]) or "the decoder returned no picture for them"
            return ClipExtraction(
                {},
                f"decode failed: {len(missing)} of {len(self.needed)} frames have no decoded picture in the clip "
                f"({why})",
            )
        out, repeated = {}, 0
        for key, ix in plan.indices.items():
            shown = np.array([source[int(i)] for i in ix], dtype=np.int64)
            repeated += int(np.count_nonzero(shown != ix))
            out[key] = ClipFrames(self.arrays[key], decoder.index.times[shown].astype(np.float64))
        return ClipExtraction(out, None, repeated, decoder.scaled_from, tuple(sorted(decoder.resized_from)))


def iter_extract_frames(
    path: str | Path,
    spans: Sequence[ClipSpan],
    signatures: Sequence[FrameSignature],
    *,
    options: DecodeOptions = DEFAULT_DECODE,
) -> Iterator[tuple[int, ClipExtraction]]:
    """Streaming `extract_frames`: yields ``(position in spans, extraction)`` as soon as the
    decoder has passed each clip, so memory holds only the clips still being filled."""
    signatures = list(dict.fromkeys(signatures))
    if not signatures:
        raise ValueError("need at least one FrameSignature")
    if not spans:
        return
    with open_decoder(path, backend=options.backend, num_threads=options.num_threads) as decoder:
        plans = [_plan(decoder.index, k, span, signatures) for k, span in enumerate(spans)]
        for plan in plans:
            if plan.error:
                yield plan.position, ClipExtraction({}, plan.error)
        pending = deque(sorted((_ClipOutput(p) for p in plans if not p.error), key=lambda c: c.last))
        users: dict[int, list[_ClipOutput]] = {}  # frame -> the pending clips that show it
        for clip in pending:
            for i in clip.where:
                users.setdefault(i, []).append(clip)
        wanted = np.fromiter(users, dtype=np.int64, count=len(users))
        edges = np.array([e for c in pending for e in (c.plan.lo, c.plan.hi)], dtype=np.int64)
        for i, rgb in decoder.read(wanted, size=options.target_res, max_pixels=options.max_pixels, edges=edges):
            for clip in users.pop(i, ()):
                clip.put(i, rgb)
            while pending and pending[0].last <= i:
                clip = pending.popleft()
                yield clip.plan.position, clip.finish(decoder)
        for clip in pending:
            yield clip.plan.position, clip.finish(decoder)


def extract_frames(
    path: str | Path,
    spans: Sequence[ClipSpan],
    signatures: Sequence[FrameSignature],
    *,
    options: DecodeOptions = DEFAULT_DECODE,
) -> list[ClipExtraction]:
    """Frames of every clip for every signature, in the order of ``spans``.

    ``options`` chooses the backend, threads and frame size (see `DecodeOptions`).
    A clip that cannot be decoded gets ``error`` set and no frames; the others keep theirs.
    Raises `VideoReadError` only when the file cannot be opened at all.
    """
    out: list[ClipExtraction | None] = [None] * len(spans)
    for position, extraction in iter_extract_frames(path, spans, signatures, options=options):
        out[position] = extraction
    return out  # type: ignore[return-value]  # every position is filled by the iterator


def extract_clip_frames(
    path: str | Path,
    span: ClipSpan,
    signature: FrameSignature,
    *,
    options: DecodeOptions = DEFAULT_DECODE,
) -> ClipFrames:
    """One clip, one signature (e.g. re-extraction at a higher fps); raises `VideoReadError`."""
    (extraction,) = extract_frames(path, [span], [signature], options=options)
    if extraction.error:
        raise VideoReadError(path, f"clip {span.start_s:.3f}-{span.end_s:.3f} s: {extraction.error}")
    return extraction.frames[signature.key]
