"""The curation sensor: keeps `<model>_duplicates` and `<model>_clip_filters` up to date, one video per run.

Per model and tick, three rules:

1. duplicates: the clip table's version differs from the one the latest duplicates run
   read and has not moved for `settle_after_seconds` (a backfill is compared once, at
   its end, not after every video) -> one run of `<model>_duplicates` (incremental:
   only the new clips are compared with the rest).
2. new videos: a partition whose `<model>_clip_index` landed after its latest filters
   run, once a duplicates run newer than that landing exists -> that partition's
   `<model>_clip_filters` (so a new video's filters see its duplicates the first time).
3. changed duplicates: after a new duplicates run, the partitions whose stored duplicate
   flags differ from the new file's -> those partitions' filters again. Only the videos
   whose clips changed group or kept clip rerun, never the whole collection.

Why a sensor and not declarative automation: `eager()` never runs an unpartitioned asset
while one upstream partition is missing (a video that failed is missing forever), and would
rerun every filters partition after each duplicates run. Run keys name the landing and the
duplicates run they answer, so a re-evaluated tick never requests the same work twice.
"""

# No `from __future__ import annotations`: Dagster resolves resource types from real annotations.
import json
import time
from collections.abc import Mapping, Sequence

import dagster as dg

from video_assets.assets.clip_filters import clip_filters_key
from video_assets.assets.partitions import videos_partitions
from video_assets.curation.filter_read import partition_duplicate_flags
from video_assets.curation.filter_run import duplicate_flags
from video_assets.index.connection import clip_table_exists, open_clip_table
from video_assets.resources.lancedb import LanceDBResource
from video_assets.resources.storage import StorageResource

SENSOR_NAME = "curation_sensor"
DEFAULT_SETTLE_S = 120.0
MATERIALIZED = dg.DagsterEventType.ASSET_MATERIALIZATION


def duplicates_key(model: str) -> dg.AssetKey:
    return dg.AssetKey(f"{model}_duplicates")


def build_curation_sensor(
    model_names: Sequence[str],
    *,
    settle_after_seconds: float = DEFAULT_SETTLE_S,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """The sensor of the module doc for every model in `model_names`."""
    if settle_after_seconds < 0:
        raise ValueError(f"settle_after_seconds must be >= 0, got {settle_after_seconds}")

    @dg.sensor(
        name=SENSOR_NAME,
        asset_selection=[key for m in model_names for key in (duplicates_key(m), clip_filters_key(m))],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Duplicates after new clips settle; clip filters per video after its index lands or its "
        "duplicate flags change.",
    )
    def curation_sensor(
        context: dg.SensorEvaluationContext, lancedb: LanceDBResource, storage: StorageResource
    ) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        db, now, instance = lancedb.connect(), time.time(), context.instance
        live = set(instance.get_dynamic_partitions(videos_partitions.name))
        requests: list[dg.RunRequest] = []
        for model in model_names:
            if not clip_table_exists(db, model):
                continue
            state = cursor.setdefault(model, {})
            dup_id, dup_version = _latest_duplicates(instance, model)
            version = open_clip_table(db, model).version
            if state.get("seen") != version:
                state["seen"], state["seen_at"] = version, now
            settled = now - state["seen_at"] >= settle_after_seconds
            if version != dup_version and version != state.get("requested") and settled:
                requests.append(
                    dg.RunRequest(run_key=f"{model}-duplicates-v{version}", asset_selection=[duplicates_key(model)])
                )
                state["requested"] = version
            if dup_id is None:
                continue  # filters wait for a first duplicates run
            landed = _landings(instance, model)
            due = newly_indexed(instance, model, live, landed_before=dup_id)
            if dup_id != state.get("dups_checked"):
                due |= flags_changed(storage, model, live)
                state["dups_checked"] = dup_id
            for partition in sorted(due):
                requests.append(
                    dg.RunRequest(
                        run_key=f"{model}-filters-{partition}@{landed.get(partition)}/{dup_id}",
                        partition_key=partition,
                        asset_selection=[clip_filters_key(model)],
                    )
                )
        if not requests:
            return dg.SensorResult(
                skip_reason="duplicates and clip filters are up to date (or new clips are still arriving)",
                cursor=json.dumps(cursor),
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    return curation_sensor


def _latest_duplicates(instance: dg.DagsterInstance, model: str) -> tuple[int | None, int | None]:
    """(storage id, table version read) of the latest duplicates materialization; (None, None) if none."""
    records = instance.fetch_materializations(duplicates_key(model), limit=1).records
    if not records:
        return None, None
    value = records[0].asset_materialization.metadata.get("table_version")
    return records[0].storage_id, int(value.value) if value is not None else None


def _landings(instance: dg.DagsterInstance, model: str) -> Mapping[str, int]:
    """{partition: storage id of its latest `<model>_clip_index` materialization}."""
    return instance.get_latest_storage_id_by_partition(dg.AssetKey(f"{model}_clip_index"), MATERIALIZED)


def newly_indexed(
    instance: dg.DagsterInstance, model: str, live: set[str], *, landed_before: int | None = None
) -> set[str]:
    """Live partitions whose index landed after their latest filters run (before `landed_before` if given)."""
    filtered = instance.get_latest_storage_id_by_partition(clip_filters_key(model), MATERIALIZED)
    limit = landed_before if landed_before is not None else float("inf")
    return {p for p, at in _landings(instance, model).items() if p in live and filtered.get(p, -1) < at < limit}


def flags_changed(storage: StorageResource, model: str, live: set[str]) -> set[str]:
    """Live partitions whose filters stored a duplicate flag other than the duplicates file's now."""
    flags = duplicate_flags(storage.root / "curation", model) or {}
    stored = partition_duplicate_flags(storage.assets_dir, model)
    return {p for p, clips in stored.items() if p in live and any(flags.get(c) != f for c, f in clips.items())}
