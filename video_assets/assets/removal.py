"""remove_videos: the explicit way a video leaves the index (never silently)."""


import dagster as dg

from video_assets.index.commit import delete_videos
from video_assets.index.connection import clip_table_exists
from video_assets.resources.lancedb import LanceDBResource
from video_assets.resources.storage import StorageResource


class RemoveVideosConfig(dg.Config):
    # Empty = every video the sensor reported missing.
    video_ids: list[str] = []


def build_removal_job(models: list[str]) -> dg.JobDefinition:
    @dg.op
    def remove_videos_op(
        context: dg.OpExecutionContext, config: RemoveVideosConfig, storage: StorageResource, lancedb: LanceDBResource
    ) -> None:
        registry = storage.registry()
        ids = config.video_ids or [v.video_id for v in registry.all() if v.status == "missing"]
        if not ids:
            context.log.info("nothing to remove")
            return
        db = lancedb.connect()
        for model in models:
            if not clip_table_exists(db, model):  # nothing indexed for this model yet
                continue
            result = delete_videos(db, model, ids)
            context.log.info(f"{result.table}: deleted {result.deleted} rows (version {result.table_version})")
        for video_id in ids:
            registry.mark(video_id, "missing", error="removed by remove_videos")
        context.add_output_metadata({"removed_videos": ids})

    @dg.job(name="remove_videos", description="Delete the index rows of removed videos, one commit per table.")
    def remove_videos() -> None:
        remove_videos_op()

    return remove_videos
