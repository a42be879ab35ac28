"""Batched partitions and data versions, through real runs of the embed job.

Videos are short (2 s at 12 fps, 64x48) and cut into 1 s clips, so each good video
gives exactly two clips; only the weights-free fingerprint model is enabled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from video_assets.catalog.discovery import scan
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.index.connection import clip_table_exists, connect, open_clip_table
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_text_file_as_video, make_zero_byte
from video_assets.orchestration.assets.media import source_videos
from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
from video_assets.orchestration.resources.storage import PartitionedParquetIOManager, StorageResource
from video_assets.settings.config import ClippingSettings, Settings

pytestmark = pytest.mark.slow

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def small_video(path: Path, seed: int) -> Path:
    return make_video(path, duration_s=2.0, fps=12, size=(64, 48), seed=seed)


def fast_settings(folder: Path, data: Path, **overrides: object) -> Settings:
    return Settings(
        input_dir=folder,
        data_dir=data,
        enabled_models=("fingerprint",),
        clipping=ClippingSettings(clip_len_s=1.0, stride_s=1.0, min_clip_len_s=0.5),
        **overrides,
    )


def run_partitions(settings: Settings, instance: dg.DagsterInstance) -> dict[str, dg.ExecuteInProcessResult]:
    """Scan the folder, add its partitions, and run the embed job once per partition."""
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    scan(settings, registry, seal_partial=True)
    keys = registry.partition_keys()
    instance.add_dynamic_partitions("videos", [k for k in keys if not instance.has_dynamic_partition("videos", k)])
    job = build_definitions(settings).resolve_job_def(EMBED_JOB)
    return {
        k: job.execute_in_process(partition_key=k, instance=instance, raise_on_error=False, run_config=QUIET)
        for k in keys
    }


def index_rows(settings: Settings) -> list[dict]:
    db = connect(settings.paths.lancedb_uri)
    if not clip_table_exists(db, "fingerprint"):
        return []
    return open_clip_table(db, "fingerprint").to_arrow().select(["clip_id", "video_id"]).to_pylist()


def materialization(run: dg.ExecuteInProcessResult, asset: str) -> dg.AssetMaterialization:
    [mat] = [m for m in run.asset_materializations_for_node(asset)]
    return mat


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def test_a_bad_video_fails_alone_inside_its_batch(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = tmp_path / "in"
    small_video(folder / "a.mp4", seed=1)
    make_text_file_as_video(folder / "b.mp4")
    small_video(folder / "c.mp4", seed=2)
    settings = fast_settings(folder, tmp_path / "data", videos_per_partition=3)

    [(key, run)] = run_partitions(settings, instance).items()
    assert run.success
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    assert [v.rel_path for v in registry.videos_in(key)] == ["a.mp4", "b.mp4", "c.mp4"]
    bad = registry.get(video_id_for("b.mp4"))
    assert bad.status == "failed" and "b.mp4" in bad.error
    for name in ("a.mp4", "c.mp4"):
        good = registry.get(video_id_for(name))
        assert good.status == "done" and good.error is None
        assert good.sha256 == hashlib.sha256((folder / name).read_bytes()).hexdigest()

    meta = materialization(run, "source_videos").metadata
    assert meta["videos"].value == 2 and meta["failed_videos"].value == 1
    [failure] = meta["failures"].value
    assert "b.mp4" in failure

    rows = index_rows(settings)
    per_video = {vid: sum(r["video_id"] == vid for r in rows) for vid in {r["video_id"] for r in rows}}
    assert per_video == {video_id_for("a.mp4"): 2, video_id_for("c.mp4"): 2}  # 2 s in 1 s clips
    assert len({r["clip_id"] for r in rows}) == 4
    assert materialization(run, "fingerprint_clip_index").metadata["rows_for_videos"].value == 4


def test_a_batch_of_only_bad_videos_fails_naming_each(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    folder = tmp_path / "in"
    make_text_file_as_video(folder / "notes.mp4")
    make_zero_byte(folder / "empty.mp4")
    settings = fast_settings(folder, tmp_path / "data", videos_per_partition=2)

    [(key, run)] = run_partitions(settings, instance).items()
    assert not run.success
    [failure] = [e for e in run.all_events if e.is_step_failure]
    assert failure.step_key == "source_videos"
    message = failure.step_failure_data.error.message
    assert "notes.mp4" in message and "empty.mp4" in message
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    assert {v.status for v in registry.videos_in(key)} == {"failed"}
    assert index_rows(settings) == []


def test_the_data_version_is_the_file_sha256_and_follows_its_content(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    folder = tmp_path / "in"
    path = small_video(folder / "v.mp4", seed=3)
    settings = fast_settings(folder, tmp_path / "data")
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    resources = {
        "storage": StorageResource(data_dir=str(settings.data_dir)),
        "io_manager": PartitionedParquetIOManager(base_dir=str(settings.data_dir / "assets")),
    }
    key = video_id_for("v.mp4")

    def materialize_and_read_version() -> str:
        scan(settings, registry, seal_partial=True)
        if not instance.has_dynamic_partition("videos", key):
            instance.add_dynamic_partitions("videos", [key])
        run = dg.materialize([source_videos], partition_key=key, instance=instance, resources=resources)
        assert run.success
        record = instance.get_latest_data_version_record(dg.AssetKey("source_videos"), partition_key=key)
        return record.asset_materialization.tags["dagster/data_version"]

    first = materialize_and_read_version()
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()

    small_video(path, seed=4)  # same path, new content
    second = materialize_and_read_version()
    assert second == hashlib.sha256(path.read_bytes()).hexdigest()
    assert second != first
    assert registry.get(key).sha256 == second
