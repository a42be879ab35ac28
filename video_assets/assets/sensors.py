"""The input-folder sensor: new files become partitions and runs; removed files are reported."""


import json

import dagster as dg

from video_assets.assets.partitions import videos_partitions
from video_assets.discovery import chunked, scan
from video_assets.resources.settings import SettingsResource
from video_assets.resources.storage import StorageResource

# A partial batch is sealed once its oldest video has waited this long.
BATCH_MAX_AGE_S = 300.0


def build_video_sensor(job) -> dg.SensorDefinition:  # an asset job (resolved at load)
    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED)
    def new_videos_sensor(
        context: dg.SensorEvaluationContext, storage: StorageResource, settings: SettingsResource
    ) -> dg.SensorResult:
        result = scan(settings.settings, storage.registry(), seal_partial=False, max_age_s=BATCH_MAX_AGE_S)
        for video in result.missing:
            context.log.warning(
                f"video {video.rel_path} ({video.video_id}, partition {video.partition_key}) is gone from the "
                "input folder; its data stays until the remove_videos job is run for it"
            )
        cursor = json.loads(context.cursor) if context.cursor else {"scans": 0, "partitions": 0}
        cursor = {"scans": cursor["scans"] + 1, "partitions": cursor["partitions"] + len(result.new_partitions)}
        if not result.new_partitions:
            return dg.SensorResult(skip_reason="no new videos", cursor=json.dumps(cursor))
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=k, run_key=k) for k in result.new_partitions],
            dynamic_partitions_requests=[
                videos_partitions.build_add_request(chunk) for chunk in chunked(result.new_partitions)
            ],
            cursor=json.dumps(cursor),
        )

    return new_videos_sensor
