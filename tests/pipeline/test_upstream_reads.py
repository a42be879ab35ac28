"""Steps read upstream partitions through `deps` (no IO-manager inputs): same lineage, clear errors."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.orchestration.assets.media import media_assets
from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
from video_assets.orchestration.resources.storage import PartitionedParquetIOManager, StorageResource
from video_assets.stages.resolved import resolve


def test_graph_keeps_its_lineage_without_input_events(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "videos", tmp_path / "data")
    graph = build_definitions(settings).resolve_asset_graph()
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    # The asset graph (docs/architecture.md): each step depends on what it reads, so staleness and ordering hold.
    assert parents["source_videos"] == set()
    assert parents["clips"] == {"source_videos"}
    assert parents["frames"] == {"clips"}
    assert parents["fingerprint_tensors"] == {"clips", "frames"}
    assert parents["fingerprint_embeddings"] == {"fingerprint_tensors", "clips"}
    assert parents["fingerprint_clip_index"] == {"fingerprint_embeddings"}
    # No step of the partition job loads an input through the IO manager: each load is two
    # more events written to the instance per run (benchmarks/RESULTS.md "Dagster scale").
    job = build_definitions(settings).resolve_job_def(EMBED_JOB)
    loaded = [
        (node.name, name)
        for node in job.graph.node_defs
        for name, input_def in node.input_dict.items()
        if not input_def.dagster_type.is_nothing
    ]
    assert loaded == []


def test_a_step_whose_upstream_partition_is_missing_fails_naming_it(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "videos", tmp_path / "data")
    resources = {
        "io_manager": PartitionedParquetIOManager(base_dir=str(settings.data_dir / "assets")),
        "storage": StorageResource(data_dir=str(settings.data_dir)),
    }
    _, clips, _ = media_assets(resolve(settings))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("videos", ["never-probed"])
        with pytest.raises(FileNotFoundError, match="source_videos partition 'never-probed'.*materialize it first"):
            dg.materialize([clips], partition_key="never-probed", instance=instance, resources=resources)
