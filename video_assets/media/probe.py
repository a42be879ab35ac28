"""What a video file is: container, codec, size, rate, frames, duration, rotation, hash.

Frame count and duration come from demuxing every packet (cheap, no decode), because
headers lie (WebM/MKV store no frame count, truncated files keep the full duration);
the first frame is decoded to prove the stream is usable and to read the rotation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import av

from video_assets.media.decode import FrameIndex
from video_assets.media.errors import VideoReadError
from video_assets.media.pyav_container import first_frame_rotation, index_stream, open_container, video_stream

MAX_FPS = 1000.0  # above this a measured frame rate is a broken timestamp, not a camera
MAX_DURATION_S = 7 * 24 * 3600.0  # a week: longer is a broken timestamp, not a recording
# Header duration this much longer than the packets (and over a second) means frames are gone.
TRUNCATION_RATIO = 1.2


@dataclass(frozen=True)
class VideoProbe:
    path: str
    container: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"
    codec: str  # decoder name, e.g. "h264", "mpeg4", "vp9", "mjpeg"
    pix_fmt: str | None
    width: int  # stored (coded) size; see display_size for the upright size
    height: int
    rotation: int  # clockwise degrees (0/90/180/270) to turn frames upright, as the legacy rotate tag
    avg_fps: float | None  # header average rate
    real_fps: float | None  # header base rate (FFmpeg r_frame_rate)
    num_frames: int  # counted from packets
    duration_s: float  # from the packets: last timestamp - first + last frame duration
    bit_rate: int | None
    has_audio: bool
    size_bytes: int
    sha256: str
    warnings: tuple[str, ...] = ()  # readable but suspicious, e.g. truncated

    @property
    def display_size(self) -> tuple[int, int]:
        """(W, H) of the upright frames that frame extraction returns."""
        if self.rotation in (90, 270):
            return (self.height, self.width)
        return (self.width, self.height)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["warnings"] = list(self.warnings)
        return out


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so any size fits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _rate(value: object) -> float | None:
    return float(value) if value else None


def _header_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration from the header, else the container's."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return float(container.duration) / av.time_base if container.duration else None


def _check_sane(index: FrameIndex, path: str) -> None:
    n = len(index)
    span = float(index.times[-1])
    if n > 1 and span <= 0:
        raise VideoReadError(path, f"all {n} frames carry the same timestamp")
    if n > 1 and (n - 1) / span > MAX_FPS:
        raise VideoReadError(path, f"absurd frame rate {(n - 1) / span:.0f} fps from timestamps")
    if not math.isfinite(index.end_s) or index.end_s > MAX_DURATION_S:
        raise VideoReadError(path, f"absurd duration {index.end_s:.0f} s from timestamps")


def probe(path: str | Path) -> VideoProbe:
    """Probe a video. Raises `VideoReadError` (naming the file and the reason) for a missing or
    zero-byte file, a non-video, a file with no video stream, one truncated so far that no
    frame decodes, and absurd frame rates or durations."""
    p = str(path)
    with open_container(p) as container:
        stream = video_stream(container, p)
        ctx = stream.codec_context
        header_duration = _header_duration(container, stream)
        meta = {
            "container": container.format.name,
            "codec": ctx.name,
            "pix_fmt": ctx.pix_fmt or None,
            "width": int(ctx.width),
            "height": int(ctx.height),
            "avg_fps": _rate(stream.average_rate),
            "real_fps": _rate(stream.base_rate),
            "bit_rate": int(ctx.bit_rate or container.bit_rate or 0) or None,
            "has_audio": bool(container.streams.audio),
        }
        index, _ = index_stream(container, stream, p)
    if meta["width"] <= 0 or meta["height"] <= 0:
        raise VideoReadError(p, f"video stream has no picture size ({meta['width']}x{meta['height']})")
    _check_sane(index, p)
    with open_container(p) as container:
        rotation = first_frame_rotation(container, p)
    warnings = [index.demux_error] if index.demux_error else []
    if header_duration and header_duration > max(index.end_s * TRUNCATION_RATIO, index.end_s + 1.0):
        warnings.append(f"header says {header_duration:.2f} s but frames cover {index.end_s:.2f} s (truncated?)")
    return VideoProbe(
        path=p,
        rotation=rotation,
        num_frames=len(index),
        duration_s=round(index.end_s, 6),
        size_bytes=Path(p).stat().st_size,
        sha256=sha256_file(p),
        warnings=tuple(warnings),
        **meta,
    )
