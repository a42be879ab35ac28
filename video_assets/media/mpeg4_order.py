"""The display order of an MPEG-4 Part 2 stream read off its VOP headers, packet by packet
as FFmpeg's decoder takes them, without decoding.

Why: AVI stamps packets in decode order, and DivX "packed" B-frames shuffle them further,
so a packet's pts does not say which frame it holds. The decoder shows pictures in display
order; knowing where each VOP shows lets a pass skip the B-VOPs nobody wants (no picture
refers to a B-VOP) and still name every picture that comes out.

FFmpeg's decoder (h263dec.c, mpeg4videodec.c), as followed here:
- packed B-frames (DivX user data "DivX...p"): after decoding a VOP, the first VOP after it
  in the packet (or the whole packet, when the decoded VOP was the stored one) is stored
  when it is an I or B-VOP and more than 7 bytes are left; the next send decodes the
  stored VOP instead of its own packet, unless that packet starts with a VOS header;
- a VOP skipped by ``skip_frame`` or not coded (vop_coded 0) returns early: nothing is
  stored, so a B-VOP that was to be stored behind a skipped one is lost as well;
- the picture decoded at a send carries that send's packet pts;
- a B-VOP shows at once; a reference (I, P, S) when the next reference is decoded, or at
  the end; a VOP with vop_coded 0 gives no picture; a B-VOP whose time does not lie
  between its two references' gives none either (not followed: the order is refused);
- the reference shown at the end carries the last packet's pts when that packet decoded
  nothing (a placeholder with no B-VOP stored before it, as when a chunk is lost).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from video_assets.media.bit_reader import START_CODE
from video_assets.media.mpeg4_vops import coded_vops, increment_bits, time_resolution, vop_time

# FFmpeg (mpeg4videodefs.h): the stored VOP is decoded in place of a packet this small even
# without the packed marker.
MAX_NVOP_SIZE = 19
# FFmpeg's decode_user_data: "DivX503b1393p" / "DivX501Build413p"; a trailing "p" = packed.
DIVX_PACKED = re.compile(rb"DivX\d+(?:Build|b)\d+p")


@dataclass
class Vop:
    kind: str  # "I", "P", "B" or "S"
    coded: bool
    start: int  # byte offset in its packet
    position: int = -1  # display position in a full decode (-1: no picture)
    pts: int | None = None  # the stamp its picture carries in a full decode
    seconds: int = 0  # modulo_time_base
    increment: int = 0  # vop_time_increment

    @property
    def skippable(self) -> bool:
        """No picture refers to it: ``skip_frame = "NONREF"`` skips it."""
        return self.kind == "B"


@dataclass(frozen=True)
class PacketVops:
    vops: tuple[Vop, ...]
    size: int
    vos_first: bool  # the packet's first start code is a VOS header (00 00 01 B0)


def never(unit: Vop, store: Vop | None) -> bool:
    return False


class Mpeg4Decoding:
    """FFmpeg's packed-B-frame state across the sends of one pass (module notes)."""

    def __init__(self, packets: list[PacketVops], packed: bool) -> None:
        self.packets, self.packed = packets, packed
        self._stored: Vop | None = None
        self.parsed: Vop | None = None  # the VOP whose header the last send read, coded or not

    def step(self, index: int, skip: Callable[[Vop, Vop | None], bool]) -> tuple[Vop | None, list[Vop]]:
        """The VOP decoded when packet ``index`` is sent (None: no picture) and the VOPs this
        send leaves undecoded because ``skip(unit, would_store)`` said to skip its unit."""
        if index >= len(self.packets):  # more packets than the index demux saw: nothing known
            return None, []
        packet = self.packets[index]
        stored, self._stored = self._stored, None
        if stored is not None and self.packed and packet.vos_first:
            stored = None
        from_buffer = stored is not None and (self.packed or packet.size <= MAX_NVOP_SIZE)
        unit = stored if from_buffer else (packet.vops[0] if packet.vops else None)
        self.parsed = unit
        if unit is None or not unit.coded:
            return None, []
        rest = packet.vops if from_buffer else packet.vops[1:]
        store = None
        if self.packed and rest and rest[0].kind in "IB" and packet.size - (0 if from_buffer else rest[0].start) > 7:
            store = rest[0]
        if skip(unit, store):
            return None, [unit] if store is None else [unit, store]
        self._stored = store
        return unit, []


class Mpeg4Order:
    """Fed every packet with data in decode order (`feed`), then `finish`: each VOP gets its
    display position and stamp in a full decode. Only packed streams are read: FFmpeg's AVI
    demuxer stamps unpacked B-frames in display order, so their pts name their frames (the
    decoder's order check trusts them) and `valid` turns False at the first packet, as it
    does on what the rules do not cover (no VOL header, a repeated or missing pts, more than
    two VOPs in a packet)."""

    def __init__(self, headers: bytes = b"") -> None:
        # From the VOL header of the codec's extradata; None: it comes in the first packet.
        self._bits: int | None = None
        self._resolution: int | None = None
        self._new_vol(headers)
        self.packets: list[PacketVops] = []
        self._decoding: Mpeg4Decoding | None = None
        self._packed = bool(DIVX_PACKED.search(headers))
        self._held: Vop | None = None
        self._last_empty: int | None = None  # pts of the last packet when it decoded nothing
        self._placed = 0
        self._stamps: set[int] = set()
        self.valid = True
        # FFmpeg's VOP clock (decode_vop_header): seconds of the last two references, the
        # time of the last one and the distance between them, in resolution ticks.
        self._time_base = self._last_time_base = self._last_ref_time = self._ref_distance = 0

    def feed(self, pts: int | None, data: bytes) -> None:
        if self._bits is None or data[3:4] != b"\xb6":  # a VOL header may lead the packet
            self._new_vol(data)
        if not self.valid or self._bits is None or pts is None or pts in self._stamps:
            self.valid = False
            return
        self._stamps.add(pts)
        if self._decoding is None:
            self._packed = self._packed or bool(DIVX_PACKED.search(data[:512]))
            if not self._packed:  # FFmpeg stamps unpacked B-frames in display order: nothing to read
                self.valid = False
                return
            self._decoding = Mpeg4Decoding(self.packets, self._packed)
        vops = tuple(
            Vop(kind, coded, start, -1, None, *vop_time(data, start, self._bits))
            for kind, coded, start in coded_vops(data, self._bits)
        )
        self.valid = len(vops) <= 2
        first = data.find(START_CODE)
        self.packets.append(PacketVops(vops, len(data), first >= 0 and data[first + 3 : first + 4] == b"\xb0"))
        unit, _ = self._decoding.step(len(self.packets) - 1, never)
        if self._decoding.parsed is not None:
            self._clock(self._decoding.parsed)
        self._last_empty = pts if unit is None else None
        if unit is None:
            return
        unit.pts = pts
        if unit.kind == "B":
            self._show(unit)
            return
        if self._held is not None:
            self._show(self._held)
        self._held = unit

    def finish(self) -> None:
        if self._held is not None:
            if self._last_empty is not None:  # FFmpeg's drain stamps it so (see the module notes)
                self._held.pts = self._last_empty
            self._show(self._held)
            self._held = None

    def _new_vol(self, data: bytes) -> None:
        """A VOL header in the packet (a stream joined to another, e.g. at a new frame rate)
        sets the width of vop_time_increment and the clock's ticks a second, for FFmpeg too."""
        resolution = time_resolution(data)
        if resolution is not None:
            self._bits, self._resolution = increment_bits(resolution), resolution

    def _clock(self, vop: Vop) -> None:
        """FFmpeg's VOP clock, for every VOP whose header a send reads (not coded ones too). A
        B-VOP not timed between its two references is dropped with no picture (a reference
        lost before it, e.g. a chunk the AVI demuxer lost): not followed, the order is refused."""
        resolution = self._resolution or 1
        if vop.kind != "B":
            self._last_time_base, self._time_base = self._time_base, self._time_base + vop.seconds
            time = self._time_base * resolution + vop.increment
            self._ref_distance, self._last_ref_time = time - self._last_ref_time, time
            return
        time = (self._last_time_base + vop.seconds) * resolution + vop.increment
        before = self._ref_distance - (self._last_ref_time - time)  # FFmpeg's pb_time
        if self._ref_distance <= 0 or not 0 < before < self._ref_distance:
            self.valid = False

    def decoding(self) -> Mpeg4Decoding:
        """A decoder's state at the first packet, for one pass."""
        return Mpeg4Decoding(self.packets, self._packed)

    def _show(self, vop: Vop) -> None:
        vop.position = self._placed
        self._placed += 1
