"""The one error type for bad video input: it always names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class VideoReadError(ValueError):
    """A video could not be read (empty, truncated, not a video, no video stream, ...)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
