"""new_videos_sensor evaluated against a real (temporary) Dagster instance and a real folder.

Discovery never decodes, so small dummy .mp4 files are enough here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.orchestration.assets import sensors
from video_assets.orchestration.definitions import build_definitions


@pytest.fixture(scope="module")
def shared_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:  # one per module: a fresh instance costs ~1 s
        yield inst


@pytest.fixture
def instance(shared_instance: dg.DagsterInstance) -> Iterator[dg.DagsterInstance]:
    """The shared instance, with no video partitions left over from another test."""
    for key in shared_instance.get_dynamic_partitions("videos"):
        shared_instance.delete_dynamic_partition("videos", key)
    yield shared_instance


class Folder:
    """An input folder, the definitions built for it, and the sensor's running cursor."""

    def __init__(self, root: Path, data: Path, instance: dg.DagsterInstance, **overrides: object) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = settings_for(root, data, **overrides)
        self.defs = build_definitions(self.settings)
        self.sensor = self.defs.resolve_sensor_def("new_videos_sensor")
        self.instance = instance
        self.cursor: str | None = None
        self.registry = VideoRegistry(data / "registry.sqlite")

    def add(self, name: str, content: bytes = b"dummy") -> str:
        (self.root / name).write_bytes(content)
        return video_id_for(name)

    def tick(self, *, apply: bool = True) -> dg.SensorResult:
        """Evaluate once; with ``apply``, add the requested partitions as the daemon would."""
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.defs.resources)
        result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        if apply:
            for request in result.dynamic_partitions_requests:
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result


@pytest.fixture
def own_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:  # deleting 500 partitions one by one afterwards costs more
        yield inst


def test_new_files_become_partitions_in_chunks_and_one_run_each(
    tmp_path: Path, own_instance: dg.DagsterInstance
) -> None:
    instance = own_instance
    folder = Folder(tmp_path / "in", tmp_path / "data", instance)
    ids = sorted(folder.add(f"v{i:03d}.mp4") for i in range(501))
    result = folder.tick()

    requests = result.dynamic_partitions_requests
    assert all(isinstance(r, dg.AddDynamicPartitionsRequest) for r in requests)
    assert [len(r.partition_keys) for r in requests] == [500, 1]  # SQLite instances choke on huge adds
    assert {r.partitions_def_name for r in requests} == {"videos"}
    assert sorted(k for r in requests for k in r.partition_keys) == ids
    assert sorted(r.partition_key for r in result.run_requests) == ids
    run_keys = [r.run_key for r in result.run_requests]
    assert all(run_keys) and len(set(run_keys)) == len(run_keys)
    assert sorted(instance.get_dynamic_partitions("videos")) == ids

    again = folder.tick()
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    assert again.skip_reason is not None and "no new" in again.skip_reason.skip_message
    assert json.loads(again.cursor) == json.loads(result.cursor)


def test_a_removed_file_is_reported_and_starts_no_run(
    tmp_path: Path, instance: dg.DagsterInstance, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = Folder(tmp_path / "in", tmp_path / "data", instance)
    gone, kept = folder.add("gone.mp4"), folder.add("kept.mp4")
    folder.tick()
    (folder.root / "gone.mp4").unlink()

    capfd.readouterr()
    result = folder.tick()
    assert result.run_requests == []
    assert "1 video(s) gone" in result.skip_reason.skip_message
    # The sensor's log (the tick's log in the UI) names the file and the way to drop it.
    warning = [line for line in capfd.readouterr().err.splitlines() if "gone.mp4" in line]
    assert len(warning) == 1 and "WARNING" in warning[0] and "remove_videos" in warning[0]
    record = folder.registry.get(gone)
    assert record.status == "missing" and "no longer" in record.error
    assert folder.registry.get(kept).status == "pending"
    # The data stays until the removal job: the partition is not dropped behind the user's back.
    assert gone in instance.get_dynamic_partitions("videos")

    later = folder.tick()
    assert "gone" not in later.skip_reason.skip_message  # reported once
    assert "gone.mp4" not in capfd.readouterr().err


def test_changed_and_restored_files_are_run_again_with_new_run_keys(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    folder = Folder(tmp_path / "in", tmp_path / "data", instance)
    vid = folder.add("a.mp4", b"first")
    first = folder.tick()
    [first_run] = first.run_requests
    folder.registry.mark(vid, "done")  # what the ledger does once every index commit landed

    folder.add("a.mp4", b"second version")
    changed = folder.tick()
    assert changed.dynamic_partitions_requests == []  # same partition
    [rerun] = changed.run_requests
    assert rerun.partition_key == vid and rerun.run_key != first_run.run_key

    folder.registry.mark(vid, "done")
    (folder.root / "a.mp4").unlink()
    assert folder.tick().run_requests == []
    folder.add("a.mp4", b"second version")
    [restored] = folder.tick().run_requests
    assert restored.partition_key == vid and restored.run_key not in {first_run.run_key, rerun.run_key}


def test_batches_wait_until_full_or_old(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path / "in", tmp_path / "data", instance, videos_per_partition=3)
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4"):
        folder.add(name)
    [full] = folder.tick().run_requests
    assert [v.rel_path for v in folder.registry.videos_in(full.partition_key)] == ["a.mp4", "b.mp4", "c.mp4"]
    assert folder.tick().run_requests == []  # d.mp4 waits for company

    monkeypatch.setattr(sensors, "BATCH_MAX_AGE_S", 0.0)
    [aged] = folder.tick().run_requests
    assert [v.rel_path for v in folder.registry.videos_in(aged.partition_key)] == ["d.mp4"]
    assert sorted(instance.get_dynamic_partitions("videos")) == sorted([full.partition_key, aged.partition_key])


def test_partitions_the_instance_lost_are_added_again(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = Folder(tmp_path / "in", tmp_path / "data", instance)
    vid = folder.add("a.mp4")
    folder.tick(apply=False)  # the tick's partition requests never reached the instance
    repaired = folder.tick()
    assert [list(r.partition_keys) for r in repaired.dynamic_partitions_requests] == [[vid]]
    assert repaired.run_requests == []  # its run was already requested, under the same change
    assert instance.get_dynamic_partitions("videos") == [vid]


def test_a_new_registry_behind_the_cursor_starts_over(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = Folder(tmp_path / "in", tmp_path / "data", instance)
    vid = folder.add("a.mp4")
    for name in ("b.mp4", "c.mp4"):
        folder.add(name)
    folder.tick()
    old_cursor = folder.cursor

    # The data dir was wiped; the sensor's stored cursor outlives it.
    wiped = Folder(folder.root, tmp_path / "data2", instance)
    (folder.root / "b.mp4").unlink()
    (folder.root / "c.mp4").unlink()
    wiped.cursor = old_cursor
    [again] = wiped.tick().run_requests
    assert again.partition_key == vid
