"""Skipping unwanted pictures in a pass whose stamps are shuffled (AVI: packed B-frames,
H.264 stamped in decode order), from a display order read off the bitstream.

The order (`Mpeg4Order`, `H264Order`) knows, for every picture of a full decode, its display position
and the stamp it comes out with, and follows the decoder send by send (`step`): which
picture a send decodes, and which ones it leaves undecoded when told to skip. A send whose
picture no other picture refers to and nobody wants goes with ``skip_frame = "NONREF"``;
`SortedLabels` gets a stand-in in each skipped picture's place, with its full-decode stamp,
so every label is the one a full decode gives. Each picture that comes out must stand where
the order put it: the first one that does not ends the skipping when nothing was skipped
yet, and otherwise sets ``labels.mismatch``, so that the caller decodes again holding all.
A picture FFmpeg flags corrupt (damaged data it concealed) counts as out of place: where
a damaged VOP ends decides which B-VOP FFmpeg stores behind it, so the headers' order no
longer says what a full decode shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import av

from video_assets.media.h264_order import H264Decoding, H264Order, Picture
from video_assets.media.mpeg4_order import Mpeg4Decoding, Mpeg4Order, Vop
from video_assets.media.pyav_pictures import SortedLabels

DisplayOrder = Mpeg4Order | H264Order


def display_order(codec: av.codec.context.CodecContext) -> DisplayOrder | None:
    """An empty display order to feed the stream's packets to (None: no reader for its codec,
    or no B-frames to skip)."""
    headers = codec.extradata or b""
    try:
        if codec.name == "mpeg4" and codec.has_b_frames:
            return Mpeg4Order(headers)
        if codec.name == "h264" and codec.has_b_frames:
            return H264Order(headers)
    except Exception:  # noqa: BLE001  (see `feed`)
        return None
    return None


def feed(order: DisplayOrder, packet: av.Packet) -> None:
    """The next packet of the index demux into ``order``. Any exception of the header readers
    (a cut or damaged header they do not expect) turns the order invalid: every picture is then
    decoded, as before the readers existed, instead of the file failing."""
    try:
        order.feed(packet.pts, bytes(packet))
    except Exception:  # noqa: BLE001  (parsing untrusted bytes: any surprise means "not followed")
        order.valid = False


def finished(order: DisplayOrder | None, codec: av.codec.context.CodecContext) -> DisplayOrder | None:
    """The order once every packet was fed, None when it cannot be followed: invalid, or an
    H.264 reorder deeper than the decoder's delay (FFmpeg would show pictures out of order)."""
    if order is None:
        return None
    try:
        order.finish()
    except Exception:  # noqa: BLE001  (see `feed`)
        return None
    if not order.valid or (isinstance(order, H264Order) and order.max_reorder > codec.reorder_depth):
        return None
    return order


class ReorderedSkipping:
    """One pass's skipping (see the module notes); inactive without an order."""

    def __init__(self, order: DisplayOrder | None, labels: SortedLabels, wanted: frozenset[int]) -> None:
        self.labels, self.wanted = labels, wanted
        self._decoding: Mpeg4Decoding | H264Decoding | None = None if order is None else order.decoding()
        self.active = order is not None
        self.skipped_any = False
        self._sent = 0  # packets sent so far: the index of the next one in the order
        self._decoded: dict[int, Vop | Picture] = {}  # pts of a send -> the picture it decoded
        self._standing_in: dict[int, int] = {}  # display position -> full-decode pts of a skipped picture
        self._flushing = False

    def send(self, packet: av.Packet | None, codec: av.codec.context.CodecContext, may_skip: bool) -> None:
        """Before ``packet`` is decoded (None: the flush): skip its picture when ``may_skip``,
        nobody wants it and no other picture refers to it (nor to one it would leave undecoded)."""
        if packet is None:
            self._flushing = True
            return
        index, self._sent = self._sent, self._sent + 1
        if not self.active:
            return
        may_skip = may_skip and packet.pts is not None

        def unwanted(pic: Vop | Picture | None) -> bool:
            return pic is None or (pic.skippable and pic.position not in self.wanted)

        def skip(unit: Vop | Picture, store: Vop | None) -> bool:
            return may_skip and unwanted(unit) and unwanted(store)

        unit, skipped = self._decoding.step(index, skip)
        for pic in skipped:
            self._standing_in[pic.position] = pic.pts
        self.skipped_any = self.skipped_any or bool(skipped)
        if unit is not None and packet.pts is not None:
            self._decoded[packet.pts] = unit
        if bool(skipped) != (codec.skip_frame == "NONREF"):  # set only when it changes (see pyav_sending)
            codec.skip_frame = "NONREF" if skipped else "DEFAULT"

    def push(self, frame: av.VideoFrame) -> Iterator[tuple[int, av.VideoFrame | None]]:
        """A picture out of the decoder, after the stand-ins due before it."""
        if not self.active:
            yield from self.labels.push(frame)
            return
        pic = self._decoded.pop(frame.pts, None)
        if pic is None and self._flushing and len(self._decoded) == 1:
            # The flush shows the reference held back, stamped with the last packet's pts
            # when that packet decoded nothing in this pass: the one picture decoded and not
            # yet out (its stamp in a full decode is the order's: `Mpeg4Order.finish`).
            pic = self._decoded.pop(next(iter(self._decoded)))
        position = -1 if pic is None or frame.is_corrupt else pic.position
        while self.labels.pushed < position and self.labels.pushed in self._standing_in:
            yield from self.labels.skipped(self._standing_in.pop(self.labels.pushed))
        if position != self.labels.pushed:
            self._fail()
            if not self.labels.mismatch:
                yield from self.labels.push(frame)
            return
        yield from self.labels.push(frame, pic.pts)

    def flush(self) -> Iterator[tuple[int, av.VideoFrame | None]]:
        """No picture comes any more: the stand-ins left, then every label."""
        while self.active and self._standing_in:
            if self.labels.pushed not in self._standing_in:
                self._fail()
                return
            yield from self.labels.skipped(self._standing_in.pop(self.labels.pushed))
        yield from self.labels.flush()

    def _fail(self) -> None:
        """A picture out of the order's place: stop skipping, or, once pictures were
        skipped (labels may be off), have the caller decode again holding all."""
        self.active = False
        if self.skipped_any:
            self.labels.mismatch = True
