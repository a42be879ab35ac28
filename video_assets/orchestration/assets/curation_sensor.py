"""The curation sensor: keeps `<model>_duplicates` and `<model>_clip_filters` up to date, one video per run.

Per model and tick, three rules:

1. duplicates: the clip table's version differs from the one the latest duplicates run
   read and has not moved for `settle_after_seconds` (a backfill is compared once, at
   its end, not after every video) -> one run of `<model>_duplicates` (incremental:
   only the new clips are compared with the rest).
2. new videos: a partition whose `<model>_clip_index` landed after its latest filters
   run, or whose clips have no decision in its filters file in this data directory (the
   instance may record runs of another one), once a duplicates run newer than that landing
   exists -> that partition's `<model>_clip_filters` (so a new video's filters see its
   duplicates the first time).
3. changed duplicates: after a new duplicates run, the partitions whose stored duplicate
   flags differ from the new file's -> those partitions' filters again. Only the videos
   whose clips changed group or kept clip rerun, never the whole collection.

Why a sensor and not declarative automation: `eager()` never runs an unpartitioned asset
while one upstream partition is missing (a video that failed is missing forever), and would
rerun every filters partition after each duplicates run. Run keys name the landing and the
duplicates run they answer, so a re-evaluated tick never requests the same work twice.

Failed runs: the daemon launches a run key once, so a failed run was never asked for again
until the table (or the landing) changed, and a quiet collection stayed stale for good. Each
tick reads the sensor's failed runs from Dagster's run records (by the sensor-name and run-key
tags the daemon sets) and retries that work under `<key>-retry<n>` after a back-off (5, 10,
20, 40, 60 min by default); after `RetryPolicy.max_failures` failed runs it gives up. Its
cursor holds each failed piece of work, and the skip reason says what it waits for or gave up
on, with the last run's error. New work (a new table version; a new landing or duplicates run
for a video) or a successful run by hand starts over (`curation_retry`).
"""

# No `from __future__ import annotations`: Dagster resolves resource types from real annotations.
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
from lancedb import DBConnection

from video_assets.curation.filter_read import partition_duplicate_flags, unfiltered_clips
from video_assets.curation.filter_run import duplicate_flags, indexed_clips
from video_assets.index.connection import clip_table_exists, open_clip_table
from video_assets.orchestration.assets.clip_filters import clip_filters_key
from video_assets.orchestration.assets.curation_retry import (
    PARTITION_TAG,
    RUN_KEY_TAG,
    RetryPolicy,
    describe,
    due_retry,
    new_failures,
    record_failure,
    split_key,
)
from video_assets.orchestration.assets.partitions import videos_partitions
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource

SENSOR_NAME = "curation_sensor"
DEFAULT_SETTLE_S = 120.0
MATERIALIZED = dg.DagsterEventType.ASSET_MATERIALIZATION
# Top-level cursor key beside the models' (model names hold no '-'): the failed runs already read.
FAILURES_SEEN = "failed-runs-seen"
DEFAULT_RETRY = RetryPolicy()


def duplicates_key(model: str) -> dg.AssetKey:
    return dg.AssetKey(f"{model}_duplicates")


def build_curation_sensor(
    model_names: Sequence[str],
    *,
    settle_after_seconds: float = DEFAULT_SETTLE_S,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    retry: RetryPolicy = DEFAULT_RETRY,
    clock: Callable[[], float] = time.time,
) -> dg.SensorDefinition:
    """The sensor of the module doc for every model in `model_names`; `clock` (epoch s) for tests."""
    if settle_after_seconds < 0:
        raise ValueError(f"settle_after_seconds must be >= 0, got {settle_after_seconds}")

    @dg.sensor(
        name=SENSOR_NAME,
        asset_selection=[key for m in model_names for key in (duplicates_key(m), clip_filters_key(m))],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Duplicates after new clips settle; clip filters per video after its index lands or its "
        "duplicate flags change. A failed run it asked for is retried after a back-off, then given up.",
    )
    def curation_sensor(
        context: dg.SensorEvaluationContext, lancedb: LanceDBResource, storage: StorageResource
    ) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        db, now, instance = lancedb.connect(), clock(), context.instance
        live = set(instance.get_dynamic_partitions(videos_partitions.name))
        failed, cursor[FAILURES_SEEN] = new_failures(instance, SENSOR_NAME, cursor.get(FAILURES_SEEN))
        tick = _Tick(context, db, storage, live, now, retry)
        for model in model_names:
            if not clip_table_exists(db, model):
                continue
            state = cursor.setdefault(model, {})
            mine = [r for r in failed if r.dagster_run.tags.get(RUN_KEY_TAG, "").startswith(f"{model}-")]
            dup_id, dup_version = _latest_duplicates(instance, model)
            version = open_clip_table(db, model).version
            if state.get("seen") != version:
                state["seen"], state["seen_at"] = version, now
            settled = now - state["seen_at"] >= settle_after_seconds
            _duplicates_rule(tick, model, state, mine, version, dup_version, settled)
            if dup_id is None:
                continue  # filters wait for a first duplicates run
            _filters_rules(tick, model, state, mine, version, dup_id)
        if not tick.requests:
            reason = "duplicates and clip filters are up to date (or new clips are still arriving)"
            return dg.SensorResult(
                skip_reason="; ".join(tick.notes) if tick.notes else reason, cursor=json.dumps(cursor)
            )
        for note in tick.notes:  # a tick with requests has no skip reason to carry them
            context.log.info(note)
        return dg.SensorResult(run_requests=tick.requests, cursor=json.dumps(cursor))

    return curation_sensor


@dataclass
class _Tick:
    """What one evaluation reads once for every model, and what the models' rules add: the runs to
    request, and notes on the work waiting for a retry (the skip reason, or log lines)."""

    context: dg.SensorEvaluationContext
    db: DBConnection
    storage: StorageResource
    live: set[str]  # the partitions (videos) the instance has now
    now: float
    retry: RetryPolicy
    requests: list[dg.RunRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _duplicates_rule(
    tick: _Tick,
    model: str,
    state: dict,
    mine: list[dg.RunRecord],
    version: int,
    dup_version: int | None,
    settled: bool,
) -> None:
    """Rule 1 of the module doc: one `<model>_duplicates` run per settled table version that no duplicates
    run has read; a failed one (in `mine`, the model's failed runs) retried after its back-off."""
    # One piece of work per table version; a new version (or a run that read it) resets.
    key = f"{model}-duplicates-v{version}"
    entry = state.get("duplicates_retry")
    for record in mine:
        if split_key(record.dagster_run.tags[RUN_KEY_TAG])[0] == key:
            entry = _counted(tick.context, record, entry, f"{model}_duplicates", tick.retry, tick.now)
    entry = entry if entry is not None and entry["key"] == key and version != dup_version else None
    if version != dup_version and settled:
        if entry is None and version != state.get("requested"):
            tick.requests.append(_duplicates_request(model, key))
            state["requested"] = version
        elif entry is not None:
            if (retry_key := due_retry(entry, tick.retry, tick.now)) is not None:
                tick.requests.append(_duplicates_request(model, retry_key))
                entry["asked"] = entry["failures"]
            tick.notes.append(f"{model}_duplicates (table version {version}): {describe(entry, tick.retry, tick.now)}")
    _put(state, "duplicates_retry", entry)


def _filters_rules(tick: _Tick, model: str, state: dict, mine: list[dg.RunRecord], version: int, dup_id: int) -> None:
    """Rules 2 and 3 of the module doc, once a duplicates run (`dup_id`, its storage id) exists: one piece of
    work per partition, named by its landing and the duplicates run it answers; failed ones retried."""
    instance = tick.context.instance
    landed = _landings(instance, model)
    filtered = instance.get_latest_storage_id_by_partition(clip_filters_key(model), MATERIALIZED)
    retries = _filters_retries(tick, model, state.get("filters_retry", {}), mine, landed, filtered, dup_id)
    due = _due_partitions(tick, model, state, version, dup_id, landed, filtered) | set(retries)
    waiting = _request_filters(tick, model, sorted(due), retries, landed, dup_id)
    _put(state, "filters_retry", retries)
    if waiting:
        more = f" (and {len(waiting) - 5} more)" if len(waiting) > 5 else ""
        tick.notes.append(f"{model}_clip_filters, {len(waiting)} failed video(s): {'; '.join(waiting[:5])}{more}")


def _filters_retries(
    tick: _Tick,
    model: str,
    retries: dict[str, dict],
    mine: list[dg.RunRecord],
    landed: Mapping[str, int],
    filtered: Mapping[str, int],
    dup_id: int,
) -> dict[str, dict]:
    """The cursor's filters retry entries (`retries`, by partition) with this tick's failed runs counted,
    less those whose work no longer stands."""
    for record in mine:
        partition = record.dagster_run.tags.get(PARTITION_TAG)
        key = _filters_key(model, partition, landed.get(partition), dup_id)
        if partition is not None and split_key(record.dagster_run.tags[RUN_KEY_TAG])[0] == key:
            entry = _counted(
                tick.context, record, retries.get(partition), f"{model}_clip_filters", tick.retry, tick.now
            )
            retries[partition] = {**entry, "filtered": entry.get("filtered", filtered.get(partition))}
    # An entry lasts while its work stands: same landing and duplicates run, and no filters run since.
    return {
        p: e
        for p, e in retries.items()
        if p in tick.live
        and e["key"] == _filters_key(model, p, landed.get(p), dup_id)
        and e["filtered"] == filtered.get(p)
    }


def _due_partitions(
    tick: _Tick,
    model: str,
    state: dict,
    version: int,
    dup_id: int,
    landed: Mapping[str, int],
    filtered: Mapping[str, int],
) -> set[str]:
    """The partitions whose filters are due by rule 2 (indexed since their last filters run, or clips without
    a decision) and, after a new duplicates run, by rule 3 (their duplicate flags changed)."""
    # Clips without a filters file here: read (table and files) only when the table, the duplicates run
    # or the instance's latest filters run moved, not every tick.
    stamp = [version, dup_id, max(filtered.values(), default=None)]
    clips = indexed_clips(tick.db, model) if stamp != state.get("gaps_checked") else {}
    state["gaps_checked"] = stamp
    due = _due_filters(model, tick.live, landed, filtered, tick.storage, clips, landed_before=dup_id)
    if dup_id != state.get("dups_checked"):
        due |= flags_changed(tick.storage, model, tick.live)
        state["dups_checked"] = dup_id
    return due


def _request_filters(
    tick: _Tick,
    model: str,
    due: list[str],
    retries: dict[str, dict],
    landed: Mapping[str, int],
    dup_id: int,
) -> list[str]:
    """A `<model>_clip_filters` run for each due partition, a failed one's only once its back-off is over;
    returns a line per partition waiting on a failed run (its retry, or that it gave up)."""
    waiting: list[str] = []
    for partition in due:
        key = _filters_key(model, partition, landed.get(partition), dup_id)
        entry, run_key = retries.get(partition), key
        if entry is not None:
            if (run_key := due_retry(entry, tick.retry, tick.now)) is not None:
                entry["asked"] = entry["failures"]
            waiting.append(f"{partition}: {describe(entry, tick.retry, tick.now)}")
        if run_key is not None:
            tick.requests.append(
                dg.RunRequest(run_key=run_key, partition_key=partition, asset_selection=[clip_filters_key(model)])
            )
    return waiting


def _duplicates_request(model: str, run_key: str) -> dg.RunRequest:
    return dg.RunRequest(run_key=run_key, asset_selection=[duplicates_key(model)])


def _filters_key(model: str, partition: str, landed: int | None, dup_id: int) -> str:
    return f"{model}-filters-{partition}@{landed}/{dup_id}"


def _counted(
    context: dg.SensorEvaluationContext,
    record: dg.RunRecord,
    entry: dict | None,
    what: str,
    retry: RetryPolicy,
    now: float,
) -> dict:
    """`entry` with the failed run counted, logged when it is new (a retry planned, or giving up)."""
    counted = record_failure(entry, record, context.instance, retry, now)
    if counted is not entry:
        partition = record.dagster_run.tags.get(PARTITION_TAG)
        where = f"{what} {partition}" if partition else what
        log = context.log.warning if counted["failures"] >= retry.max_failures else context.log.info
        log(f"{where}: {describe(counted, retry, now)}")
    return counted


def _put(state: dict, name: str, value: dict | None) -> None:
    """Keep the cursor small: no key for nothing to remember."""
    if value:
        state[name] = value
    else:
        state.pop(name, None)


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
    instance: dg.DagsterInstance,
    model: str,
    live: set[str],
    *,
    storage: StorageResource,
    clips: Mapping[str, Sequence[str]],
    landed_before: int | None = None,
) -> set[str]:
    """Live partitions whose filters are due: their index landed after their latest filters run, or some of
    their clips in the table (`clips`: {partition: clip ids}) have no decision in the partition's filters file
    under `storage`, whatever the instance records (an instance shared with a second data directory records
    filters runs whose files are not in this one). Both only for a landing before `landed_before` if given
    (a partition the instance saw no landing for counts as landed before)."""
    filtered = instance.get_latest_storage_id_by_partition(clip_filters_key(model), MATERIALIZED)
    return _due_filters(model, live, _landings(instance, model), filtered, storage, clips, landed_before)


def _due_filters(
    model: str,
    live: set[str],
    landings: Mapping[str, int],
    filtered: Mapping[str, int],
    storage: StorageResource,
    clips: Mapping[str, Sequence[str]],
    landed_before: int | None,
) -> set[str]:
    """`newly_indexed` from the landings and latest filters runs the caller already read."""
    limit = landed_before if landed_before is not None else float("inf")
    due = {p for p, at in landings.items() if p in live and filtered.get(p, -1) < at < limit}
    gaps = unfiltered_clips(storage.assets_dir, model, {p: c for p, c in clips.items() if p in live})
    return due | {p for p in gaps if landings.get(p, -1) < limit}


def flags_changed(storage: StorageResource, model: str, live: set[str]) -> set[str]:
    """Live partitions whose filters stored a duplicate flag other than the duplicates file's now."""
    flags = duplicate_flags(storage.paths.curation_dir, model) or {}
    stored = partition_duplicate_flags(storage.assets_dir, model)
    return {p for p, clips in stored.items() if p in live and any(flags.get(c) != f for c, f in clips.items())}
