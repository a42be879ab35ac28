"""remove_videos: the explicit way a video leaves the index (never silently).

For each removed video: its rows leave every model's table (one commit per
table), its clip files are deleted, and it is marked missing in the registry. A
partition left with no video loses its stored intermediates and its Dagster
partition; a batch that keeps other videos keeps its files (its next run drops the
removed video from them). Only videos whose files are gone can be removed (the next scan would
add a present file straight back), and at most `MAX_REMOVE_SHARE` of the registered videos at
once, so a wrong input folder cannot wipe the index; `force` lifts both (video_assets/remove.py).
"""

# No `from __future__ import annotations`: Dagster rejects a `context` annotation it cannot resolve.

import shutil
from pathlib import Path

import dagster as dg

from video_assets.assets.partitions import videos_partitions
from video_assets.index.committer import delete_videos_locked
from video_assets.index.connection import clip_table_exists
from video_assets.registry import VideoRecord, VideoRegistry
from video_assets.remove import MAX_REMOVE_SHARE, REMOVED, is_removed, share_refusal
from video_assets.resources.lancedb import LanceDBResource
from video_assets.resources.storage import StorageResource

class RemoveVideosConfig(dg.Config):
    # Empty = every video the sensor (or a scan) reported missing.
    video_ids: list[str] = []
    # Guards against a wrong input folder (remove.py): refuse to take more than this share of the
    # registered videos at once, or videos whose files still exist, unless forced.
    force: bool = False
    max_share: float = MAX_REMOVE_SHARE


def _videos_to_remove(registry: VideoRegistry, config: RemoveVideosConfig) -> list[VideoRecord]:
    everyone = registry.all()
    live = [v for v in everyone if not is_removed(v)]
    if not config.video_ids:
        chosen = [v for v in live if v.status == "missing"]
    else:
        known = {v.video_id: v for v in everyone}
        unknown = [v for v in config.video_ids if v not in known]
        if unknown:
            raise dg.Failure(
                description=f"unknown video id(s) {', '.join(unknown)}: not in the video registry {registry.path}"
            )
        chosen = [known[v] for v in dict.fromkeys(config.video_ids)]
        present = [v for v in chosen if Path(v.abs_path).exists()]
        if present and not config.force:
            raise dg.Failure(
                description="these videos' files are still in the input folder, so the next scan would add them "
                "back; delete or move the files first: " + ", ".join(f"{v.video_id} ({v.abs_path})" for v in present)
            )
    refusal = share_refusal(len(chosen), len(live), config.max_share, registry.path)
    if refusal and not config.force:
        raise dg.Failure(description=refusal)
    return chosen


def _delete_partition_files(storage: StorageResource, partition_key: str) -> list[str]:
    removed = []
    if storage.assets_dir.exists():
        for path in storage.assets_dir.rglob(f"{partition_key}.parquet"):
            path.unlink()
            removed.append(str(path))
    return removed


def build_removal_job(models: list[str]) -> dg.JobDefinition:
    @dg.op
    def remove_videos_op(
        context: dg.OpExecutionContext, config: RemoveVideosConfig, storage: StorageResource, lancedb: LanceDBResource
    ) -> None:
        registry = storage.registry()
        videos = _videos_to_remove(registry, config)
        if not videos:
            context.log.info("nothing to remove: no video is missing")
            return
        ids = [v.video_id for v in videos]
        db = lancedb.connect()
        deleted_rows = {}
        for model in models:
            if not clip_table_exists(db, model):  # nothing indexed for this model yet
                context.log.info(f"{model}: no clip table yet, nothing to delete")
                continue
            result, _ = delete_videos_locked(db, model, ids)
            deleted_rows[result.table] = result.deleted
            context.log.info(f"{result.table}: deleted {result.deleted} rows (version {result.table_version})")
        for video in videos:
            clip_files = storage.clips_dir / video.video_id
            if clip_files.exists():
                shutil.rmtree(clip_files)
            registry.mark(video.video_id, "missing", error=REMOVED)
        # A partition whose every video is gone goes too: its files and its Dagster partition.
        live = set(registry.partition_keys())
        emptied = sorted({v.partition_key for v in videos if v.partition_key and v.partition_key not in live})
        deleted_files = []
        for key in emptied:
            deleted_files += _delete_partition_files(storage, key)
            if context.instance.has_dynamic_partition(videos_partitions.name, key):
                context.instance.delete_dynamic_partition(videos_partitions.name, key)
            context.log.info(f"partition {key} removed: no video left in it")
        context.add_output_metadata(
            {
                "removed_videos": ids,
                "deleted_rows": deleted_rows,
                "removed_partitions": emptied,
                "deleted_files": len(deleted_files),
            }
        )

    @dg.job(
        name="remove_videos",
        description="Remove deleted videos: index rows (one commit per table), clip files, emptied partitions.",
    )
    def remove_videos() -> None:
        remove_videos_op()

    return remove_videos
