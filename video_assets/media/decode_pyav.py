"""PyAV decoder backend: one container per video, a demux index, one forward decode pass.

Speed comes from decoding less, never from decoding differently:
- packets of frames nobody wants are sent with ``skip_frame = "NONREF"``, so the codec
  skips them when no other frame refers to them (B-frames, most of a 2 fps sample);
  reference frames still decode, so wanted frames are bit-identical to a full decode;
- in intra-only streams (every packet a keyframe, e.g. MJPEG) unwanted packets are
  not sent at all;
- when the next wanted frame lies behind a keyframe far ahead, we seek to that keyframe
  instead of decoding the gap (sparse clips in a long video).

The container is opened once: demuxed for the index, rewound, decoded.

Timestamps are checked where the container has none of its own (AVI, elementary
streams): the first pictures of the pass are decoded without skipping and their pts
compared with the index. When they come out of order (H.264 in AVI stamped in decode
order, DivX/Xvid "packed" B-frames) the pass decodes every picture in order and names
each one by the sorted pts of the pictures around it (`SortedLabels`): the decoder
puts pictures in presentation order, only their stamps are shuffled. Packets that give
no picture ("not coded" MPEG-4 frames, corrupt data) are served by the nearest picture
(see `decode`), as ffmpeg's fps filter repeats frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import heapq
import os
from collections import deque

import av
import numpy as np

from video_assets.media.decode import (
    FrameIndex,
    _DecoderBase,
    clockwise_rotation,
    coded_size,
    fit_pixels,
    normalize_size,
    upright,
)
from video_assets.media.errors import VideoReadError
from video_assets.media.sampling import TIE_EPS_S

# Seek only when it skips at least this many frames: a seek flushes the decoder and
# refills its thread pipeline, which costs about as much as decoding a few frames.
MIN_SEEK_GAP_FRAMES = 48
# Pictures decoded up front to check that pts follow presentation order (AVI, see
# `stamps_in_decode_order`); x264 puts at most 16 B-frames in a row, so 24 show it.
ORDER_CHECK_FRAMES = 24
NEVER_REORDERED = frozenset({"vp8", "vp9", "av1", "mjpeg"})
# Containers that store presentation timestamps: their pts name pictures, no check needed.
TRUSTED_PTS_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts"})
# Pictures held to sort shuffled stamps; packed B-frames shuffle 2-3, x264 in AVI up to ~5.
REORDER_WINDOW = 8
# Decoded pictures the frame-threaded decoder may keep in flight: its threads are capped
# so that huge frames (8000x8000: 96 MB each in yuv420p) stay within this: at 768 MB an
# 8000x8000 MJPEG peaked at 1.9 GB RSS, at 256 MB (2 threads) at 0.45 GB; 4K keeps 21.
DECODER_BUFFER_BYTES = 256 << 20
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

    Packets without pts and empty packets (AVI "dropped frame" chunks: no picture) are
    skipped, timestamps are sorted (presentation order, so B-frames are fine) and
    de-duplicated. A demux error (truncated file) keeps what was
    read so far and is reported in ``demux_error``.
    """
    pts: list[int] = []
    keys: list[bool] = []
    last_duration = 0
    demux_error = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
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


def upright_shape(frame: av.VideoFrame) -> tuple[int, int]:
    """(H, W) of the picture once turned upright by its display rotation."""
    if clockwise_rotation(getattr(frame, "rotation", 0)) in (90, 270):
        return frame.width, frame.height
    return frame.height, frame.width


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


def needs_order_check(container_format: str, codec: str, index: FrameIndex) -> bool:
    """Whether the pts of decoded pictures must be checked before they are trusted."""
    intra_only = bool(index.keyframes.all())
    return not intra_only and codec not in NEVER_REORDERED and container_format not in TRUSTED_PTS_FORMATS


def stamps_in_decode_order(path: str, index: FrameIndex, codec: str) -> bool:
    """True when decoded pictures come out with pts out of order or not in the index.

    AVI has no pts field: FFmpeg stamps its packets in decode order (or guesses, for
    MPEG-4 Part 2), so with B-frames, packed or not, a picture's pts may not name it.
    Decodes the first pictures of its own container (the decord backend uses this; the
    PyAV backend checks inside its decode pass).
    """
    with open_container(path) as container:
        stream = video_stream(container, path)
        if not needs_order_check(container.format.name, codec, index):
            return False
        _, raw = index_stream(container, stream, path)
        container.seek(0, stream=stream, backward=True)
        last, seen = None, 0
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet if packet.size else None)
            except av.FFmpegError:
                continue  # a broken picture says nothing about order; the real pass reports it
            for frame in frames:
                if not _in_order(frame.pts, last, raw):
                    return True
                last, seen = frame.pts, seen + 1
            if seen >= ORDER_CHECK_FRAMES:
                break
    return False


def _in_order(pts: int | None, last: int | None, raw: np.ndarray) -> bool:
    """A picture's pts is usable: present, after the previous picture's, in the index."""
    if pts is None or (last is not None and pts <= last):
        return False
    i = int(np.searchsorted(raw, pts))
    return i < len(raw) and raw[i] == pts


class SortedLabels:
    """Names pictures that come out in presentation order with shuffled pts: the k-th
    picture out gets the k-th smallest pts, sorted within a window of pictures."""

    def __init__(self, window: int = REORDER_WINDOW) -> None:
        self._heap: list[int] = []
        self._pictures: deque[av.VideoFrame] = deque()
        self._window = window

    def push(self, frame: av.VideoFrame) -> Iterator[tuple[int, av.VideoFrame]]:
        heapq.heappush(self._heap, frame.pts)
        self._pictures.append(frame)
        while len(self._pictures) > self._window:
            yield heapq.heappop(self._heap), self._pictures.popleft()

    def flush(self) -> Iterator[tuple[int, av.VideoFrame]]:
        while self._pictures:
            yield heapq.heappop(self._heap), self._pictures.popleft()


class _Serving:
    """Hands out the wanted frames as pictures arrive in presentation order.

    A wanted frame passed without a picture of its own takes the nearer (in time) of the
    pictures around it, the earlier on a tie (what ffmpeg's fps filter shows: it repeats
    the last frame until the next one is due), never one across an edge (a clip's first
    frame or its end): a clip shows only its own frames.
    """

    def __init__(
        self,
        decoder: PyAVDecoder,
        wanted: np.ndarray,
        size: tuple[int, int] | None,
        max_pixels: int | None,
        edges: np.ndarray | None,
    ):
        self.decoder, self.wanted, self.w = decoder, wanted, 0
        self.size, self.max_pixels = size, max_pixels
        self.edges = np.zeros(0, dtype=np.int64) if edges is None else np.unique(edges)
        self.times = decoder.index.times
        self.prev: tuple[int, av.VideoFrame] | None = None
        self._converted: tuple[int, np.ndarray] | None = None

    @property
    def done(self) -> bool:
        return self.w >= len(self.wanted)

    @property
    def target(self) -> int:
        return int(self.wanted[self.w])

    def restart(self) -> None:
        self.prev = None

    def _together(self, a: int, b: int) -> bool:
        """No edge lies between frames a <= b."""
        return int(np.searchsorted(self.edges, a, side="right")) == int(np.searchsorted(self.edges, b, side="right"))

    def _rgb(self, i: int, frame: av.VideoFrame) -> np.ndarray:
        if self._converted is None or self._converted[0] != i:
            self.decoder.stats.frames_converted += 1
            size = self.size
            if size is None and self.max_pixels:
                native = upright_shape(frame)
                size = fit_pixels(*native, self.max_pixels)
                if size is not None:
                    self.decoder.scaled_from = native
            self._converted = (i, frame_to_rgb(frame, size))
        return self._converted[1]

    def picture(self, i: int, frame: av.VideoFrame) -> Iterator[tuple[int, np.ndarray]]:
        """The picture of frame ``i`` (-1: not in the index, ignored)."""
        if i < 0 or (self.prev is not None and i <= self.prev[0]):
            return  # a repeated or late pts: the frame was served already
        while not self.done and self.target < i:
            lost = self.target
            self.w += 1
            prev_ok = self.prev is not None and self._together(self.prev[0], lost)
            next_ok = self._together(lost, i)
            prev_nearer = prev_ok and (
                self.times[lost] - self.times[self.prev[0]] <= self.times[i] - self.times[lost] + TIE_EPS_S
            )
            if prev_ok and (prev_nearer or not next_ok):
                source, picture = self.prev
            elif next_ok:
                source, picture = i, frame
            else:
                continue  # no picture on its side of the edges: the frame stays missing
            self.decoder.substitutes[lost] = source
            yield lost, self._rgb(source, picture)
        if not self.done and self.target == i:
            yield i, self._rgb(i, frame)
            self.w += 1
        self.prev = (i, frame)

    def end(self) -> Iterator[tuple[int, np.ndarray]]:
        """No picture comes any more: the wanted frames left take the last one."""
        while self.prev is not None and not self.done:
            lost = self.target
            self.w += 1
            if self._together(self.prev[0], lost):
                self.decoder.substitutes[lost] = self.prev[0]
                yield lost, self._rgb(*self.prev)


class PyAVDecoder(_DecoderBase):
    name = "pyav"

    def __init__(self, path: str, num_threads: int = 0) -> None:
        super().__init__(path, num_threads)
        self._container: av.container.InputContainer | None = open_container(path)
        try:
            stream = video_stream(self._container, path)
            self.codec = stream.codec_context.name
            self.index, self._pts = index_stream(self._container, stream, path)
            self._check_order = needs_order_check(self._container.format.name, self.codec, self.index)
        except BaseException:
            self.close()
            raise
        if self.index.demux_error:
            self.errors.append(self.index.demux_error)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _thread_count(self, stream: av.video.stream.VideoStream) -> int:
        """The requested thread count, capped so huge pictures in flight fit the buffer."""
        picture_bytes = max(1, stream.codec_context.width * stream.codec_context.height * 3 // 2)
        cap = max(1, DECODER_BUFFER_BYTES // picture_bytes)
        wanted = self.num_threads or min(16, (os.cpu_count() or 1) + 1)  # FFmpeg's own "auto"
        return self.num_threads if wanted <= cap else cap

    def _rewind(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        """The container at its first packet, with a fresh decoder: the open container is
        sought back to the start, reopened only when that seek fails."""
        container = self._container
        stream = None
        if container is not None:
            stream = video_stream(container, self.path)
            try:
                container.seek(0, stream=stream, backward=True)
            except av.FFmpegError:
                stream = None
        if stream is None:
            self.close()
            self._container = container = open_container(self.path)
            stream = video_stream(container, self.path)
        if stream.codec_context.is_open:
            stream.codec_context.flush_buffers()  # a second pass: forget the first one's pictures
        else:
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._thread_count(stream)
        stream.codec_context.skip_frame = "DEFAULT"
        return container, stream

    def _seek(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream, pts: int) -> None:
        """Jump to the keyframe at ``pts`` (tests replace this to simulate lying indexes)."""
        container.seek(pts, stream=stream, backward=True)

    def _packets(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream):
        """Demuxed packets with data, then None (flush); a demux error is recorded and ends
        the packets."""
        try:
            for packet in container.demux(stream):
                if packet.size:  # empty packets: the demuxer's end marker, AVI dropped frames
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

    def read(
        self,
        wanted: np.ndarray,
        size: tuple[int, int] | None = None,
        max_pixels: int | None = None,
        edges: np.ndarray | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        wanted = np.unique(np.asarray(wanted, dtype=np.int64))
        if len(wanted) == 0:
            return
        if wanted[0] < 0 or wanted[-1] >= len(self._pts):
            raise IndexError(f"frame indices must be in [0, {len(self._pts)})")
        serving = _Serving(self, wanted, normalize_size(size), max_pixels, edges)
        yield from self._read(serving)
        yield from serving.end()

    def _position(self, pts: int | None) -> int:
        """Index of the frame with this pts, -1 when it is not in the index."""
        if pts is None:
            return -1
        i = int(np.searchsorted(self._pts, pts))
        return i if i < len(self._pts) and self._pts[i] == pts else -1

    def _read(self, serving: _Serving) -> Iterator[tuple[int, np.ndarray]]:
        """One pass. Mode "check" decodes every picture and labels it through `SortedLabels`
        until ORDER_CHECK_FRAMES pictures showed their pts in order ("trusted": skipping
        and seeking from then on) or not ("in order": every picture, to the end)."""
        mode = "check" if self._check_order else "trusted"
        labels, last_pts, checked = SortedLabels(), None, 0
        key_before = _key_before(self.index.keyframes)
        intra_only = bool(self.index.keyframes.all())
        wanted_pts = {int(p) for p in self._pts[serving.wanted]}
        container, stream = self._rewind()
        packets = self._packets(container, stream)
        may_seek, demux_pos, check_landing = True, -1, False
        recovering = False  # intra-only: a wanted packet failed, send the next ones until a picture comes
        while not serving.done:
            target = serving.target
            if mode == "trusted" and may_seek and key_before[target] > demux_pos + MIN_SEEK_GAP_FRAMES:
                try:
                    self._seek(container, stream, int(self._pts[key_before[target]]))
                    self.stats.seeks += 1
                    # We stand at that keyframe now; counting from it also stops packets
                    # without pts from re-triggering the same seek forever.
                    check_landing, demux_pos = True, int(key_before[target])
                except av.FFmpegError as err:
                    self.errors.append(f"seek failed, decoding from the start instead: {err}")
                    may_seek, demux_pos = False, -1
                    container, stream = self._rewind()
                    serving.restart()
                    self.stats.restarts += 1
                packets = self._packets(container, stream)
            restart = False
            for packet in packets:
                if packet is not None:
                    demux_pos = max(demux_pos, self._position(packet.pts))
                    if mode == "trusted":
                        is_wanted = packet.pts is None or packet.pts in wanted_pts
                        if not is_wanted and intra_only and not recovering:
                            self.stats.packets_not_sent += 1
                            continue
                        stream.codec_context.skip_frame = "DEFAULT" if is_wanted else "NONREF"
                errors = len(self.errors)
                frames = self._decode(stream, packet)
                if intra_only and mode == "trusted":
                    recovering = (recovering or len(self.errors) > errors) and not frames
                for frame in frames:
                    if mode != "trusted":
                        if mode == "check" and not _in_order(frame.pts, last_pts, self._pts):
                            mode = "in order"
                        last_pts, checked = frame.pts, checked + 1
                        if frame.pts is None:
                            self.errors.append("a picture without pts was dropped")
                            continue
                        for label, picture in labels.push(frame):
                            yield from serving.picture(self._position(label), picture)
                        continue
                    i = self._position(frame.pts)
                    if check_landing and i >= 0:
                        check_landing = False
                        if i > serving.target:  # the seek index lied: decode from the start instead
                            restart = True
                            break
                    if i >= 0:
                        yield from serving.picture(i, frame)
                if packet is None:
                    for label, picture in labels.flush():
                        yield from serving.picture(self._position(label), picture)
                if mode == "check" and checked >= ORDER_CHECK_FRAMES:
                    mode = "trusted"  # the stamps were in order: labels are the pts themselves
                    for label, picture in labels.flush():
                        yield from serving.picture(self._position(label), picture)
                if restart or serving.done:
                    break
                if mode == "trusted" and may_seek and key_before[serving.target] > demux_pos + MIN_SEEK_GAP_FRAMES:
                    break  # everything wanted before the gap is out; skip the gap by seeking
            else:
                return  # demux exhausted: whatever is still wanted takes the last picture
            if restart:
                may_seek = False
                container, stream = self._rewind()
                serving.restart()
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
