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
