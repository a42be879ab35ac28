"""Tiny videos of scripted shots for the scene-cut tests: which shot each frame shows, and flashes."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_assets.media.synthetic import DEFAULT_PIX_FMT, ENCODER_OPTIONS, MovingScene


def write_shots(
    path: Path,
    shots: Sequence[int],
    *,
    flashes: Sequence[int] = (),
    fps: int = 25,
    size: tuple[int, int] = (64, 48),
    codec: str = "libx264",
) -> Path:
    """Frame ``i`` shows shot ``shots[i]`` (a `MovingScene` seeded by it) at time i / fps;
    frames listed in ``flashes`` are blended 80 % toward white (a camera flash)."""
    width, height = size
    scenes = {s: MovingScene(width, height, 7919 * s + 1) for s in set(shots)}
    rate = Fraction(fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=dict(ENCODER_OPTIONS[codec]))
        stream.width, stream.height, stream.pix_fmt = width, height, DEFAULT_PIX_FMT[codec]
        stream.codec_context.time_base = 1 / rate
        for i, shot in enumerate(shots):
            rgb = scenes[shot].draw(i / fps)
            if i in flashes:
                rgb = (0.2 * rgb + 0.8 * 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=stream.pix_fmt)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


# A frame as (shot before, shot after, weight of the shot after): None is black. Hard cuts,
# dissolves and fades through black are runs of these (`blend_script`).
Blend = tuple[int | None, int | None, float]


def blend_script(*parts: tuple[str, int, int]) -> list[Blend]:
    """Frames of a script of ("shot", shot, frames), ("dissolve", next shot, frames) and
    ("fade", next shot, frames) parts; a transition goes from the shot before it."""
    frames: list[Blend] = []
    current: int | None = None
    for kind, shot, count in parts:
        if kind == "shot":
            frames += [(shot, None, 0.0)] * count
        elif kind == "dissolve":
            frames += [(current, shot, (k + 1) / (count + 1)) for k in range(count)]
        elif kind == "fade":  # out to black over the first half, in from black over the second
            half = count // 2
            frames += [(current, None, (k + 1) / (half + 1)) for k in range(half)]
            frames += [(None, shot, (k + 1) / (count - half + 1)) for k in range(count - half)]
        else:
            raise ValueError(f"unknown part {kind!r}")
        current = shot
    return frames


def write_blends(
    path: Path,
    frames: Sequence[Blend],
    *,
    flashes: Sequence[int] = (),
    fps: int = 25,
    size: tuple[int, int] = (64, 48),
) -> Path:
    """H.264 video of `frames` (see `Blend`), shots drawn as in `write_shots`; frames listed in
    ``flashes`` are blended 80 % toward white."""
    width, height = size
    shots = {s for a, b, _ in frames for s in (a, b) if s is not None}
    scenes = {s: MovingScene(width, height, 7919 * s + 1) for s in shots}
    black = np.zeros((height, width, 3), dtype=np.float32)

    def draw(shot: int | None, t: float) -> np.ndarray:
        return black if shot is None else scenes[shot].draw(t).astype(np.float32)

    rate = Fraction(fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate, options=dict(ENCODER_OPTIONS["libx264"]))
        stream.width, stream.height, stream.pix_fmt = width, height, DEFAULT_PIX_FMT["libx264"]
        stream.codec_context.time_base = 1 / rate
        for i, (before, after, weight) in enumerate(frames):
            rgb = (1 - weight) * draw(before, i / fps) + weight * draw(after, i / fps)
            if i in flashes:
                rgb = 0.2 * rgb + 0.8 * 255
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            frame = frame.reformat(format=stream.pix_fmt)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
