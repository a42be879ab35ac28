"""File names as printed: one line, valid UTF-8, whatever bytes the name holds.

A name with a newline printed raw forges a status line ("...\\nFAILED other.mp4: ..."); a name
that is not UTF-8 cannot be written to a terminal, SQLite or JSON. Control characters are
shown as Python escapes (\\n, \\t, \\x1b) and undecodable bytes as \\xNN, as `repr` does, so
an ordinary name prints unchanged.
"""

from __future__ import annotations

import unicodedata


def escape_name(text: str) -> str:
    """`text` with control characters, lone surrogates (undecodable bytes) and line separators escaped."""
    if text.isprintable():
        return text
    return "".join(ch if _plain(ch) else _escaped(ch) for ch in text)


def _plain(ch: str) -> bool:
    return ch.isprintable() or (ch == " ")


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    if unicodedata.category(ch) in ("Zs",):  # other spaces (no-break ...) print as they are
        return ch
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
