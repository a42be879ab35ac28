"""Failed runs started from the UI (or the sensor) reach the ledger too.

`video-assets run` settles each partition itself after its run; a run launched from
the Dagster UI has no such caller, so this sensor does it: every video of a failed
partition that its steps did not settle is marked failed with the step's error,
and shows in the next `run`'s summary (which retries it).
"""

# No `from __future__ import annotations`: Dagster rejects a `context` annotation it cannot resolve.

from collections.abc import Sequence

import dagster as dg

from video_assets.catalog.ledger import VideoLedger
from video_assets.catalog.partition_ledger import close_partition
from video_assets.orchestration.resources.storage import StorageResource


def step_errors(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """``step: message`` of each step that failed in the run, in order."""
    from video_assets.orchestration.errors import step_error_text

    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return [
        f"{r.dagster_event.step_key}: {step_error_text(r.dagster_event.step_failure_data.error)}"
        for r in records
        if r.dagster_event is not None
    ]


def build_failed_run_sensor(pipeline: Sequence[dg.AssetsDefinition], embed_job: str) -> dg.SensorDefinition:
    """The sensor over every failed run of this code location that ran a step of the pipeline: the
    embed job's runs (`video-assets run`, the video sensor) and the UI's materializations and
    backfills (`__ASSET_JOB`) alike; curation-only runs (clip filters, duplicates) are not about
    indexing and leave the ledger alone."""
    keys = {key for asset in pipeline for key in asset.keys}

    @dg.run_failure_sensor(
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=10,
        description="Marks the videos of a failed pipeline partition (embed_videos, or a UI materialization "
        "or backfill) failed in the video ledger, with the failing step's error, so `video-assets run` "
        "lists and retries them.",
    )
    def failed_videos_to_ledger(context: dg.RunFailureSensorContext, storage: StorageResource) -> None:
        run = context.dagster_run
        # The embed job's runs carry no selection (the job's own assets); a UI run names its assets.
        if run.job_name != embed_job and not (set(run.asset_selection or ()) & keys):
            return
        key = context.dagster_run.tags.get("dagster/partition")
        if not key:
            return
        errors = step_errors(context.instance, context.dagster_run.run_id) or [context.failure_event.message or ""]
        ledger = VideoLedger(storage.registry())
        try:
            accounts = close_partition(ledger, key, errors)
        except KeyError:  # the partition left the registry (removed) since the run
            context.log.warning(f"partition {key} is no longer in the registry; nothing to record")
            return
        failed = [a.rel_path for a in accounts if a.status == "failed"]
        context.log.info(f"partition {key}: {len(failed)} video(s) recorded failed: {failed}")

    return failed_videos_to_ledger
