"""remove_videos: the explicit way a video leaves the index (never silently); thin.

What goes and how is `stages/removal.py`: index rows, clip files, registry marks and
the files of emptied partitions; this job adds the Dagster side (deleting emptied
partitions) and the metadata. Only videos whose files are gone can be removed (the
next scan would add a present file straight back), and at most `MAX_REMOVE_SHARE` of
the registered videos at once, so a wrong input folder cannot wipe the index; `force`
lifts both (stages/removal.py).
"""

# No `from __future__ import annotations`: Dagster rejects a `context` annotation it cannot resolve.

import dagster as dg

from video_assets.orchestration.assets.partitions import videos_partitions
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource
from video_assets.stages.removal import MAX_REMOVE_SHARE, RemovalRefused, remove_from_index_and_disk, videos_to_remove


class RemoveVideosConfig(dg.Config):
    # Empty = every video the sensor (or a scan) reported missing.
    video_ids: list[str] = []
    # Guards against a wrong input folder (stages/removal.py): refuse to take more than this share of the
    # registered videos at once, or videos whose files still exist, unless forced.
    force: bool = False
    max_share: float = MAX_REMOVE_SHARE


def build_removal_job(models: list[str]) -> dg.JobDefinition:
    @dg.op
    def remove_videos_op(
        context: dg.OpExecutionContext, config: RemoveVideosConfig, storage: StorageResource, lancedb: LanceDBResource
    ) -> None:
        registry = storage.registry()
        try:
            videos = videos_to_remove(registry, config.video_ids, force=config.force, max_share=config.max_share)
        except RemovalRefused as refused:
            raise dg.Failure(description=str(refused)) from None
        if not videos:
            context.log.info("nothing to remove: no video is missing")
            return
        done = remove_from_index_and_disk(lancedb.connect(), models, registry, storage.paths, videos, context.log.info)
        # A partition whose every video is gone goes too: its files (above) and its Dagster partition.
        for key in done.emptied_partitions:
            if context.instance.has_dynamic_partition(videos_partitions.name, key):
                context.instance.delete_dynamic_partition(videos_partitions.name, key)
            context.log.info(f"partition {key} removed: no video left in it")
        context.add_output_metadata(
            {
                "removed_videos": done.video_ids,
                "deleted_rows": done.deleted_rows,
                "removed_partitions": done.emptied_partitions,
                "deleted_files": len(done.deleted_files),
            }
        )

    @dg.job(
        name="remove_videos",
        description="Remove deleted videos: index rows (one commit per table), clip files, emptied partitions.",
    )
    def remove_videos() -> None:
        remove_videos_op()

    return remove_videos
