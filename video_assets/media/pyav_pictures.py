"""Decoded PyAV pictures to the samples that want them: RGB conversion, names for
pictures whose stamps come shuffled, and the nearest picture for a sample whose own
frame gave none.

`SortedLabels` serves AVI-style streams whose pts are in decode order: the decoder
puts pictures in presentation order, only their stamps are shuffled. `PictureServing`
hands each wanted frame its picture, or its nearest neighbour's within the same clip,
as ffmpeg's fps filter repeats frames.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from video_assets.media.decode import (
    DEFAULT_SCALING,
    Decoder,
    ReadRequest,
    Scaling,
    clockwise_rotation,
    coded_size,
    fit_pixels,
    upright,
)
from video_assets.media.sampling import TIE_EPS_S

# Pictures held to sort shuffled stamps; packed B-frames shuffle 2-3, x264 in AVI up to ~5.
REORDER_WINDOW = 8


def upright_shape(frame: av.VideoFrame) -> tuple[int, int]:
    """(H, W) of the picture once turned upright by its display rotation."""
    if clockwise_rotation(getattr(frame, "rotation", 0)) in (90, 270):
        return frame.width, frame.height
    return frame.height, frame.width


def first_upright_shape(decoder: Decoder, frame: av.VideoFrame) -> tuple[int, int]:
    """(H, W) of the stream's first picture turned upright as `frame` is (its own size when unknown)."""
    if decoder.first_coded is None or min(decoder.first_coded) <= 0:
        return upright_shape(frame)
    height, width = decoder.first_coded
    turned = clockwise_rotation(getattr(frame, "rotation", 0)) in (90, 270)
    return (width, height) if turned else (height, width)


class RgbConverter:
    """Pictures to RGB arrays through ONE libswscale context for a whole pass.

    ``frame.to_ndarray`` builds a new context per picture (PyAV gives each frame its own
    reformatter), and with threads 0 a new slice-thread pool per picture too: at 640x360
    that cost 3 ms a picture against 0.2 ms through one context on one thread (2.4x a
    whole 6 s clip's decode). One context gives the same bytes: it is set up from the
    same picture parameters, and libswscale re-initialises it when they change.
    ``threads`` 0 keeps libswscale's own choice (all cores).
    """

    def __init__(self, scaling: Scaling = DEFAULT_SCALING, threads: int | None = None) -> None:
        self.scaling = scaling
        self.threads = scaling.threads if threads is None else threads
        self._reformatter = VideoReformatter()

    def rgb(self, frame: av.VideoFrame, size: tuple[int, int] | None = None) -> np.ndarray:
        """RGB (H, W, 3) uint8 of the stored picture, resized to ``size=(H, W)`` when given."""
        if size is None:  # no resize: the interpolation is unused, as in to_ndarray(format="rgb24")
            out = self._reformatter.reformat(frame, format="rgb24", threads=self.threads)
        else:
            out = self._reformatter.reformat(
                frame,
                format="rgb24",
                height=size[0],
                width=size[1],
                interpolation=self.scaling.interpolation,
                threads=self.threads,
            )
        return out.to_ndarray()

    def upright(self, frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
        """Upright RGB (H, W, 3) uint8; ``size`` is the upright (H, W) (see `frame_to_rgb`)."""
        rotation = clockwise_rotation(getattr(frame, "rotation", 0))
        return upright(self.rgb(frame, coded_size(size, rotation)), rotation)


def frame_to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None, scaling: Scaling = DEFAULT_SCALING) -> np.ndarray:
    """Upright RGB (H, W, 3) uint8; resized by libswscale as ``scaling`` says when ``size=(H, W)`` is given.
    One picture; a pass converts many through one `RgbConverter`."""
    return RgbConverter(scaling).upright(frame, size)


def resize_rgb(
    rgb: np.ndarray, size: tuple[int, int], scaling: Scaling = DEFAULT_SCALING, converter: RgbConverter | None = None
) -> np.ndarray:
    """Resize an (H, W, 3) uint8 RGB array to ``size=(H, W)`` with libswscale (through
    ``converter``'s context when given: its scaling and threads then apply)."""
    return (converter or RgbConverter(scaling)).rgb(av.VideoFrame.from_ndarray(rgb, format="rgb24"), size)


class SortedLabels:
    """Names pictures that come out in presentation order with shuffled pts: the k-th
    picture out gets the k-th smallest pts, sorted within a window of pictures.

    After `expect` (every frame's pts, sorted) the k-th picture is expected to be named
    ``expected[k]``, as it is when every packet gives one picture; a picture whose expected
    name is not ``wanted`` is not held for the window (its label pops with no picture):
    holding every picture keeps the decoder's buffers from being reused, a quarter of the
    decode time. ``mismatch`` turns True when a popped name differs from the expected one
    (a packet gave no picture): a picture let go may then have been wanted, so the caller
    decodes again without `expect`; no label is handed out after that.
    """

    def __init__(self, window: int = REORDER_WINDOW) -> None:
        self._heap: list[int] = []
        self._pictures: deque[tuple[int | None, av.VideoFrame | None]] = deque()
        self._window = window
        self._expected: list[int] | None = None
        self._wanted: frozenset[int] = frozenset()
        self._pushed = 0
        self.mismatch = False

    def expect(self, expected: np.ndarray, wanted: frozenset[int]) -> None:
        """From the next picture on, expect names from ``expected`` and hold only ``wanted`` ones."""
        self._expected, self._wanted = expected.tolist(), wanted

    @property
    def pushed(self) -> int:
        """Pictures pushed so far, skipped ones included: the position of the next one."""
        return self._pushed

    def push(self, frame: av.VideoFrame, pts: int | None = None) -> Iterator[tuple[int, av.VideoFrame | None]]:
        """The next picture out; ``pts`` stands for its stamp when given (the one a full
        decode gives it, where skipping changed which packet decoded it)."""
        return self._add(frame.pts if pts is None else pts, frame)

    def skipped(self, pts: int) -> Iterator[tuple[int, av.VideoFrame | None]]:
        """A picture the decoder was told to skip, in the place it would have come out with
        stamp ``pts``: it takes its label as a full decode gives it, and pops with no picture."""
        return self._add(pts, None)

    def _add(self, pts: int, frame: av.VideoFrame | None) -> Iterator[tuple[int, av.VideoFrame | None]]:
        heapq.heappush(self._heap, pts)
        expected = None
        if self._expected is not None and self._pushed < len(self._expected):
            expected = self._expected[self._pushed]
        keep = expected is None or expected in self._wanted
        self._pictures.append((expected, frame if keep else None))
        self._pushed += 1
        while len(self._pictures) > self._window and not self.mismatch:
            yield from self._pop()

    def flush(self) -> Iterator[tuple[int, av.VideoFrame | None]]:
        while self._pictures and not self.mismatch:
            yield from self._pop()

    def _pop(self) -> Iterator[tuple[int, av.VideoFrame | None]]:
        """The next label and its picture; none once a label differs from the expected one:
        from there on the pictures held were chosen by wrong names, and one served as a
        wanted frame's stand-in could not be taken back by the caller's second pass."""
        label = heapq.heappop(self._heap)
        expected, picture = self._pictures.popleft()
        if expected is not None and expected != label:
            self.mismatch = True
            return
        yield label, picture


class PictureServing:
    """Hands out the wanted frames as pictures arrive in presentation order.

    A wanted frame passed without a picture of its own takes the nearer (in time) of the
    pictures around it, the earlier on a tie (what ffmpeg's fps filter shows: it repeats
    the last frame until the next one is due), never one across an edge (a clip's first
    frame or its end): a clip shows only its own frames.
    """

    def __init__(self, decoder: Decoder, request: ReadRequest) -> None:
        self.decoder, self.wanted, self.w = decoder, request.wanted, 0
        self._targets = request.wanted.tolist()  # plain ints: read per picture, numpy indexing costs more
        self.size, self.max_pixels, self.scaling = request.size, request.max_pixels, request.scaling
        self.edges = np.zeros(0, dtype=np.int64) if request.edges is None else np.unique(request.edges)
        self.times = decoder.index.times
        self.prev: tuple[int, av.VideoFrame] | None = None
        self._converted: tuple[int, np.ndarray] | None = None
        # Scaling threads 0 follow the decoder's: one decoding thread converts on one too.
        threads = request.scaling.threads or decoder.num_threads
        self._converter = RgbConverter(request.scaling, threads)

    @property
    def done(self) -> bool:
        return self.w >= len(self._targets)

    @property
    def target(self) -> int:
        return self._targets[self.w]

    def restart(self) -> None:
        self.prev = None

    def _together(self, a: int, b: int) -> bool:
        """No edge lies between frames a <= b."""
        return int(np.searchsorted(self.edges, a, side="right")) == int(np.searchsorted(self.edges, b, side="right"))

    def _rgb(self, i: int, frame: av.VideoFrame) -> np.ndarray:
        if self._converted is None or self._converted[0] != i:
            self.decoder.stats.frames_converted += 1
            size = self.size
            if size is None:
                native, first = upright_shape(frame), first_upright_shape(self.decoder, frame)
                size = fit_pixels(*first, self.max_pixels) if self.max_pixels else None
                if size is not None:
                    self.decoder.scaled_from = first
                elif native != first:
                    size = first  # the stream changed resolution: every picture at the first one's size
                if native != first:
                    self.decoder.resized_from.add(native)
            self._converted = (i, self._converter.upright(frame, size))
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
