"""The curation sensor retries the runs it asked for that failed: after a back-off, then gives up.

A real ephemeral Dagster instance holds the runs; each request is launched as the daemon would
(`dg.materialize` with its run key and sensor name as tags) by stand-ins of the duplicates and
filters assets that fail or succeed on demand. A tiny LanceDB table gives the clip table version;
time is the sensor's injected clock, so the back-off is driven without sleeping.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import lancedb
import pytest

from video_assets.index.schema import table_name
from video_assets.orchestration.assets.clip_filters import clip_filters_key
from video_assets.orchestration.assets.curation_retry import RUN_KEY_TAG, SENSOR_NAME_TAG, RetryPolicy, split_key
from video_assets.orchestration.assets.curation_sensor import SENSOR_NAME, build_curation_sensor, duplicates_key
from video_assets.orchestration.assets.partitions import videos_partitions
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource

MODEL = "fingerprint"
POLICY = RetryPolicy(first_delay_s=300, max_delay_s=600, max_failures=4)  # retries after 300, 600, 600 s
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path):
    """(instance, resources, clip table) with a one-row clip table and partitions a, b. The row is of no live
    partition: the stand-in filters write no file, and a live partition's clips without one would be due."""
    row = {"clip_id": "c0", "partition_key": "gone"}
    table = lancedb.connect(tmp_path / "lancedb").create_table(table_name(MODEL), data=[row])
    resources = {
        "lancedb": LanceDBResource(uri=str(tmp_path / "lancedb")),
        "storage": StorageResource(data_dir=str(tmp_path)),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(videos_partitions.name, ["a", "b"])
        yield instance, resources, table


def _tick(sensor: dg.SensorDefinition, instance, resources, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def _duplicates(version: int, fail: bool) -> dg.AssetsDefinition:
    @dg.asset(key=duplicates_key(MODEL))
    def duplicates() -> dg.MaterializeResult:
        if fail:
            raise RuntimeError("curation dir is read-only")
        return dg.MaterializeResult(metadata={"table_version": version})

    return duplicates


def _filters(fail: bool) -> dg.AssetsDefinition:
    @dg.asset(key=clip_filters_key(MODEL), partitions_def=videos_partitions)
    def filters() -> None:
        if fail:
            raise RuntimeError("frames missing")

    return filters


@dg.asset(key=dg.AssetKey(f"{MODEL}_clip_index"), partitions_def=videos_partitions)
def clip_index() -> None:
    pass


def _launch(request: dg.RunRequest, asset: dg.AssetsDefinition, instance) -> bool:
    """Run the request as the daemon would tag it; whether it succeeded."""
    tags = {**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: SENSOR_NAME}
    result = dg.materialize(
        [asset], instance=instance, partition_key=request.partition_key, tags=tags, raise_on_error=False
    )
    return result.success


def _why(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


def _keys(result: dg.SensorResult) -> list[str]:
    return [r.run_key for r in result.run_requests]


def test_failed_duplicates_run_is_retried_after_back_off_then_given_up(world) -> None:
    instance, resources, table = world
    clock = Clock()
    sensor = build_curation_sensor([MODEL], settle_after_seconds=0, retry=POLICY, clock=clock)
    version = table.version
    first = _tick(sensor, instance, resources, None)
    assert _keys(first) == [f"{MODEL}-duplicates-v{version}"]
    assert not _launch(first.run_requests[0], _duplicates(version, fail=True), instance)

    cursor = first.cursor
    for failures, delay in ((1, 300), (2, 600), (3, 600)):
        clock.now += 1  # the next tick sees the failure: nothing before the back-off, and says why
        waiting = _tick(sensor, instance, resources, cursor)
        assert waiting.run_requests == []
        assert f"{failures} failed run" in _why(waiting) and "curation dir is read-only" in _why(waiting)
        assert f"retry {failures} of 3" in _why(waiting)
        clock.now += delay - 1  # the back-off counts from the tick that saw the failure
        assert _tick(sensor, instance, resources, waiting.cursor).run_requests == []
        clock.now += 1
        due = _tick(sensor, instance, resources, waiting.cursor)
        assert _keys(due) == [f"{MODEL}-duplicates-v{version}-retry{failures}"]
        again = _tick(sensor, instance, resources, due.cursor)  # before the retry ran: asked once only
        assert again.run_requests == [] and f"retry {failures} of 3 asked for" in _why(again)
        assert not _launch(due.run_requests[0], _duplicates(version, fail=True), instance)
        cursor = again.cursor

    clock.now += 1
    gave_up = _tick(sensor, instance, resources, cursor)
    assert gave_up.run_requests == [] and "gave up after 4 failed runs" in _why(gave_up)
    assert f"table version {version}" in _why(gave_up) and "curation dir is read-only" in _why(gave_up)
    clock.now += 24 * 3600
    later = _tick(sensor, instance, resources, gave_up.cursor)
    assert later.run_requests == [] and "gave up" in _why(later)
    assert json.loads(later.cursor)[MODEL]["duplicates_retry"]["failures"] == 4

    table.add([{"clip_id": "c1"}])  # new clips: a new table version starts over
    fresh = _tick(sensor, instance, resources, later.cursor)
    assert _keys(fresh) == [f"{MODEL}-duplicates-v{table.version}"]
    assert "duplicates_retry" not in json.loads(fresh.cursor)[MODEL]
    assert _launch(fresh.run_requests[0], _duplicates(table.version, fail=False), instance)
    done = _tick(sensor, instance, resources, fresh.cursor)
    assert done.run_requests == [] and "up to date" in _why(done)


def test_cursor_written_before_retries_still_parses_and_retries_the_failed_run(world) -> None:
    """The cursor format of the first release ({model: seen, seen_at, requested, dups_checked}) and
    a run it asked for under the plain key, failed: the known gap this closes."""
    instance, resources, table = world
    clock = Clock()
    sensor = build_curation_sensor([MODEL], retry=POLICY, clock=clock)
    version = table.version
    request = dg.RunRequest(run_key=f"{MODEL}-duplicates-v{version}", asset_selection=[duplicates_key(MODEL)])
    assert not _launch(request, _duplicates(version, fail=True), instance)
    old = json.dumps({MODEL: {"seen": version, "seen_at": T0 - 3600, "requested": version}})

    waiting = _tick(sensor, instance, resources, old)
    assert waiting.run_requests == [] and "1 failed run" in _why(waiting)
    clock.now += 300
    assert _keys(_tick(sensor, instance, resources, waiting.cursor)) == [f"{request.run_key}-retry1"]


def test_a_successful_run_by_hand_ends_the_retries(world) -> None:
    instance, resources, table = world
    clock = Clock()
    sensor = build_curation_sensor([MODEL], settle_after_seconds=0, retry=POLICY, clock=clock)
    first = _tick(sensor, instance, resources, None)
    assert not _launch(first.run_requests[0], _duplicates(table.version, fail=True), instance)
    waiting = _tick(sensor, instance, resources, first.cursor)
    assert "1 failed run" in _why(waiting)
    dg.materialize([_duplicates(table.version, fail=False)], instance=instance)  # from the UI, no run key
    clock.now += 3600
    done = _tick(sensor, instance, resources, waiting.cursor)
    assert done.run_requests == [] and "up to date" in _why(done)
    assert "duplicates_retry" not in json.loads(done.cursor)[MODEL]


def test_failed_filters_partition_is_retried_alone_then_given_up_and_a_new_duplicates_run_resets(world) -> None:
    instance, resources, table = world
    clock = Clock()
    sensor = build_curation_sensor([MODEL], settle_after_seconds=0, retry=POLICY, clock=clock)
    for partition in ("a", "b"):
        dg.materialize([clip_index], instance=instance, partition_key=partition)
    first = _tick(sensor, instance, resources, None)
    assert _launch(first.run_requests[0], _duplicates(table.version, fail=False), instance)
    second = _tick(sensor, instance, resources, first.cursor)
    by_partition = {r.partition_key: r for r in second.run_requests}
    assert set(by_partition) == {"a", "b"}
    assert not _launch(by_partition["a"], _filters(fail=True), instance)
    assert _launch(by_partition["b"], _filters(fail=False), instance)

    clock.now += 1
    waiting = _tick(sensor, instance, resources, second.cursor)
    assert waiting.run_requests == []  # not the failed run key again (the daemon would drop it silently)
    assert "1 failed video(s): a: 1 failed run" in _why(waiting) and "frames missing" in _why(waiting)
    clock.now += 300
    retried = _tick(sensor, instance, resources, waiting.cursor)
    assert [(r.partition_key, split_key(r.run_key)) for r in retried.run_requests] == [
        ("a", (by_partition["a"].run_key, 1))
    ]
    request = retried.run_requests[0]
    for _ in range(2):  # retries 1 and 2 fail, each asked again after the back-off
        assert not _launch(request, _filters(fail=True), instance)
        clock.now += 1
        waiting = _tick(sensor, instance, resources, retried.cursor)
        assert waiting.run_requests == []
        clock.now += 600
        retried = _tick(sensor, instance, resources, waiting.cursor)
        (request,) = retried.run_requests
    assert not _launch(request, _filters(fail=True), instance)  # retry 3: the fourth failed run
    clock.now += 1
    result = _tick(sensor, instance, resources, retried.cursor)
    assert result.run_requests == [] and "a: gave up after 4 failed runs" in _why(result)
    cursor = result.cursor

    table.add([{"clip_id": "c1"}])  # new clips -> a new duplicates run -> the video's filters are asked for anew
    dups = _tick(sensor, instance, resources, cursor)
    assert _keys(dups) == [f"{MODEL}-duplicates-v{table.version}"]
    assert _launch(dups.run_requests[0], _duplicates(table.version, fail=False), instance)
    fresh = _tick(sensor, instance, resources, dups.cursor)
    assert [r.partition_key for r in fresh.run_requests] == ["a"] and "-retry" not in fresh.run_requests[0].run_key
    assert "filters_retry" not in json.loads(fresh.cursor)[MODEL]


def test_retry_policy_back_off_doubles_up_to_its_cap() -> None:
    assert [RetryPolicy().delay(n) for n in range(1, 7)] == [300, 600, 1200, 2400, 3600, 3600]
    assert split_key("m-filters-p@3/7-retry2") == ("m-filters-p@3/7", 2)
    assert split_key("m-duplicates-v4") == ("m-duplicates-v4", 0)
    with pytest.raises(ValueError):
        RetryPolicy(max_failures=0)
