"""Reading bitstream headers without decoding (MPEG-4 Part 2 VOP/VOL, H.264 SPS/PPS/slice headers):
where they start (`start_codes`), then big-endian bit reads over their first bytes (`BitReader`:
one integer holds the bytes, each read shifts)."""

from __future__ import annotations

START_CODE = b"\x00\x00\x01"


def start_codes(data: bytes) -> list[int]:
    """Offsets of every 00 00 01 start code in ``data`` (two cannot overlap)."""
    found, at = [], data.find(START_CODE)
    while at >= 0:
        found.append(at)
        at = data.find(START_CODE, at + 3)
    return found


class BitReader:
    """Fixed-width reads, most significant bit first. `cut_short` is raised when the bytes end
    before a field does (a subclass names its own: the caller tells a cut header from a bad one)."""

    cut_short: type[Exception] = ValueError

    def __init__(self, data: bytes) -> None:
        self.value, self.left = int.from_bytes(data, "big"), 8 * len(data)

    def read(self, n: int) -> int:
        if n > self.left:
            raise self.cut_short("header cut short")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ones(self) -> int:
        """Count the 1 bits up to the next 0 bit, which is read too."""
        count = 0
        while self.read(1):
            count += 1
        return count
