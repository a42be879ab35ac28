"""The display order of an H.264 stream (Annex B, one picture per packet, as AVI holds it)
read off its slice headers, without decoding.

Why: AVI stamps H.264 packets in decode order, so a packet's pts does not say which frame
it holds. Pictures show in picture-order-count order between IDR pictures (7.4.1.2.4,
8.2.1); knowing each packet's display position lets a pass skip the non-reference
pictures nobody wants (nal_ref_idc 0: no picture refers to them) and name every picture
that comes out. The picture decoded at a send carries that send's packet pts.

Followed: picture order count types 0 and 2 on frames. Not followed (the order turns
invalid and every picture is decoded, as before): field pictures, type 1, slice groups,
memory_management_control_operation 5, a gap in frame_num (a lost reference picture), a
packet holding two pictures or slices before their parameter sets, and a reorder deeper
than the decoder's (`max_reorder`, checked by the caller against FFmpeg's
``has_b_frames``), which could make FFmpeg show pictures out of order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from video_assets.media.bit_reader import start_codes
from video_assets.media.h264_headers import (
    Pps,
    SliceHeader,
    Sps,
    Unsupported,
    first_mb,
    parse_pps,
    parse_slice,
    parse_sps,
)

REORDER_WINDOW = 32  # pictures looked back for ones shown later; a deeper reorder is refused


@dataclass
class Picture:
    reference: bool
    period: int  # IDR pictures start a new one
    order: int  # picture order count within its period
    pts: int
    position: int = -1  # display position in a full decode

    @property
    def skippable(self) -> bool:
        return not self.reference


def nal_units(data: bytes) -> list[tuple[int, bytes]]:
    """(header byte, payload) of each Annex B NAL unit in ``data``."""
    starts = start_codes(data)
    ends = [*starts[1:], len(data)]
    return [(data[at + 3], data[at + 4 : end]) for at, end in zip(starts, ends) if at + 3 < len(data)]


class H264Order:
    """Fed every packet with data in decode order (`feed`), then `finish`; `packets` holds
    each packet's picture (None: none) with its display position in a full decode."""

    def __init__(self, headers: bytes = b"") -> None:
        self._sps: dict[int, Sps] = {}
        self._pps: dict[int, Pps] = {}
        self.packets: list[Picture | None] = []
        self._period, self._prev = -1, (0, 0)  # previous reference's (msb, lsb)
        self._prev_ref_frame_num = 0
        self._decoded = 0
        self.max_reorder = 0
        self.valid = True
        self._stamps: set[int] = set()
        self._feed_units(headers, None)

    def feed(self, pts: int | None, data: bytes) -> None:
        if not self.valid:
            return
        if pts is None or pts in self._stamps or not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            self.valid = False
            return
        self._stamps.add(pts)
        self.packets.append(self._feed_units(data, pts))

    def _feed_units(self, data: bytes, pts: int | None) -> Picture | None:
        picture = None
        try:
            for header, payload in nal_units(data):
                kind = header & 0x1F
                if kind == 7:
                    sps_id, sps = parse_sps(payload)
                    self._sps[sps_id] = sps
                elif kind == 8:
                    pps_id, pps = parse_pps(payload)
                    self._pps[pps_id] = pps
                elif kind in (1, 5) and pts is not None:
                    if picture is None:
                        slice_ = parse_slice(header, payload, self._sps, self._pps)
                        if slice_.first_mb != 0 or slice_.resets_order:
                            raise Unsupported("a picture cut across packets, or an order reset")
                        picture = self._picture(slice_, pts)
                    elif first_mb(payload) == 0:
                        raise Unsupported("two pictures in one packet")
        except Unsupported:
            self.valid = False
        return picture

    def _picture(self, slice_: SliceHeader, pts: int) -> Picture:
        if slice_.idr:
            self._period, self._prev, self._prev_ref_frame_num = self._period + 1, (0, 0), 0
        self._check_frame_num(slice_)
        if slice_.poc_type == 2:
            order = self._decoded  # shown in decode order
        else:
            prev_msb, prev_lsb = self._prev
            half = 1 << (slice_.poc_lsb_bits - 1)
            msb = prev_msb
            if slice_.poc_lsb < prev_lsb and prev_lsb - slice_.poc_lsb >= half:
                msb += 2 * half
            elif slice_.poc_lsb > prev_lsb and slice_.poc_lsb - prev_lsb > half:
                msb -= 2 * half
            top = msb + slice_.poc_lsb
            order = min(top, top + slice_.delta_bottom)
            if slice_.reference:
                self._prev = (msb, slice_.poc_lsb)
        self._decoded += 1
        return Picture(slice_.reference, self._period, order, pts)

    def _check_frame_num(self, slice_: SliceHeader) -> None:
        """Refuse a gap in frame_num (8.2.5.2: a reference picture lost, e.g. a chunk the AVI
        demuxer dropped): FFmpeg fills it from the previous picture's frame_num, whichever
        it was, so the pictures after it change when a non-reference picture is skipped."""
        expected = (self._prev_ref_frame_num + 1) % (1 << slice_.frame_num_bits)
        if slice_.frame_num not in (self._prev_ref_frame_num, expected):
            raise Unsupported("a gap in frame_num (a reference picture missing)")
        if slice_.reference:
            self._prev_ref_frame_num = slice_.frame_num

    def finish(self) -> None:
        """Display positions (and `max_reorder`) once every packet was fed."""
        pictures = [p for p in self.packets if p is not None]
        if not self.valid or not pictures or pictures[0].period < 0:
            self.valid = False
            return
        keys = [(p.period, p.order) for p in pictures]
        if len(set(keys)) != len(keys):
            self.valid = False
            return
        for position, k in enumerate(sorted(range(len(pictures)), key=keys.__getitem__)):
            pictures[k].position = position
        for k, picture in enumerate(pictures):
            before = pictures[max(0, k - REORDER_WINDOW) : k]
            later = sum(1 for p in before if p.position > picture.position)
            if before and k >= REORDER_WINDOW and before[0].position > picture.position:
                self.valid = False  # shown after a picture decoded further back than we look
            self.max_reorder = max(self.max_reorder, later)

    def decoding(self) -> H264Decoding:
        return H264Decoding(self.packets)


class H264Decoding:
    """One pass: the picture each send decodes; no state carries between sends."""

    def __init__(self, packets: list[Picture | None]) -> None:
        self.packets = packets

    def step(self, index: int, skip: Callable[[Picture, None], bool]) -> tuple[Picture | None, list[Picture]]:
        picture = self.packets[index] if index < len(self.packets) else None
        if picture is not None and picture.skippable and skip(picture, None):
            return None, [picture]
        return picture, []
