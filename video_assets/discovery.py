"""Find new videos, register them, seal partitions: shared by the sensor and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from video_assets.config import Settings
from video_assets.registry import VideoRecord, VideoRegistry, discover

# SQLite instances fail on large single add_dynamic_partitions calls (dagster-io/dagster#16260).
MAX_KEYS_PER_REQUEST = 500


@dataclass(frozen=True)
class ScanResult:
    new_videos: list[str]
    new_partitions: list[str]
    missing: list[VideoRecord]


def scan(settings: Settings, registry: VideoRegistry, *, seal_partial: bool, max_age_s: float | None = None) -> ScanResult:
    files = discover(settings.input_dir, settings.video_extensions)
    new_videos = registry.register(files)
    missing = registry.mark_missing(f.rel_path for f in files)
    keys = registry.seal_partitions(settings.videos_per_partition, seal_partial=seal_partial, max_age_s=max_age_s)
    return ScanResult(new_videos, keys, missing)


def chunked(keys: list[str], size: int = MAX_KEYS_PER_REQUEST) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]
