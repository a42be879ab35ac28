"""Thumbnail strips of a partition's clips, made from the frames the frames stage already decoded.

One small JPEG per clip: a few of its frames side by side, scaled to a fixed height
(never up). They are written beside the frames asset and shown in the Dagster UI as
Markdown with `data:` URIs, because the webserver serves no local files; the Markdown
is kept under a size budget so a long video cannot bloat the event log.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from video_assets.media.frame_codec import encode_jpeg
from video_assets.media.frames import ClipFrames

STRIP_FRAMES = 3  # frames per clip in its strip
STRIP_HEIGHT = 96  # pixels; smaller frames keep their own height
STRIP_QUALITY = 70
MARKDOWN_BUDGET = 64_000  # characters per partition (base64 images inside); with a full clip table ~100 kB


def strip_frames(frames: np.ndarray, count: int = STRIP_FRAMES, height: int = STRIP_HEIGHT) -> np.ndarray:
    """Up to `count` evenly spaced frames of a (N, H, W, 3) uint8 clip, scaled to `height`
    (at most the frames' own) and laid side by side: (h, count * w, 3)."""
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ValueError(f"a strip needs (N, H, W, 3) frames with N >= 1, got {frames.shape}")
    n, h, w = frames.shape[:3]
    picks = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
    out_h = min(height, h)
    out_w = max(1, round(w * out_h / h))
    scaled = [_scale(frames[i], out_w, out_h) for i in picks]
    return np.concatenate(scaled, axis=1)


def _scale(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[:2] == (height, width):
        return frame
    # Every k-th pixel first, down to twice the height or more: handing a whole 720p frame to
    # PyAV costs ~16 ms, the strided copy ~3 ms, and libswscale still averages the last 2x.
    step = max(1, frame.shape[0] // (2 * height))
    # libswscale through PyAV: the decoder's own scaler, no extra imaging library.
    picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[::step, ::step]), format="rgb24")
    return picture.reformat(width=width, height=height, format="rgb24").to_ndarray()


@dataclass
class ThumbnailStrips:
    """Collects one JPEG strip per clip while the frames stage writes the clips."""

    count: int = STRIP_FRAMES
    height: int = STRIP_HEIGHT
    quality: int = STRIP_QUALITY
    jpegs: dict[str, bytes] = field(default_factory=dict)  # clip_id -> JPEG, in clip order

    def add(self, clip_id: str, frames: Mapping[str, ClipFrames]) -> None:
        """The strip of one clip, from the signature with the most frames (the widest view of it)."""
        richest = max(frames.values(), key=lambda f: len(f.frames))
        strip = strip_frames(richest.frames, self.count, self.height)
        self.jpegs[clip_id] = encode_jpeg(strip[None], quality=self.quality)[0]


def write_strips(jpegs: Mapping[str, bytes], folder: Path) -> Path:
    """`folder/<clip_id>.jpg` for each strip; the folder's earlier strips go (clips of a rerun
    may differ). Written to a sibling first and swapped in, so a crash leaves one whole set."""
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for clip_id, data in jpegs.items():
        (staging / f"{clip_id}.jpg").write_bytes(data)
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


@dataclass(frozen=True)
class StripsMarkdown:
    text: str
    shown: int  # clips whose strip is in the text
    total: int


def strips_markdown(
    labelled: Sequence[tuple[str, bytes]], *, budget: int = MARKDOWN_BUDGET, folder: Path | None = None
) -> StripsMarkdown:
    """A Markdown table, one row per clip: its label (span) and its strip as a `data:` image.
    Rows stop before the text would pass `budget` characters; a last line says how many
    clips are left out and where all the JPEGs are."""
    lines = ["| clip | frames |", "|---|---|"]
    size = sum(len(line) + 1 for line in lines)
    shown = 0
    for label, jpeg in labelled:
        row = f"| {label} | ![{label}]({data_uri(jpeg)}) |"
        if size + len(row) + 1 > budget:
            break
        lines.append(row)
        size += len(row) + 1
        shown += 1
    if shown < len(labelled):
        where = f" (every strip is in `{folder}`)" if folder is not None else ""
        lines.append(f"\n{len(labelled) - shown} more clip(s) not shown here{where}.")
    return StripsMarkdown("\n".join(lines), shown, len(labelled))
