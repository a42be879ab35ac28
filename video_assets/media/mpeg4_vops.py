"""MPEG-4 Part 2 (Xvid, DivX) pictures named from their bitstream headers, without decoding.

A picture is a VOP: start code 00 00 01 B6, then 2 bits of vop_coding_type (I, P, B or S,
the last a P with global motion). The first VOP of a packet tells whether a decoder can
start there: an I-VOP refers to nothing, and every later P, S or B of the stream refers
only to the I-VOP and what follows it (MPEG-4 Part 2 keeps one previous reference, unlike
H.264), so packets before it can be left out with no change to any picture after it.
"""

from __future__ import annotations

VOP_START = b"\x00\x00\x01\xb6"
VOP_TYPES = "IPBS"


def vop_types(data: bytes) -> list[str]:
    """The coding type ("I", "P", "B", "S") of each VOP in one packet, in bitstream order."""
    types = []
    at = data.find(VOP_START)
    while 0 <= at < len(data) - 4:
        types.append(VOP_TYPES[data[at + 4] >> 6])
        at = data.find(VOP_START, at + 4)
    return types


def starts_intra(data: bytes) -> bool:
    """Whether the packet's first VOP is an I-VOP (a decoder may start at this packet)."""
    types = vop_types(data)
    return bool(types) and types[0] == "I"
