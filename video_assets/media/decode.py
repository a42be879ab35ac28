"""One small decoder interface with two backends: PyAV (default) and decord (optional).

Both frame-extraction paths (`frames.extract_frames`, `frames.extract_clip_frames`) and
scene-cut analysis go through `open_decoder`, so a backend is chosen by argument, never
by an environment switch.

Conventions every backend follows:
- `Decoder.index.times` are presentation timestamps in seconds *from the first frame*,
  sorted, one per frame; frame ``i`` below means ``index.times[i]``.
- `Decoder.read(wanted, size, max_pixels, edges, scaling)` yields ``(i, rgb)`` for the
  wanted frames, in increasing ``i``. ``rgb`` is ``(H, W, 3)`` uint8, already turned
  upright by the display rotation (see `upright`), and resized to ``size=(H, W)``
  (upright shape) by libswscale, as ``scaling`` says (`Scaling`), when ``size`` is
  given; without ``size``, pictures larger than ``max_pixels`` are scaled down keeping
  their aspect ratio (`fit_pixels`) and ``Decoder.scaled_from`` records the native
  upright (H, W).
- A wanted frame whose packet gives no picture (MPEG-4 "not coded" frames, a corrupt
  packet) is served with the nearest picture the pass decoded, as ffmpeg's fps filter
  repeats a frame, never one across ``edges`` (frame indices where clips start or end);
  ``Decoder.substitutes[i]`` names the frame actually shown. Intra-only streams decode
  only the wanted packets (and the ones after a corrupt one), so there the nearest
  picture may be a neighbouring sample. Frames the
  pass cannot serve at all are not yielded; the reason goes to ``Decoder.errors``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

BACKENDS = ("pyav", "decord")


@dataclass(frozen=True)
class FrameIndex:
    """Where the frames of a video stream are, from demuxing only (no decode)."""

    times: np.ndarray  # (N,) float64, seconds from the first frame, sorted
    keyframes: np.ndarray  # (N,) bool, True where a decoder can start (seek target)
    frame_duration_s: float  # duration of the last frame (0.0 when unknown)
    demux_error: str | None = None  # set when demuxing stopped early (truncated file)
    reordered: bool = False  # packets arrive out of presentation order (B-frames)

    def __len__(self) -> int:
        return len(self.times)

    @property
    def end_s(self) -> float:
        """End of the last frame, i.e. the stream duration as the packets tell it."""
        return float(self.times[-1]) + self.frame_duration_s if len(self.times) else 0.0


@dataclass
class DecodeStats:
    """What a decoder did; tests and benchmarks read it (e.g. "decoded once")."""

    packets_demuxed: int = 0
    packets_not_sent: int = 0  # intra-only streams: unwanted packets never reach the decoder
    frames_decoded: int = 0
    frames_converted: int = 0  # frames turned into RGB arrays (only wanted ones)
    seeks: int = 0
    restarts: int = 0  # a seek failed or landed past its target: decoded again from the start


@dataclass(frozen=True)
class DecodeOptions:
    """How frames are decoded, the same for every clip of a pass: the frame functions take
    one of these instead of each repeating the keyword arguments."""

    backend: str = "pyav"  # one of BACKENDS
    num_threads: int = 0  # decoder threads; 0 lets the library pick (all cores)
    # Upright (H, W); (-1, -1) or any non-positive value keeps the native size.
    target_res: tuple[int, int] = (-1, -1)
    # Without target_res, pictures above this many pixels are scaled down keeping the
    # aspect ratio (None: no limit).
    max_pixels: int | None = None


# The default of every function that takes DecodeOptions (frozen: safe to share).
DEFAULT_DECODE = DecodeOptions()


@dataclass(frozen=True)
class Scaling:
    """How libswscale resizes pictures (both backends). The default is what the models see:
    bicubic (NeMo Curator's cv2.INTER_CUBIC), as many threads as the decoder; scene analysis
    asks for a cheaper one (`scenes.ANALYSIS_SCALING`)."""

    interpolation: str = "BICUBIC"  # a name of av.video.reformatter.Interpolation
    threads: int = 0  # 0: as many as the decoder has (libswscale picks when the decoder does too)


DEFAULT_SCALING = Scaling()


@dataclass(frozen=True)
class ReadRequest:
    """A `Decoder.read` request once checked: ``wanted`` sorted, unique and in range, ``size``
    normalized; what each backend's `_read_checked` serves."""

    wanted: np.ndarray
    size: tuple[int, int] | None
    max_pixels: int | None
    edges: np.ndarray | None
    scaling: Scaling


@dataclass
class Decoder(ABC):
    """An open video stream. Backends subclass it, fill `index` in their constructor and
    implement `_read_checked`; `read` checks the request once for all of them."""

    name: ClassVar[str]
    path: str
    num_threads: int = 0
    index: FrameIndex = field(init=False)
    errors: list[str] = field(default_factory=list)
    stats: DecodeStats = field(default_factory=DecodeStats)
    # wanted frame -> frame whose picture was shown instead (it gave no picture of its own)
    substitutes: dict[int, int] = field(default_factory=dict)
    scaled_from: tuple[int, int] | None = None  # native upright (H, W) when max_pixels scaled it
    # Coded (H, W) of the stream's first picture: a picture of another size (the stream changes
    # resolution midway) is scaled to it when no target size is asked for, so every frame of
    # the video has one size; the other native upright sizes met are kept here.
    first_coded: tuple[int, int] | None = None
    resized_from: set[tuple[int, int]] = field(default_factory=set)

    def read(
        self,
        wanted: np.ndarray,
        size: tuple[int, int] | None = None,
        max_pixels: int | None = None,
        edges: np.ndarray | None = None,
        scaling: Scaling = DEFAULT_SCALING,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(i, rgb)`` for the wanted frame indices, in increasing ``i`` (see the module notes)."""
        wanted = np.unique(np.asarray(wanted, dtype=np.int64))
        if len(wanted) == 0:
            return
        if wanted[0] < 0 or wanted[-1] >= len(self.index):
            raise IndexError(f"frame indices must be in [0, {len(self.index)})")
        yield from self._read_checked(ReadRequest(wanted, normalize_size(size), max_pixels, edges, scaling))

    @abstractmethod
    def _read_checked(self, request: ReadRequest) -> Iterator[tuple[int, np.ndarray]]:
        """`read` once its request is checked."""

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # backends with open handles override this
        return None


def normalize_size(target_res: tuple[int, int] | None) -> tuple[int, int] | None:
    """(H, W) with both > 0, or None for native resolution ((-1, -1) or any non-positive)."""
    if target_res is None:
        return None
    h, w = (int(v) for v in target_res)
    return (h, w) if h > 0 and w > 0 else None


def fit_pixels(height: int, width: int, max_pixels: int | None) -> tuple[int, int] | None:
    """The (H, W) that keeps the aspect ratio within ``max_pixels``, or None when it fits."""
    if not max_pixels or height * width <= max_pixels:
        return None
    scale = (max_pixels / (height * width)) ** 0.5
    return max(1, int(height * scale)), max(1, int(width * scale))


def clockwise_rotation(ccw_degrees: float | None) -> int:
    """FFmpeg's display-matrix angle (counter-clockwise) as clockwise degrees in {0,90,180,270}.

    Clockwise is the convention of the legacy ``rotate`` tag and of phone videos
    ("rotate=90" = turn the picture 90 degrees clockwise to view it). Angles that are not
    right angles are snapped to the nearest one: we never resample for a skewed matrix.
    """
    if not ccw_degrees:
        return 0
    return int(round(-float(ccw_degrees) / 90.0)) % 4 * 90


def coded_size(size: tuple[int, int] | None, rotation_cw: int) -> tuple[int, int] | None:
    """The (H, W) to scale the stored picture to so that, once upright, it is ``size``."""
    if size is None or rotation_cw not in (90, 270):
        return size
    return (size[1], size[0])


def upright(rgb: np.ndarray, rotation_cw: int) -> np.ndarray:
    """Turn a stored (H, W, 3) picture by ``rotation_cw`` degrees clockwise."""
    if rotation_cw == 0:
        return rgb
    # Rotated as one 3-byte item per pixel: numpy's strided copy then moves pixels, not
    # single bytes (2.8 -> 1.3 ms for a 640x360 picture); the same bytes come out.
    height, width = rgb.shape[:2]
    pixels = np.ascontiguousarray(rgb).view(np.dtype((np.void, 3))).reshape(height, width)
    turned = np.ascontiguousarray(np.rot90(pixels, k=-(rotation_cw // 90)))
    return turned.view(np.uint8).reshape(*turned.shape, 3)
