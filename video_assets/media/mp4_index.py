"""Is the index (``moov`` box) of an MP4/MOV file there? A walk over its top-level boxes.

An MP4 written without "faststart" keeps its index at the END of the file, after the
media data. A download cut short, or a recording still being written, then has every
frame but no index: FFmpeg either refuses to open it ("Invalid data found") or, when
the index is cut in the middle, opens it with a lone "data" stream. Both are true and
unhelpful; this walk names the real problem. It reads only box headers (8-16 bytes
each), never the media data, so it is cheap on any file size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Box types that may open an ISO-BMFF / QuickTime file: a file starting with another one
# is not treated as an MP4 (a text file read as box headers gives nonsense types).
LEADING_BOX_TYPES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp"})
# Where FFmpeg's demuxer name says the file was read as MP4/MOV.
MOV_FORMAT_PREFIX = "mov,"
# Top-level boxes walked at most: real files have a handful; a long walk is damage.
MAX_BOXES = 10_000
TRUNCATED_HINT = "the file is probably truncated or still being written"


@dataclass(frozen=True)
class Box:
    kind: str  # the four-character type, e.g. "moov"
    offset: int  # where the box header starts
    size: int  # the size the header declares, header included

    @property
    def end(self) -> int:
        return self.offset + self.size


def top_level_boxes(path: str | Path) -> list[Box]:
    """The top-level boxes of ``path`` as their headers declare them, in file order.

    The walk stops at a header that makes no sense (size below the header's own) and
    after the first box that runs past the end of the file (its ``end`` tells how far).
    """
    file = Path(path)
    file_size = file.stat().st_size
    boxes: list[Box] = []
    with file.open("rb") as f:
        offset = 0
        while offset + 8 <= file_size and len(boxes) < MAX_BOXES:
            f.seek(offset)
            header = f.read(16)
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            header_size = 8
            if size == 1:  # 64-bit "largesize" follows the type
                if len(header) < 16:
                    break
                size, header_size = int.from_bytes(header[8:16], "big"), 16
            elif size == 0:  # "to the end of the file": how an unfinished mdat is written
                size = file_size - offset
            if size < header_size:
                break
            boxes.append(Box(kind.decode("latin-1"), offset, size))
            if offset + size > file_size:
                break
            offset += size
    return boxes


def looks_like_mp4(boxes: list[Box]) -> bool:
    """The file opens with a box an MP4/MOV file can open with."""
    return bool(boxes) and boxes[0].kind.encode("latin-1") in LEADING_BOX_TYPES


def missing_index(path: str | Path) -> str | None:
    """Why an MP4/MOV file has no usable index, in words for the user; None when its
    ``moov`` box is whole or the file is no MP4/MOV at all."""
    boxes = top_level_boxes(path)
    if not looks_like_mp4(boxes):
        return None
    file_size = Path(path).stat().st_size
    moov = next((b for b in boxes if b.kind == "moov"), None)
    if moov is not None and moov.end <= file_size:
        return None
    if moov is not None:
        where = f"cut off (it needs {moov.end} bytes, the file has {file_size})"
    elif boxes[-1].end > file_size:
        where = f"missing (the file ends inside its '{boxes[-1].kind}' box, at byte {file_size} of {boxes[-1].end})"
    else:
        where = "missing"
    return f"the MP4 index (moov box) is {where}; {TRUNCATED_HINT}"
