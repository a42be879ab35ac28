"""MPEG-4 Part 2 (Xvid, DivX) pictures named from their bitstream headers, without decoding.

A picture is a VOP: start code 00 00 01 B6, then 2 bits of vop_coding_type (I, P, B or S,
the last a P with global motion). The first VOP of a packet tells whether a decoder can
start there: an I-VOP refers to nothing, and every later P, S or B of the stream refers
only to the I-VOP and what follows it (MPEG-4 Part 2 keeps one previous reference, unlike
H.264), so packets before it can be left out with no change to any picture after it.
"""

from __future__ import annotations

from video_assets.media.bit_reader import BitReader, start_codes

VOP_START = b"\x00\x00\x01\xb6"
VOP_TYPES = "IPBS"


def vop_starts(data: bytes) -> list[int]:
    """Byte offsets of the VOPs of one packet that have a byte of header after their start code."""
    return [at for at in start_codes(data) if at + 4 < len(data) and data[at + 3] == VOP_START[3]]


def vop_types(data: bytes) -> list[str]:
    """The coding type ("I", "P", "B", "S") of each VOP in one packet, in bitstream order."""
    return [VOP_TYPES[data[at + 4] >> 6] for at in vop_starts(data)]


def starts_intra(data: bytes) -> bool:
    """Whether the packet's first VOP is an I-VOP (a decoder may start at this packet)."""
    types = vop_types(data)
    return bool(types) and types[0] == "I"


def time_increment_bits(headers: bytes) -> int | None:
    """Width of vop_time_increment, from the first VOL header in ``headers`` (None: no VOL)."""
    resolution = time_resolution(headers)
    return None if resolution is None else increment_bits(resolution)


def increment_bits(resolution: int) -> int:
    """Width of vop_time_increment for ``resolution`` ticks a second (ISO/IEC 14496-2 6.3.3)."""
    return max(1, (resolution - 1).bit_length())


def time_resolution(headers: bytes) -> int | None:
    """vop_time_increment_resolution (ticks a second) of the first VOL header in ``headers``
    (None: no VOL). The VOL fields before it, as ISO/IEC 14496-2 6.2.3 orders them.
    """
    at = next((i for i in start_codes(headers) if i + 3 < len(headers) and 0x20 <= headers[i + 3] <= 0x2F), -1)
    if at < 0:
        return None
    bits = BitReader(headers[at + 4 : at + 24])
    bits.read(1 + 8)  # random_accessible_vol, video_object_type_indication
    verid = 1
    if bits.read(1):  # is_object_layer_identifier
        verid = bits.read(4)
        bits.read(3)
    if bits.read(4) == 15:  # aspect_ratio_info: extended PAR
        bits.read(16)
    if bits.read(1):  # vol_control_parameters
        bits.read(3)  # chroma_format, low_delay
        if bits.read(1):  # vbv_parameters
            bits.read(79)
    if bits.read(2) == 3 and verid != 1:  # video_object_layer_shape grayscale
        bits.read(4)
    bits.read(1)  # marker
    return bits.read(16)


def coded_vops(data: bytes, increment_bits: int) -> list[tuple[str, bool, int]]:
    """(coding type, vop_coded, byte offset) of each VOP in one packet; a VOP with vop_coded 0
    ("not coded": a dropped frame or DivX's placeholder after packed B-frames) gives no picture."""
    vops = []
    for at in vop_starts(data):
        bits = BitReader(data[at + 4 : at + 16])
        kind = VOP_TYPES[bits.read(2)]
        try:
            bits.ones()  # modulo_time_base
            bits.read(1 + increment_bits + 1)  # marker, vop_time_increment, marker
            coded = bool(bits.read(1))
        except ValueError:
            coded = True  # a header cut short: let the decoder say what it is
        vops.append((kind, coded, at))
    return vops


def vop_time(data: bytes, start: int, increment_bits: int) -> tuple[int, int]:
    """(modulo_time_base: seconds since the previous reference, vop_time_increment) of the
    VOP at byte ``start``; (0, 0) when its header is cut short."""
    bits = BitReader(data[start + 4 : start + 16])
    try:
        bits.read(2)  # vop_coding_type
        seconds = bits.ones()
        bits.read(1)  # marker
        return seconds, bits.read(increment_bits)
    except ValueError:
        return 0, 0
