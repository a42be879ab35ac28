"""Derived and broken inputs for tests and the demo (re-exported by `synthetic`).

Each one reproduces a failure seen in real collections: a download cut short, a file
whose name lies about its content, an empty upload, a podcast in a video folder, bit
rot inside the stream, and a near-duplicate upload (re-encoded, resized, cropped).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _target(dst: str | Path) -> Path:
    """``dst`` as a Path, with its folder created."""
    path = Path(dst)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_truncated(src: str | Path, dst: str | Path, keep_fraction: float = 0.5) -> Path:
    """The first ``keep_fraction`` of the bytes of ``src`` (an interrupted download)."""
    if not 0 <= keep_fraction < 1:
        raise ValueError(f"keep_fraction must be in [0, 1), got {keep_fraction}")
    data = Path(src).read_bytes()
    path = _target(dst)
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def make_text_file_as_video(dst: str | Path) -> Path:
    """A text file with a video suffix."""
    path = _target(dst)
    path.write_text("this is not a video\n" * 20, encoding="utf-8")
    return path


def make_zero_byte(dst: str | Path) -> Path:
    path = _target(dst)
    path.write_bytes(b"")
    return path


def make_audio_only(dst: str | Path, *, duration_s: float = 1.0) -> Path:
    """An AAC-only file (e.g. ``.mp4`` / ``.m4a``): a container with no video stream."""
    rate = 48000
    with av.open(str(_target(dst)), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.codec_context.layout = "mono"
        t = np.arange(int(duration_s * rate)) / rate
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(dst)


def make_corrupted(src: str | Path, dst: str | Path, *, start_s: float, end_s: float, seed: int = 0) -> Path:
    """Remux ``src`` with the video packets whose pts is in [start_s, end_s) replaced by
    random bytes of the same size: the container stays valid, those frames do not decode
    (use an intra-only codec such as MJPEG so the damage does not spread)."""
    rng = np.random.default_rng(seed)
    with av.open(str(src)) as inp, av.open(str(_target(dst)), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.size == 0:
                continue  # demux's end-of-stream flush marker, not data
            t = float(packet.pts * vin.time_base) if packet.pts is not None else -1.0
            if start_s <= t < end_s:
                junk = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                junk.pts, junk.dts, junk.time_base = packet.pts, packet.dts, packet.time_base
                junk.is_keyframe = packet.is_keyframe
                packet = junk
            packet.stream = vout
            out.mux(packet)
    return Path(dst)


def _even(n: int) -> int:
    return max(2, n - n % 2)


def make_near_copy(
    src: str | Path,
    dst: str | Path,
    *,
    size: tuple[int, int] | None = None,
    crop: float = 0.0,
    crf: int = 30,
) -> Path:
    """Re-encode ``src`` as H.264 (yuv420p): crop ``crop`` of the width and height from each
    side, resize to ``size`` (W, H) if given, keep the timestamps. Audio is not copied."""
    if not 0 <= crop < 0.5:
        raise ValueError(f"crop must be in [0, 0.5), got {crop}")
    with av.open(str(src)) as inp, av.open(str(_target(dst)), "w") as out:
        vin = inp.streams.video[0]
        width, height = vin.codec_context.width, vin.codec_context.height
        dx, dy = int(width * crop), int(height * crop)
        out_w, out_h = (_even(v) for v in (size or (width - 2 * dx, height - 2 * dy)))
        rate = vin.average_rate or Fraction(30)
        vout = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
        vout.width, vout.height, vout.pix_fmt = out_w, out_h, "yuv420p"
        vout.codec_context.time_base = vin.time_base
        first_pts = None
        for frame in inp.decode(vin):
            rgb = frame.to_ndarray(format="rgb24")[dy : height - dy, dx : width - dx]
            copy = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            copy = copy.reformat(width=out_w, height=out_h, format="yuv420p")
            first_pts = frame.pts if first_pts is None else first_pts
            copy.pts = frame.pts - first_pts
            out.mux(vout.encode(copy))
        out.mux(vout.encode(None))
    return Path(dst)
