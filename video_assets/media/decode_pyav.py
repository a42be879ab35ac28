"""PyAV decoder backend: one container per video, a demux index, one forward decode pass.

Speed comes from decoding less, never from decoding differently:
- packets of frames nobody wants are sent with ``skip_frame = "NONREF"``, so the codec
  skips them when no other frame refers to them (B-frames, most of a 2 fps sample);
  reference frames still decode, so wanted frames are bit-identical to a full decode;
- in intra-only streams (every packet a keyframe, e.g. MJPEG) unwanted packets are
  not sent at all, nor, in MPEG-4 Part 2, those before the keyframe of the next wanted
  frame (`PacketSending`: nothing after an I-VOP refers to what comes before it);
- when the next wanted frame lies behind a keyframe far ahead, we seek to that keyframe
  instead of decoding the gap (sparse clips in a long video).

The container is opened once: demuxed for the index, rewound, decoded.

Timestamps are checked where the container has none of its own (AVI, elementary
streams): the first pictures of the pass are decoded without skipping and their pts
compared with the index. When they come out of order (H.264 in AVI stamped in decode
order, DivX/Xvid "packed" B-frames) the pass names each picture by the sorted pts of
the pictures around it (`SortedLabels`): the decoder puts pictures in presentation
order, only their stamps are shuffled. It skips the unwanted pictures no other picture
refers to by the display order read off the VOP / slice headers in the index demux
(`ReorderedSkipping`), checking each picture out against it. It holds only the
pictures it expects to be wanted (the k-th picture is frame k) and checks every label,
decoding again holding all when a packet gave no picture. Packets that give
no picture ("not coded" MPEG-4 frames, corrupt data) are served by the nearest picture
(`PictureServing`), as ffmpeg's fps filter repeats frames.

This module decides which packets to demux, send, skip and seek to; `pyav_pictures`
turns the pictures that come out into the wanted samples; `pyav_container` opens the
file and builds the frame index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from video_assets.media.decode import Decoder, FrameIndex, ReadRequest
from video_assets.media.pyav_container import index_stream, open_container, video_stream
from video_assets.media.pyav_pictures import PictureServing, SortedLabels
from video_assets.media.pyav_reordered import ReorderedSkipping, display_order, feed, finished
from video_assets.media.pyav_sending import PacketSending

# Seek only when it skips at least this many frames: a seek flushes the decoder and
# refills its thread pipeline, which costs about as much as decoding a few frames.
MIN_SEEK_GAP_FRAMES = 48
# Pictures decoded up front to check that pts follow presentation order (AVI, see
# `stamps_in_decode_order`); x264 puts at most 16 B-frames in a row, so 24 show it.
ORDER_CHECK_FRAMES = 24
NEVER_REORDERED = frozenset({"vp8", "vp9", "av1", "mjpeg"})
# Containers that store presentation timestamps: their pts name pictures, no check needed.
TRUSTED_PTS_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts"})
# Decoded pictures the frame-threaded decoder may keep in flight: its threads are capped
# so that huge frames (8000x8000: 96 MB each in yuv420p) stay within this: at 768 MB an
# 8000x8000 MJPEG peaked at 1.9 GB RSS, at 256 MB (2 threads) at 0.45 GB; 4K keeps 21.
DECODER_BUFFER_BYTES = 256 << 20


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


def _order_known(stream: av.video.stream.VideoStream, checked: int) -> bool:
    """Whether the order check has seen enough: ORDER_CHECK_FRAMES pictures in order, or one
    picture of MPEG-4 Part 2 whose header says it has no B-frames (low_delay: pictures come
    out in decode order, the order of their stamps; H.264 is not trusted so, its decoder
    may raise has_b_frames later in the stream)."""
    if checked >= ORDER_CHECK_FRAMES:
        return True
    return checked > 0 and stream.codec_context.name == "mpeg4" and not stream.codec_context.has_b_frames


def _in_order(pts: int | None, last: int | None, raw: np.ndarray) -> bool:
    """A picture's pts is usable: present, after the previous picture's, in the index."""
    if pts is None or (last is not None and pts <= last):
        return False
    i = int(np.searchsorted(raw, pts))
    return i < len(raw) and raw[i] == pts


@dataclass
class _OrderCheck:
    """Where a pass stands on its stamps: "check" (first pictures), "trusted" or "in order"."""

    mode: str
    labels: SortedLabels
    reordered: ReorderedSkipping
    wanted_pts: frozenset[int]
    last_pts: int | None = None
    checked: int = 0


class PyAVDecoder(Decoder):
    name = "pyav"

    def __init__(self, path: str, num_threads: int = 0) -> None:
        super().__init__(path, num_threads)
        self._container: av.container.InputContainer | None = open_container(path)
        try:
            stream = video_stream(self._container, path)
            self.codec = stream.codec_context.name
            self.first_coded = (int(stream.codec_context.height), int(stream.codec_context.width))
            # Untrusted stamps: read each packet's display position off its headers in the same
            # demux, so that a pass with shuffled stamps can still skip (`ReorderedSkipping`).
            order = None if self._container.format.name in TRUSTED_PTS_FORMATS else display_order(stream.codec_context)

            def inspect(packet: av.Packet) -> None:
                if order.valid:  # once not followed, no more copying the packets' bytes
                    feed(order, packet)

            self.index, self._pts = index_stream(self._container, stream, path, inspect if order else None)
            # pts -> frame index: a dict lookup per packet and picture instead of a binary search
            # through numpy (10 us a call, as much as decoding a small picture).
            self._frame_of = {pts: i for i, pts in enumerate(self._pts.tolist())}
            self._check_order = needs_order_check(self._container.format.name, self.codec, self.index)
            # The display order read off the headers (`pyav_reordered`); None when not followed.
            self.picture_order = finished(order, stream.codec_context) if self._check_order else None
            # Shuffled stamps: expect the k-th picture to be frame k and hold only the wanted
            # ones (`SortedLabels`); False once a pass found a packet without its picture.
            self.expect_labels = True
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

    def _read_checked(self, request: ReadRequest) -> Iterator[tuple[int, np.ndarray]]:
        serving = PictureServing(self, request)
        yield from self._read(serving)
        yield from serving.end()

    def _restart(self, serving: PictureServing) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        """Back to the first packet with a fresh decoder, serving what is still wanted."""
        container, stream = self._rewind()
        serving.restart()
        self.stats.restarts += 1
        return container, stream

    def _again_holding_all(self, serving: PictureServing, errors_before: int) -> Iterator[tuple[int, np.ndarray]]:
        """The pass again from the start, `SortedLabels` holding every picture (a packet gave
        no picture, so expected labels failed); the first try's errors are dropped."""
        self.expect_labels = False
        del self.errors[errors_before:]
        serving.restart()
        self.stats.restarts += 1
        yield from self._read(serving)

    def _jump(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        key: int,
        serving: PictureServing,
    ) -> tuple[av.container.InputContainer, av.video.stream.VideoStream, bool]:
        """Seek to keyframe ``key``; False (container rewound, serving restarted: decoding
        from the start, no more seeks) when the seek fails."""
        try:
            self._seek(container, stream, int(self._pts[key]))
        except av.FFmpegError as err:
            self.errors.append(f"seek failed, decoding from the start instead: {err}")
            return *self._restart(serving), False
        self.stats.seeks += 1
        return container, stream, True

    def _serve(
        self, serving: PictureServing, labelled: Iterator[tuple[int, av.VideoFrame | None]]
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Labelled pictures to `serving`; those `SortedLabels` let go (None) are not wanted."""
        for label, picture in labelled:
            if picture is not None:
                yield from serving.picture(self._position(label), picture)

    def _position(self, pts: int | None) -> int:
        """Index of the frame with this pts, -1 when it is not in the index."""
        return -1 if pts is None else self._frame_of.get(pts, -1)

    def _shuffled(
        self, serving: PictureServing, check: _OrderCheck, frame: av.VideoFrame
    ) -> Iterator[tuple[int, np.ndarray]]:
        """A picture of a pass whose stamps are not trusted (yet): its order checked, then
        labelled through `SortedLabels` (by way of `ReorderedSkipping`)."""
        if check.mode == "check" and not _in_order(frame.pts, check.last_pts, self._pts):
            check.mode = "in order"
            if self.expect_labels:
                check.labels.expect(self._pts, check.wanted_pts)
        check.last_pts, check.checked = frame.pts, check.checked + 1
        if frame.pts is None:
            self.errors.append("a picture without pts was dropped")
            return
        yield from self._serve(serving, check.reordered.push(frame))

    def _read(self, serving: PictureServing) -> Iterator[tuple[int, np.ndarray]]:
        """One pass. Mode "check" decodes every picture and labels it through `SortedLabels`
        until ORDER_CHECK_FRAMES pictures showed their pts in order ("trusted": skipping
        and seeking from then on) or not ("in order": to the end, skipping what the
        display order read off the headers allows, `ReorderedSkipping`)."""
        key_before = _key_before(self.index.keyframes).tolist()  # plain ints: read per packet
        intra_only = bool(self.index.keyframes.all())
        wanted_pts = frozenset(int(p) for p in self._pts[serving.wanted])
        labels, errors_before = SortedLabels(), len(self.errors)
        order = self.picture_order if self.expect_labels else None
        reordered = ReorderedSkipping(order, labels, frozenset(serving.wanted.tolist()))
        check = _OrderCheck("check" if self._check_order else "trusted", labels, reordered, wanted_pts)
        container, stream = self._rewind()
        sending = PacketSending(stream, wanted_pts, key_before, intra_only)
        packets = self._packets(container, stream)
        may_seek, demux_pos, check_landing = True, -1, False
        while not serving.done:
            target = serving.target
            if check.mode == "trusted" and may_seek and key_before[target] > demux_pos + MIN_SEEK_GAP_FRAMES:
                container, stream, may_seek = self._jump(container, stream, key_before[target], serving)
                if may_seek:
                    # We stand at that keyframe now; counting from it also stops packets
                    # without pts from re-triggering the same seek forever.
                    check_landing, demux_pos = True, key_before[target]
                else:
                    demux_pos = -1
                sending.restarted(stream)
                packets = self._packets(container, stream)
            restart = False
            for packet in packets:
                if packet is not None:
                    position = self._position(packet.pts)
                    demux_pos = max(demux_pos, position)
                if check.mode != "trusted":
                    reordered.send(packet, stream.codec_context, may_skip=check.mode == "in order")
                elif packet is not None and not sending.send(packet, position, serving.target, self.stats):
                    if sending.bad_keyframe:  # packets left out were needed: again, sending all
                        restart = True
                        break
                    continue
                errors = len(self.errors)
                frames = self._decode(stream, packet)
                if check.mode == "trusted":
                    sending.decoded(len(frames), len(self.errors) > errors)
                for frame in frames:
                    if check.mode != "trusted":
                        yield from self._shuffled(serving, check, frame)
                        continue
                    i = self._position(frame.pts)
                    if check_landing and i >= 0:
                        check_landing = False
                        if i > serving.target:  # the seek index lied: decode from the start instead
                            restart = True
                            break
                    if i >= 0:
                        yield from serving.picture(i, frame)
                if packet is None or (check.mode == "check" and _order_known(stream, check.checked)):
                    yield from self._serve(serving, reordered.flush())
                    if check.mode == "check" and packet is not None:
                        check.mode = "trusted"  # the stamps were in order: labels are the pts themselves
                if labels.mismatch:  # a picture let go may have been wanted: again, holding all
                    yield from self._again_holding_all(serving, errors_before)
                    return
                if restart or serving.done:
                    break
                if (
                    check.mode == "trusted"
                    and may_seek
                    and key_before[serving.target] > demux_pos + MIN_SEEK_GAP_FRAMES
                ):
                    break  # everything wanted before the gap is out; skip the gap by seeking
            else:
                return  # demux exhausted: whatever is still wanted takes the last picture
            if restart:
                may_seek, sending.bad_keyframe = False, False
                container, stream = self._restart(serving)
                sending.restarted(stream, gops_safe=False)
                packets, demux_pos = self._packets(container, stream), -1
