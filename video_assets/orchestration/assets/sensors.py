"""The input-folder sensor: new files become partitions and runs; removed files are reported.

The registry is the state; the cursor is the registry's latest change number that
this sensor has acted on. A tick adds every live partition the instance lacks
(so a tick that failed half-way is repaired by the next) and requests one run per
partition whose videos changed since the cursor: new, changed in place, or
restored. The run key names the change, so a re-evaluated tick never runs twice.
"""

# No `from __future__ import annotations`: Dagster rejects a `context` annotation it cannot resolve.

import json

import dagster as dg

from video_assets.catalog.discovery import chunked, scan
from video_assets.orchestration.assets.partitions import videos_partitions
from video_assets.orchestration.resources.storage import StorageResource
from video_assets.settings.config import Settings

# A partial batch is sealed once its oldest video has waited this long.
BATCH_MAX_AGE_S = 300.0


def _cursor_seq(cursor: str | None) -> int:
    # No cursor yet (a new sensor): start from the beginning.
    return int(json.loads(cursor)["seq"]) if cursor else 0


def build_video_sensor(job, settings: Settings) -> dg.SensorDefinition:  # an asset job (resolved at load)
    @dg.sensor(
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Every 30 s: registers new, changed and restored videos under {settings.input_dir}, adds their "
        "partitions and requests one run per partition; reports videos gone from the folder.",
    )
    def new_videos_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
        registry = storage.registry()
        result = scan(settings, registry, seal_partial=False, max_age_s=BATCH_MAX_AGE_S)
        for video in result.missing:
            context.log.warning(
                f"video {video.rel_path} ({video.video_id}, partition {video.partition_key}) is gone from the "
                "input folder; its data stays until the remove_videos job is run for it"
            )
        seq = _cursor_seq(context.cursor)
        changed, latest = registry.pending_changes(seq)
        if latest < seq:  # the registry was replaced (data dir wiped): everything is new again
            context.log.warning(f"registry change number {latest} is behind the cursor {seq}; rescanning all")
            changed, latest = registry.pending_changes(0)
        known = set(context.instance.get_dynamic_partitions(videos_partitions.name))
        to_add = [k for k in registry.partition_keys() if k not in known]
        cursor = json.dumps({"seq": latest})
        if not to_add and not changed:
            gone = (
                f"; {len(result.missing)} video(s) gone from the input folder (see the log)" if result.missing else ""
            )
            return dg.SensorResult(skip_reason=f"no new or changed videos{gone}", cursor=cursor)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=k, run_key=f"{k}@{n}") for k, n in changed.items()],
            dynamic_partitions_requests=[videos_partitions.build_add_request(chunk) for chunk in chunked(to_add)],
            cursor=cursor,
        )

    return new_videos_sensor
