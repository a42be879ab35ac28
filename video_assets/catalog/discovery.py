"""Find new videos, register them, seal partitions: shared by the sensor and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from video_assets.catalog.input_walk import SkippedInput, walk_inputs
from video_assets.catalog.registry import VideoRecord, VideoRegistry
from video_assets.settings.config import Settings

# SQLite instances fail on large single add_dynamic_partitions calls (dagster-io/dagster#16260).
MAX_KEYS_PER_REQUEST = 500


@dataclass(frozen=True)
class ScanResult:
    new_videos: list[str]  # ids registered by this scan
    new_partitions: list[str]  # keys sealed by this scan
    missing: list[VideoRecord]  # videos found gone by this scan (reported once)
    skipped: list[SkippedInput]  # inputs that are not videos we can read, with the reason
    other_extensions: dict[str, int]  # files ignored for their extension, counted per extension


def scan(
    settings: Settings, registry: VideoRegistry, *, seal_partial: bool, max_age_s: float | None = None
) -> ScanResult:
    """Register the input folder's files, mark vanished ones missing, seal full (or due) batches."""
    walk = walk_inputs(
        settings.input_dir,
        settings.video_extensions,
        exclude=[settings.data_dir],
        follow_outside_links=settings.follow_outside_links,
    )
    new_videos = registry.register(walk.files)
    missing = registry.mark_missing(f.rel_path for f in walk.files)
    keys = registry.seal_partitions(settings.videos_per_partition, seal_partial=seal_partial, max_age_s=max_age_s)
    return ScanResult(new_videos, keys, missing, walk.skipped, dict(walk.other_extensions))


def chunked(keys: list[str], size: int | None = None) -> list[list[str]]:
    """``keys`` in chunks of at most ``size`` (default `MAX_KEYS_PER_REQUEST`, read at call time)."""
    size = MAX_KEYS_PER_REQUEST if size is None else size
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [keys[i : i + size] for i in range(0, len(keys), size)]
