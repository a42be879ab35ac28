"""What the keep rule knows about each source video: picture size (source_videos) and registration time (registry)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from video_assets.settings.data_paths import DataPaths


@dataclass(frozen=True)
class SourceFacts:
    """video_id -> pixels (width * height of the probe) and -> registered_at (epoch s); absent = unknown."""

    pixels: dict[str, int] = field(default_factory=dict)
    registered_at: dict[str, float] = field(default_factory=dict)


def read_source_facts(data_dir: Path) -> SourceFacts:
    """From `<data_dir>/registry.sqlite` and the stored `source_videos` partitions; empty where a file is missing
    (a table built without the pipeline, as in the benchmark: then the keep rule falls to duration and clip id)."""
    root = Path(data_dir)
    paths = DataPaths.under(root)
    return SourceFacts(_pixels(paths.assets_dir / "source_videos"), _registered(paths.registry))


def _registered(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    # Read-only URI: never creates the file, never takes a write lock on a registry in use.
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {video_id: float(at) for video_id, at in db.execute("SELECT video_id, registered_at FROM videos")}


def _pixels(folder: Path) -> dict[str, int]:
    pixels: dict[str, int] = {}
    for part in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        table = pq.read_table(part, columns=["video_id", "width", "height"])
        for video_id, w, h in zip(*(table.column(c).to_pylist() for c in ("video_id", "width", "height"))):
            pixels[video_id] = int(w or 0) * int(h or 0)
    return pixels
