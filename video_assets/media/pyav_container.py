"""A video file through PyAV: open it, find its video stream, index its frames, read its
rotation. Every failure becomes a `VideoReadError` that names the file and the reason.

Shared by the PyAV decoder, the decord backend (for its frame index), `probe` and
`transcode`, so all of them read a file the same way and fail with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_assets.media.decode import FrameIndex, clockwise_rotation
from video_assets.media.errors import VideoReadError
from video_assets.media.mp4_index import MOV_FORMAT_PREFIX, missing_index


def open_container(path: str) -> av.container.InputContainer:
    """``av.open`` with every failure turned into a `VideoReadError` naming the file."""
    file = Path(path)
    if not file.is_file():
        raise VideoReadError(path, "not a file" if file.exists() else "file does not exist")
    if file.stat().st_size == 0:
        raise VideoReadError(path, "file is empty (0 bytes)")
    try:
        return av.open(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        # FFmpeg says only "Invalid data" for an MP4 cut before its index: say that instead.
        try:
            why = missing_index(path)
        except OSError:
            why = None  # unreadable even for a box walk: FFmpeg's own error below says why
        # FFmpeg's message without its "[Errno N]" and the path again (the error names the file).
        detail = f": {why}" if why else f" ({getattr(err, 'strerror', None) or err})"
        raise VideoReadError(path, f"cannot open as a video container{detail}") from err


def video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    if not container.streams.video:
        # An MP4 whose index is cut in the middle opens with a lone "data" stream.
        why = _missing_mp4_index(path) if container.format.name.startswith(MOV_FORMAT_PREFIX) else None
        if why:
            raise VideoReadError(path, f"no video stream: {why}")
        kinds = sorted({s.type for s in container.streams})
        detail = f"only {', '.join(kinds)} streams" if kinds else "no streams"
        raise VideoReadError(path, f"no video stream ({detail})")
    return container.streams.video[0]


def _missing_mp4_index(path: str) -> str | None:
    """`missing_index`, with a file that cannot be read for it reported as such."""
    try:
        return missing_index(path)
    except OSError as err:
        raise VideoReadError(path, f"cannot read the file to check its MP4 index: {err}") from err


def index_stream(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: str,
    inspect: Callable[[av.Packet], None] | None = None,
) -> tuple[FrameIndex, np.ndarray]:
    """Demux (no decode) the whole stream: the frame index and the raw pts (stream time_base).

    Packets without pts and empty packets (AVI "dropped frame" chunks: no picture) are
    skipped, and so are packets FFmpeg marks discard: an MP4 edit list (a cut made with
    `-ss` and stream copy) starts the stream at an earlier keyframe whose pictures the
    player never shows, so the index, and every clip span and frame time, follow the
    player's timeline; the decoder still gets those packets (references) and drops their
    pictures itself. Timestamps are sorted (presentation order, so B-frames are fine) and
    de-duplicated. A demux error (truncated file) keeps what was
    read so far and is reported in ``demux_error``. ``inspect`` sees every packet with
    data, in demux order (the decoder reads picture types off them in the same pass).
    """
    pts: list[int] = []
    keys: list[bool] = []
    last_duration = 0
    demux_error = None
    try:
        for packet in container.demux(stream):
            if inspect is not None and packet.size:
                inspect(packet)
            if packet.pts is None or not packet.size or packet.is_discard:
                continue
            pts.append(packet.pts)
            keys.append(bool(packet.is_keyframe))
            last_duration = packet.duration or 0
    except av.FFmpegError as err:
        demux_error = f"demux stopped after {len(pts)} frames: {err}"
    if not pts:
        reason = demux_error or "the video stream has no frames with timestamps"
        raise VideoReadError(path, reason)
    raw = np.asarray(pts, dtype=np.int64)
    order = np.argsort(raw, kind="stable")
    raw, keyframes = raw[order], np.asarray(keys, dtype=bool)[order]
    raw, first = np.unique(raw, return_index=True)
    keyframes = keyframes[first]
    if len(raw) < len(pts) / 2:  # a few repeats happen in sloppy muxes; most repeating is broken
        raise VideoReadError(path, f"broken timestamps: {len(pts)} frames share {len(raw)} distinct pts")
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
    times = (raw - raw[0]).astype(np.float64) * float(time_base)
    frame_duration = float(last_duration * time_base)
    if frame_duration <= 0 and len(times) > 1:
        frame_duration = float(np.median(np.diff(times)))
    reordered = bool(np.any(np.diff(np.asarray(pts, dtype=np.int64)) < 0))
    index = FrameIndex(times, keyframes, frame_duration, demux_error, reordered)
    return index, raw


def first_frame_rotation(container: av.container.InputContainer, path: str) -> int:
    """Decode until the first picture comes out; its display matrix gives the rotation."""
    stream = video_stream(container, path)
    errors = []
    for packet in container.demux(stream):
        try:
            frames = stream.decode(packet)
        except av.FFmpegError as err:
            errors.append(str(err))
            if len(errors) >= 10:
                break
            continue
        if frames:
            rotation = clockwise_rotation(getattr(frames[0], "rotation", 0))
            tag = stream.metadata.get("rotate")  # only older FFmpeg builds surface the tag
            return rotation or (int(float(tag)) % 360 if tag else 0)
    detail = f": {'; '.join(errors[:3])}" if errors else ""
    raise VideoReadError(path, f"no frame of the video stream can be decoded (truncated or corrupt){detail}")


def hides_leading_frames(path: str) -> bool:
    """Whether the stream starts with packets FFmpeg marks discard: an MP4 edit list (a cut made with
    `-ss` and stream copy) hiding the pictures before the cut. Reads only the first packets."""
    with open_container(path) as container:
        for packet in container.demux(video_stream(container, path)):
            if packet.pts is not None and packet.size:
                return bool(packet.is_discard)
    return False
