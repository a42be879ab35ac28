"""PyAV decoder backend: demux index, one forward decode pass with keyframe seeks.

Speed comes from decoding less, never from decoding differently:
- packets of frames nobody wants are sent with ``skip_frame = "NONREF"``, so the codec
  skips them when no other frame refers to them (B-frames, most of a 2 fps sample);
  reference frames still decode, so wanted frames are bit-identical to a full decode;
- in intra-only streams (every packet a keyframe, e.g. MJPEG) unwanted packets are
  not sent at all;
- when the next wanted frame lies behind a keyframe far ahead, we seek to that keyframe
  instead of decoding the gap (sparse clips in a long video).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_assets.media.decode import (
    FrameIndex,
    _DecoderBase,
    clockwise_rotation,
    coded_size,
    normalize_size,
    upright,
)
from video_assets.media.errors import VideoReadError

# Seek only when it skips at least this many frames: a seek flushes the decoder and
# refills its thread pipeline, which costs about as much as decoding a few frames.
MIN_SEEK_GAP_FRAMES = 48
# Pictures decoded up front to check that pts follow presentation order (AVI, see
# `stamps_in_decode_order`); x264 puts at most 16 B-frames in a row, so 24 show it.
ORDER_CHECK_FRAMES = 24
NEVER_REORDERED = frozenset({"vp8", "vp9", "av1", "mjpeg"})
# libswscale filter for resizing; bicubic matches NeMo Curator's cv2.INTER_CUBIC.
RESIZE_INTERPOLATION = "BICUBIC"


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
        raise VideoReadError(path, f"cannot open as a video container ({err})") from err


def video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        detail = f"only {', '.join(kinds)} streams" if kinds else "no streams"
        raise VideoReadError(path, f"no video stream ({detail})")
    return container.streams.video[0]


def index_stream(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: str
) -> tuple[FrameIndex, np.ndarray]:
    """Demux (no decode) the whole stream: the frame index and the raw pts (stream time_base).

    Packets without pts are skipped, timestamps are sorted (presentation order, so
    B-frames are fine) and de-duplicated. A demux error (truncated file) keeps what was
    read so far and is reported in ``demux_error``.
    """
    pts: list[int] = []
    keys: list[bool] = []
    last_duration = 0
    demux_error = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
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


def frame_to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    """Upright RGB (H, W, 3) uint8; resized by libswscale when ``size=(H, W)`` is given."""
    rotation = clockwise_rotation(getattr(frame, "rotation", 0))
    scaled = coded_size(size, rotation)
    if scaled is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        rgb = frame.to_ndarray(format="rgb24", height=scaled[0], width=scaled[1], interpolation=RESIZE_INTERPOLATION)
    return upright(rgb, rotation)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, 3) uint8 RGB array to ``size=(H, W)`` with libswscale."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return frame.to_ndarray(height=size[0], width=size[1], interpolation=RESIZE_INTERPOLATION)


def _key_before(keyframes: np.ndarray) -> np.ndarray:
    """For each frame, the index of the last keyframe at or before it (0 when none)."""
    marks = np.where(keyframes, np.arange(len(keyframes)), 0)
    return np.maximum.accumulate(marks)


def stamps_in_decode_order(path: str, index: FrameIndex, codec: str) -> bool:
    """True when packets carry decode-order stamps although pictures are reordered.

    AVI has no pts field, so FFmpeg stamps its packets in decode order; with B-frames
    (H.264 in AVI) the decoded pictures then come out with pts out of order and a pts no
    longer names a picture. Such streams look un-reordered at demux, so the first
    pictures are decoded to check. MPEG-4 Part 2 in AVI is fine: FFmpeg unpacks it.
    """
    if index.reordered or bool(index.keyframes.all()) or codec in NEVER_REORDERED:
        return False
    last, seen = None, 0
    with open_container(path) as container:
        stream = video_stream(container, path)
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except av.FFmpegError:
                continue  # a broken picture says nothing about order; the real pass reports it
            for frame in frames:
                if frame.pts is not None:
                    if last is not None and frame.pts < last:
                        return True
                    last = frame.pts
                seen += 1
            if seen >= ORDER_CHECK_FRAMES:
                break
    return False


class PyAVDecoder(_DecoderBase):
    name = "pyav"

    def __init__(self, path: str, num_threads: int = 0) -> None:
        super().__init__(path, num_threads)
        with open_container(path) as container:
            stream = video_stream(container, path)
            self.codec = stream.codec_context.name
            self.index, self._pts = index_stream(container, stream, path)
        if self.index.demux_error:
            self.errors.append(self.index.demux_error)
        self._container: av.container.InputContainer | None = None
        self._by_count: bool | None = None  # pictures are named by output count, not pts

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _reopen(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        self.close()
        self._container = open_container(self.path)
        stream = video_stream(self._container, self.path)
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = self.num_threads
        return self._container, stream

    def _packets(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream):
        """Demuxed packets; on a demux error, record it and end with a flush (None)."""
        try:
            for packet in container.demux(stream):
                self.stats.packets_demuxed += 1
                yield packet
        except av.FFmpegError as err:
            self.errors.append(f"demux error: {err}")
            yield None

    def _decode(self, stream: av.video.stream.VideoStream, packet: av.Packet | None) -> list[av.VideoFrame]:
        try:
            frames = stream.decode(packet)
        except av.FFmpegError as err:
            where = f" (pts {packet.pts})" if packet is not None and packet.pts is not None else ""
            self.errors.append(f"decode error{where}: {err}")
            return []
        self.stats.frames_decoded += len(frames)
        return frames

    def read(self, wanted: np.ndarray, size: tuple[int, int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = np.unique(np.asarray(wanted, dtype=np.int64))
        if len(wanted) == 0:
            return
        if wanted[0] < 0 or wanted[-1] >= len(self._pts):
            raise IndexError(f"frame indices must be in [0, {len(self._pts)})")
        size = normalize_size(size)
        try:
            yield from self._read(wanted, size)
        finally:
            self.close()

    def _read_by_count(self, wanted: np.ndarray, size: tuple[int, int] | None) -> Iterator[tuple[int, np.ndarray]]:
        """Frame i is the i-th picture out of the decoder: no seeking, no skipping, as in
        NeMo Curator. Slower, but right when pts cannot be trusted (a picture that fails to
        decode shifts the ones after it, as it does there)."""
        container, stream = self._reopen()
        w, count = 0, 0
        for packet in self._packets(container, stream):
            for frame in self._decode(stream, packet):
                if w < len(wanted) and count == wanted[w]:
                    self.stats.frames_converted += 1
                    yield count, frame_to_rgb(frame, size)
                    w += 1
                count += 1
            if w == len(wanted):
                return

    def _position(self, pts: int | None) -> int:
        """Index of the frame with this pts, -1 when it is not in the index."""
        if pts is None:
            return -1
        i = int(np.searchsorted(self._pts, pts))
        return i if i < len(self._pts) and self._pts[i] == pts else -1

    def _read(self, wanted: np.ndarray, size: tuple[int, int] | None) -> Iterator[tuple[int, np.ndarray]]:
        if self._by_count is None:
            self._by_count = stamps_in_decode_order(self.path, self.index, self.codec)
        if self._by_count:
            yield from self._read_by_count(wanted, size)
            return
        wanted_pts = {int(p) for p in self._pts[wanted]}
        key_before = _key_before(self.index.keyframes)
        intra_only = bool(self.index.keyframes.all())
        container, stream = self._reopen()
        packets = self._packets(container, stream)
        may_seek, w, demux_pos, check_landing = True, 0, -1, False
        while w < len(wanted):
            target = int(wanted[w])
            if may_seek and key_before[target] > demux_pos + MIN_SEEK_GAP_FRAMES:
                try:
                    container.seek(int(self._pts[key_before[target]]), stream=stream, backward=True)
                    self.stats.seeks += 1
                    # We stand at that keyframe now; counting from it also stops packets
                    # without pts from re-triggering the same seek forever.
                    check_landing, demux_pos = True, int(key_before[target])
                except av.FFmpegError as err:
                    self.errors.append(f"seek failed, decoding from the start instead: {err}")
                    may_seek, demux_pos = False, -1
                    container, stream = self._reopen()
                    self.stats.restarts += 1
                packets = self._packets(container, stream)
            restart = False
            for packet in packets:
                if packet is not None and packet.size:
                    demux_pos = max(demux_pos, self._position(packet.pts))
                    is_wanted = packet.pts is None or packet.pts in wanted_pts
                    if not is_wanted and intra_only:
                        self.stats.packets_not_sent += 1
                        continue
                    stream.codec_context.skip_frame = "DEFAULT" if is_wanted else "NONREF"
                for frame in self._decode(stream, packet):
                    i = self._position(frame.pts)
                    if check_landing and i >= 0:
                        check_landing = False
                        if i > target:  # the seek index lied: decode from the start instead
                            restart = True
                            break
                    while w < len(wanted) and wanted[w] < i:
                        w += 1  # lost to a decode error; the caller sees it missing
                    if w < len(wanted) and wanted[w] == i:
                        self.stats.frames_converted += 1
                        yield i, frame_to_rgb(frame, size)
                        w += 1
                if restart or w >= len(wanted):
                    break
                if may_seek and key_before[wanted[w]] > demux_pos + MIN_SEEK_GAP_FRAMES:
                    break  # everything wanted before the gap is out; skip the gap by seeking
            else:
                return  # demux exhausted: whatever is still wanted is missing
            if restart:
                may_seek = False
                container, stream = self._reopen()
                self.stats.restarts += 1
                packets, demux_pos = self._packets(container, stream), -1


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
