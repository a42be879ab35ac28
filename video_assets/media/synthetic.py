"""Synthetic videos made with PyAV: test inputs and the `video-assets demo` content.

Library code (not a test helper) because the demo command ships it. Content is cheap
to draw and easy to check: ``"moving"`` draws coloured boxes bouncing over a gradient
(distinct per seed and per scene), ``"index"`` writes the frame number as a 4x3 grid of
black/white cells that survives lossy coding (read it back with `read_frame_index`).
Broken inputs (truncated, corrupt, empty, text, audio only) live in `synthetic_damaged`
and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_assets.media.synthetic_damaged import (
    make_audio_only,
    make_corrupted,
    make_near_copy,
    make_text_file_as_video,
    make_truncated,
    make_zero_byte,
)

__all__ = [
    "PATTERNS",
    "make_audio_only",
    "make_corrupted",
    "make_near_copy",
    "make_text_file_as_video",
    "make_truncated",
    "make_video",
    "make_zero_byte",
    "read_frame_index",
]

PATTERNS = ("moving", "index")
INDEX_GRID = (3, 4)  # rows, cols: 12 bits, frame numbers up to 4095
DEFAULT_PIX_FMT = {"libx264": "yuv420p", "mpeg4": "yuv420p", "libvpx-vp9": "yuv420p", "mjpeg": "yuvj420p"}
# Fast encoder settings: test videos are about content and timestamps, not quality.
ENCODER_OPTIONS = {
    "libx264": {"preset": "veryfast"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "mpeg4": {"qscale": "3"},
    "mjpeg": {"qscale": "3"},
}
VFR_TIME_BASE = Fraction(1, 90000)
AUDIO_RATE = 48000


class MovingScene:
    """A gradient and three boxes with seeded colours, sizes, starts and speeds."""

    def __init__(self, width: int, height: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        left, right = rng.integers(0, 256, size=(2, 3))
        ramp = np.linspace(0.0, 1.0, width)[None, :, None]
        self.background = np.broadcast_to(left * (1 - ramp) + right * ramp, (height, width, 3)).astype(np.uint8)
        self.boxes = []
        for _ in range(3):
            bw, bh = max(2, width // rng.integers(4, 7)), max(2, height // rng.integers(4, 7))
            start = rng.uniform(0, 1, size=2) * (width - bw, height - bh)
            speed = rng.uniform(0.3, 0.8, size=2) * (width, height) * rng.choice([-1, 1], size=2)
            self.boxes.append((bw, bh, start, speed, rng.integers(0, 256, size=3).astype(np.uint8)))

    def draw(self, t: float) -> np.ndarray:
        img = self.background.copy()
        height, width = img.shape[:2]
        for bw, bh, start, speed, colour in self.boxes:
            room = np.array([width - bw, height - bh], dtype=float)
            # Bounce off the edges: a triangle wave of the unbounded position.
            pos = np.abs((start + speed * t) % (2 * np.maximum(room, 1)) - np.maximum(room, 1))
            x, y = (room - pos).astype(int)
            img[y : y + bh, x : x + bw] = colour
        return img


def index_image(i: int, width: int, height: int) -> np.ndarray:
    rows, cols = INDEX_GRID
    bits = [(i >> b) & 1 for b in range(rows * cols)]
    cells = np.array(bits, dtype=np.uint8).reshape(rows, cols) * 255
    ys = np.arange(height) * rows // height
    xs = np.arange(width) * cols // width
    return np.repeat(cells[ys][:, xs][:, :, None], 3, axis=2)


def read_frame_index(rgb: np.ndarray) -> int:
    """The frame number drawn by the ``"index"`` pattern (upright (H, W, 3) frame, any size)."""
    rows, cols = INDEX_GRID
    height, width = rgb.shape[:2]
    value = 0
    for b in range(rows * cols):
        r, c = divmod(b, cols)
        y0, y1 = (4 * r + 1) * height // (4 * rows), (4 * r + 3) * height // (4 * rows)
        x0, x1 = (4 * c + 1) * width // (4 * cols), (4 * c + 3) * width // (4 * cols)
        if rgb[y0:y1, x0:x1].mean() > 127:
            value |= 1 << b
    return value


def _frame_times(duration_s: float, fps: float, vfr: bool, seed: int) -> np.ndarray:
    if not vfr:
        return np.arange(max(1, round(duration_s * fps))) / fps
    rng = np.random.default_rng(seed + 1)
    # Intervals between 0.4 and 1.6 frame periods: irregular but never duplicate.
    steps = rng.uniform(0.4, 1.6, size=int(duration_s * fps * 3) + 2) / fps
    times = np.concatenate([[0.0], np.cumsum(steps)])
    return times[times < duration_s] if duration_s > 0 else times[:1]


def _add_audio(container: av.container.OutputContainer, path: Path) -> av.audio.stream.AudioStream:
    codec = "libopus" if path.suffix.lower() == ".webm" else "aac"
    stream = container.add_stream(codec, rate=AUDIO_RATE)
    stream.codec_context.layout = "mono"
    return stream


def _tone(start: int, stop: int, seed: int) -> av.AudioFrame:
    t = np.arange(start, stop) / AUDIO_RATE
    wave = (0.3 * np.sin(2 * np.pi * (330 + 20 * seed) * t)).astype(np.float32)
    frame = av.AudioFrame.from_ndarray(wave[None, :], format="fltp", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
    return frame


def make_video(
    path: str | Path,
    *,
    duration_s: float = 2.0,
    fps: float = 30.0,
    size: tuple[int, int] = (160, 120),
    codec: str = "libx264",
    pattern: str = "moving",
    seed: int = 0,
    audio: bool = False,
    rotation: int = 0,
    vfr: bool = False,
    bframes: bool = True,
    pix_fmt: str | None = None,
    gop: int | None = None,
    scene_cuts_s: Sequence[float] = (),
) -> Path:
    """Write a synthetic video; the container follows the suffix (.mp4, .mkv, .webm, .avi).

    ``size`` is (W, H). ``rotation`` (0/90/180/270, clockwise to view upright) is written as
    the stream's display matrix. ``vfr`` gives irregular timestamps. ``bframes`` only
    matters for libx264/mpeg4. ``gop`` caps the keyframe interval. ``scene_cuts_s`` switches
    to a new scene (new colours and boxes) at each of those times.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; choose one of {PATTERNS}")
    if rotation % 90 or not 0 <= rotation < 360:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation}")
    rate = Fraction(fps).limit_denominator(1001)
    times = _frame_times(duration_s, fps, vfr, seed)
    cuts = sorted(scene_cuts_s)
    scenes = [MovingScene(width, height, seed * 1009 + k) for k in range(len(cuts) + 1)]
    with av.open(str(path), "w") as container:
        options = dict(ENCODER_OPTIONS.get(codec, {}))
        if codec in ("libx264", "mpeg4"):
            options["bf"] = "3" if bframes else "0"
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt or DEFAULT_PIX_FMT.get(codec, "yuv420p")
        stream.codec_context.time_base = VFR_TIME_BASE if vfr else 1 / rate
        if gop:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes FFmpeg's counter-clockwise angle
        audio_stream = _add_audio(container, path) if audio else None
        audio_done = 0
        for i, t in enumerate(times):
            if pattern == "index":
                rgb = index_image(i, width, height)
            else:
                rgb = scenes[int(np.searchsorted(cuts, t, side="right"))].draw(float(t))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=stream.pix_fmt)
            frame.pts = round(t / VFR_TIME_BASE) if vfr else i
            container.mux(stream.encode(frame))
            if audio_stream is not None:  # interleave: audio up to the end of this frame
                audio_end = round(min(t + 1 / fps, max(duration_s, 1 / fps)) * AUDIO_RATE)
                if audio_end > audio_done:
                    container.mux(audio_stream.encode(_tone(audio_done, audio_end, seed)))
                    audio_done = audio_end
        container.mux(stream.encode(None))
        if audio_stream is not None:
            container.mux(audio_stream.encode(None))
    return path
