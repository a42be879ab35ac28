"""Open a file with a decoder backend: PyAV always, decord when its wheel is installed.

Apart from decode.py (the backends' shared types and `Decoder` base) so that the backends
import decode.py and this module imports them, without a cycle.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from video_assets.media.decode import BACKENDS, Decoder


@cache
def _decord_importable() -> bool:
    try:
        importlib.import_module("decord")
    except ImportError:
        return False
    return True


def available_backends() -> tuple[str, ...]:
    """Backends usable here: always "pyav"; "decord" when its wheel is installed."""
    return tuple(b for b in BACKENDS if b == "pyav" or _decord_importable())


def open_decoder(path: str | Path, *, backend: str = "pyav", num_threads: int = 0) -> Decoder:
    """Open ``path`` for decoding. Raises `VideoReadError` when it cannot be opened at all.

    ``num_threads`` is the decoder's thread count; 0 lets the library pick (all cores).
    """
    if num_threads < 0:
        raise ValueError(f"num_threads must be >= 0, got {num_threads}")
    if backend == "pyav":
        from video_assets.media.decode_pyav import PyAVDecoder

        return PyAVDecoder(str(path), num_threads)
    if backend == "decord":
        if not _decord_importable():
            raise ValueError("backend 'decord' requested but decord is not installed (pip install decord)")
        from video_assets.media.decode_decord import DecordDecoder

        return DecordDecoder(str(path), num_threads)
    raise ValueError(f"unknown decode backend {backend!r}; choose one of {BACKENDS}")
