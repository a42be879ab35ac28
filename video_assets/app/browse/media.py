"""Which file a media URL may serve: a registered video's source file, or a clip's thumbnail strip.

Nothing else under (or outside) the data directory is reachable: a video is looked up by its id in
the registry, and a thumbnail must be a plain file name inside that video's partition folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from video_assets.catalog.registry import VideoRecord, VideoRegistry
from video_assets.curation.query import existing_index
from video_assets.settings.config import Settings


def open_registry(settings: Settings) -> VideoRegistry:
    """The data dir's registry; FileNotFoundError (the CLI's message) for a missing data dir or registry,
    instead of creating either."""
    existing_index(settings)  # names a missing data dir as search does
    path = settings.paths.registry
    if not path.is_file():
        raise FileNotFoundError(
            f"no video registry at {path}: data directory {settings.data_dir} was not written by "
            f"`video-assets run`; run `video-assets run --input VIDEOS --output {settings.data_dir}` first"
        )
    return registry_at(path)


@lru_cache(maxsize=16)
def registry_at(path: Path) -> VideoRegistry:
    """One VideoRegistry per file for the server's life: opening one takes the write lock (it migrates the
    schema), which a request for each thumbnail must not do; its reads open their own short connections."""
    return VideoRegistry(path)


def registered_video(settings: Settings, video_id: str) -> VideoRecord:
    """The registry's record of `video_id` (KeyError naming the registry when unknown)."""
    return open_registry(settings).get(video_id)


def video_file(settings: Settings, video_id: str) -> Path:
    """The source file of a registered video; FileNotFoundError when it is gone from disk."""
    record = registered_video(settings, video_id)
    path = Path(record.abs_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the source file of video {video_id!r} is gone (status {record.status})")
    return path


def thumbnail_file(settings: Settings, video_id: str, clip_id: str) -> Path:
    """`<thumbs>/<partition>/<clip_id>.jpg` of a clip of a registered video (the frames asset writes it)."""
    if not clip_id or Path(clip_id).name != clip_id or clip_id.startswith("."):
        raise ValueError(f"not a clip id: {clip_id!r}")
    record = registered_video(settings, video_id)
    if record.partition_key is None:
        raise FileNotFoundError(f"video {video_id!r} has no partition yet: no thumbnails")
    path = settings.paths.thumbs_dir / record.partition_key / f"{clip_id}.jpg"
    if not path.is_file():
        raise FileNotFoundError(f"no thumbnail for clip {clip_id!r} at {path} (the frames asset writes them)")
    return path


def media_urls(video_id: str, clip_id: str) -> dict[str, str]:
    """The URLs the page shows a clip with: its thumbnail strip and its source video."""
    return {
        "thumb_url": f"/media/thumb/{quote(video_id, safe='')}/{quote(clip_id, safe='')}.jpg",
        "video_url": f"/media/video/{quote(video_id, safe='')}",
    }
