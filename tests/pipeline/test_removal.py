"""The remove_videos job: index rows, clip files and emptied partitions go; nothing else does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.test_batches import QUIET, fast_settings, index_rows, run_partitions, small_video
from video_assets.catalog.discovery import scan
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def remove(
    settings: Settings, instance: dg.DagsterInstance, video_ids: list[str], **options: object
) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def("remove_videos")
    config = {**QUIET, "ops": {"remove_videos_op": {"config": {"video_ids": video_ids, **options}}}}
    return job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)


def failure_message(run: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in run.all_events if e.is_step_failure]
    return failure.step_failure_data.error.message


def test_removing_one_video_leaves_the_other_intact(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = tmp_path / "in"
    small_video(folder / "keep.mp4", seed=5)
    small_video(folder / "drop.mp4", seed=6)
    settings = fast_settings(folder, tmp_path / "data")
    settings = settings.model_copy(update={"clipping": settings.clipping.model_copy(update={"transcode": True})})
    assert all(run.success for run in run_partitions(settings, instance).values())
    keep, drop = video_id_for("keep.mp4"), video_id_for("drop.mp4")
    before = index_rows(settings)
    assert {r["video_id"] for r in before} == {keep, drop}
    clip_dir = settings.data_dir / "clips"
    assert (clip_dir / drop).is_dir() and (clip_dir / keep).is_dir()
    thumbs = settings.paths.thumbs_dir
    assert any((thumbs / drop).iterdir()) and any((thumbs / keep).iterdir())

    refused = remove(settings, instance, [drop])  # its file is still there: a scan would re-add it
    assert not refused.success and "drop.mp4" in failure_message(refused)
    unknown = remove(settings, instance, ["no-such-video"])
    assert not unknown.success and "no-such-video" in failure_message(unknown)
    assert index_rows(settings) == before

    (folder / "drop.mp4").unlink()
    run = remove(settings, instance, [drop])
    assert run.success
    after = index_rows(settings)
    assert sorted(r["clip_id"] for r in after) == sorted(r["clip_id"] for r in before if r["video_id"] == keep)
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    assert registry.get(drop).status == "missing" and "remove_videos" in registry.get(drop).error
    assert registry.get(keep).status == "done"

    # Its partition held nothing else: its files and its Dagster partition are gone, the other's stay.
    assets_dir = settings.data_dir / "assets"
    assert not list(assets_dir.rglob(f"{drop}.parquet"))
    assert {p.parent.name for p in assets_dir.rglob(f"{keep}.parquet")} >= {"source_videos", "clips", "frames"}
    assert not (clip_dir / drop).exists() and any((clip_dir / keep).iterdir())
    assert not (thumbs / drop).exists() and any((thumbs / keep).iterdir())  # the frames' thumbnails too
    assert drop not in instance.get_dynamic_partitions("videos")
    assert keep in instance.get_dynamic_partitions("videos")
    [event] = [e for e in run.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    metadata = event.step_output_data.metadata
    assert metadata["removed_videos"].value == [drop] and metadata["removed_partitions"].value == [drop]
    assert metadata["deleted_rows"].value == {"clips_fingerprint": len(before) - len(after)}

    # The file comes back: the sensor adds its partition again and asks for its run.
    small_video(folder / "drop.mp4", seed=6)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("new_videos_sensor")
    tick = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    assert [list(r.partition_keys) for r in tick.dynamic_partitions_requests] == [[drop]]
    assert [r.partition_key for r in tick.run_requests] == [drop]


def test_removing_from_a_batch_keeps_the_partition_of_the_others(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = tmp_path / "in"
    small_video(folder / "a.mp4", seed=7)
    small_video(folder / "b.mp4", seed=8)
    settings = fast_settings(folder, tmp_path / "data", videos_per_partition=2)
    [(key, run)] = run_partitions(settings, instance).items()
    assert run.success
    (folder / "a.mp4").unlink()
    scan(settings, VideoRegistry(settings.data_dir / "registry.sqlite"), seal_partial=True)

    assert remove(settings, instance, []).success  # empty config: every video reported missing
    assert {r["video_id"] for r in index_rows(settings)} == {video_id_for("b.mp4")}
    assert key in instance.get_dynamic_partitions("videos")
    assert (settings.data_dir / "assets" / "clips" / f"{key}.parquet").exists()


def test_a_model_without_a_table_is_skipped(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = tmp_path / "in"
    small_video(folder / "never_run.mp4", seed=9)
    settings = fast_settings(folder, tmp_path / "data")
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    scan(settings, registry, seal_partial=True)  # registered, never materialized: no LanceDB table
    (folder / "never_run.mp4").unlink()
    scan(settings, registry, seal_partial=True)

    # Its only video: the whole registry, more than the share the job takes unless forced.
    refused = remove(settings, instance, [])
    assert not refused.success and "1 of the 1 videos" in failure_message(refused)
    assert registry.get(video_id_for("never_run.mp4")).error != "removed by remove_videos"
    run = remove(settings, instance, [], force=True)
    assert run.success
    assert registry.get(video_id_for("never_run.mp4")).error == "removed by remove_videos"
    assert index_rows(settings) == []
