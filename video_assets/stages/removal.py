"""The `remove_videos` job's work, without Dagster: which videos go, and taking them out.

For each removed video: its rows leave every model's table (one commit per table), its
clip files are deleted, and it is marked missing in the registry. A partition left with no
video loses its stored intermediates (the job then deletes its Dagster partition); a batch
that keeps other videos keeps its files (its next run drops the removed video from them).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lancedb

from video_assets.data_paths import DataPaths
from video_assets.index.committer import delete_videos_locked
from video_assets.index.connection import clip_table_exists
from video_assets.remove import REMOVED, RemovalRefused, is_removed, share_refusal
from video_assets.video_registry import VideoRecord, VideoRegistry


def videos_to_remove(
    registry: VideoRegistry, video_ids: Sequence[str], *, force: bool, max_share: float
) -> list[VideoRecord]:
    """The named videos, or (none named) every video a scan found missing. Refuses unknown ids;
    unless `force`, also videos whose files still exist (the next scan would add them back) and
    more than `max_share` of the registered videos at once (a wrong input folder)."""
    everyone = registry.all()
    live = [v for v in everyone if not is_removed(v)]
    if not video_ids:
        chosen = [v for v in live if v.status == "missing"]
    else:
        known = {v.video_id: v for v in everyone}
        unknown = [v for v in video_ids if v not in known]
        if unknown:
            raise RemovalRefused(f"unknown video id(s) {', '.join(unknown)}: not in the video registry {registry.path}")
        chosen = [known[v] for v in dict.fromkeys(video_ids)]
        present = [v for v in chosen if Path(v.abs_path).exists()]
        if present and not force:
            raise RemovalRefused(
                "these videos' files are still in the input folder, so the next scan would add them "
                "back; delete or move the files first: " + ", ".join(f"{v.video_id} ({v.abs_path})" for v in present)
            )
    refusal = share_refusal(len(chosen), len(live), max_share, registry.path)
    if refusal and not force:
        raise RemovalRefused(refusal)
    return chosen


@dataclass
class RemovalDone:
    video_ids: list[str]
    deleted_rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    emptied_partitions: list[str] = field(default_factory=list)  # partitions with no video left
    deleted_files: list[str] = field(default_factory=list)


def remove_from_index_and_disk(
    db: lancedb.DBConnection,
    models: Sequence[str],
    registry: VideoRegistry,
    paths: DataPaths,
    videos: Sequence[VideoRecord],
    log: Callable[[str], None] = lambda _msg: None,
) -> RemovalDone:
    """Index rows, clip files, registry marks, and the stored files of emptied partitions."""
    done = RemovalDone([v.video_id for v in videos])
    for model in models:
        if not clip_table_exists(db, model):  # nothing indexed for this model yet
            log(f"{model}: no clip table yet, nothing to delete")
            continue
        result, _ = delete_videos_locked(db, model, done.video_ids)
        done.deleted_rows[result.table] = result.deleted
        log(f"{result.table}: deleted {result.deleted} rows (version {result.table_version})")
    for video in videos:
        clip_files = paths.clips_dir / video.video_id
        if clip_files.exists():
            shutil.rmtree(clip_files)
        registry.mark(video.video_id, "missing", error=REMOVED)
    live = set(registry.partition_keys())
    done.emptied_partitions = sorted(
        {v.partition_key for v in videos if v.partition_key and v.partition_key not in live}
    )
    for key in done.emptied_partitions:
        if paths.assets_dir.exists():
            for path in paths.assets_dir.rglob(f"{key}.parquet"):
                path.unlink()
                done.deleted_files.append(str(path))
        thumbs = paths.thumbs_dir / key
        if thumbs.is_dir():
            done.deleted_files += [str(p) for p in thumbs.iterdir()]
            shutil.rmtree(thumbs)
    return done
