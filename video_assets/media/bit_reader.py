"""Big-endian bit reads over the few bytes of a bitstream header (MPEG-4 Part 2 VOP/VOL, H.264
SPS/PPS/slice headers), without decoding: one integer holds the bytes, each read shifts."""

from __future__ import annotations


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
