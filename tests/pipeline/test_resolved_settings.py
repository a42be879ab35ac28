"""Settings resolved once (stages/resolved.py): one plan per model, the frame rates the models need
extracted by the frames asset, GPU shares, and the values the graph is built from."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.media.clipping import ClipSpan
from video_assets.media.synthetic import make_video
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.orchestration.assets.embeddings import k8s_op_tags
from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import FrameSettings, ModelSettings
from video_assets.stages import frame_creation
from video_assets.stages.clips import CLIP_SCHEMA, clip_row
from video_assets.stages.frames import FRAMES_SCHEMA, extract_partition_frames
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter
from video_assets.stages.resolved import gpus_requested, resolve
from video_assets.stages.tensors import TENSOR_SCHEMA, build_tensors


def test_a_model_rate_missing_from_the_frames_settings_is_extracted_by_the_frames_asset(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, tmp_path / "data", models={"fingerprint": ModelSettings(target_fps=4.0)})
    resolved = resolve(settings)
    assert [s.key for s in resolved.frame_signatures] == ["sequence-2.0", "sequence-4.0"]
    assert resolved.model("fingerprint").recipe.target_fps == 4.0
    # The frames version follows the added signature (old frames files are stale, not reused).
    plain = resolve(settings_for(tmp_path, tmp_path / "data"))
    assert [s.key for s in plain.frame_signatures] == ["sequence-2.0"]
    assert plain.frames_version != resolved.frames_version
    assert plain.model("fingerprint").index_version != resolved.model("fingerprint").index_version


def test_the_tensors_stage_decodes_nothing_when_the_frames_asset_holds_the_model_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = make_video(tmp_path / "v.mp4", duration_s=4.0, fps=24, size=(96, 64), seed=5, pattern="moving")
    spans = [ClipSpan(0.0, 2.0), ClipSpan(2.0, 4.0)]
    clips = pa.Table.from_pylist(
        [clip_row("v", "v", str(video), i, s) for i, s in enumerate(spans)], schema=CLIP_SCHEMA
    )
    # frames.target_fps says 2, the model asks for 5: before resolve, every clip was decoded again.
    settings = settings_for(tmp_path, tmp_path / "data", models={"fingerprint": ModelSettings(target_fps=5.0)})
    resolved = resolve(settings)
    with StreamingParquetWriter(tmp_path / "frames.parquet", FRAMES_SCHEMA) as writer:
        extract_partition_frames(clips, settings.frames, writer, resolved.frame_signatures)
        frames = ParquetPart(writer.commit(), "v")
    decodes: list[float] = []
    real = frame_creation.extract_clip_frames
    monkeypatch.setattr(
        frame_creation, "extract_clip_frames", lambda *a, **k: decodes.append(a[2].fps) or real(*a, **k)
    )
    plan = resolved.model("fingerprint")
    with StreamingParquetWriter(tmp_path / "tensors.parquet", TENSOR_SCHEMA) as writer:
        summary = build_tensors(
            FingerprintEmbedder().prepare, plan.name, plan.recipe, clips, frames, tensor_dtype="float32", writer=writer
        )
    assert summary.clips == 2 and decodes == []
    # Without the model's rate in the frames file (one written before), the stage decodes it.
    with StreamingParquetWriter(tmp_path / "frames2.parquet", FRAMES_SCHEMA) as writer:
        extract_partition_frames(clips, settings.frames, writer)
        old_frames = ParquetPart(writer.commit(), "v")
    with StreamingParquetWriter(tmp_path / "tensors2.parquet", TENSOR_SCHEMA) as writer:
        build_tensors(
            FingerprintEmbedder().prepare,
            plan.name,
            plan.recipe,
            clips,
            old_frames,
            tensor_dtype="float32",
            writer=writer,
        )
    assert decodes == [5.0, 5.0]


def test_per_model_overrides_are_resolved_into_one_plan(tmp_path: Path) -> None:
    options = ModelSettings(num_cpus=3, num_gpus_per_worker=0.5, gpu_memory_gb=6.0, target_fps=1.0)
    resolved = resolve(settings_for(tmp_path, tmp_path / "data", models={"fingerprint": options}))
    plan = resolved.model("fingerprint")
    assert (plan.num_cpus, plan.num_gpus_per_worker, plan.gpu_memory_gb, plan.target_fps) == (3, 0.5, 6.0, 1.0)
    assert plan.recipe.num_threads == 3  # num_cpus is the decode thread count of re-extraction
    assert plan.pool == "gpu"
    # Kubernetes counts whole devices: half a GPU asks for one (docs/scale.md).
    assert gpus_requested(0.5) == 1 and gpus_requested(2.0) == 2 and gpus_requested(0) == 0
    tags = k8s_op_tags(plan.num_gpus_per_worker, plan.num_cpus)["dagster-k8s/config"]["container_config"]["resources"]
    assert tags == {"requests": {"cpu": "3"}, "limits": {"cpu": "3", "nvidia.com/gpu": "1"}}
    # A weights-free model asks for no GPU and runs outside the gpu pool.
    plain = resolve(settings_for(tmp_path, tmp_path / "data")).model("fingerprint")
    assert plain.pool is None and plain.gpu_memory_gb is None
    with pytest.raises(KeyError, match="'internvideo2' is not enabled; enabled: fingerprint"):
        resolved.model("internvideo2")


def test_the_graph_is_built_from_the_resolved_values(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        tmp_path / "data",
        lancedb_uri=str(tmp_path / "elsewhere"),
        models={"fingerprint": ModelSettings(num_gpus_per_worker=1.5, target_fps=3.0)},
    )
    resolved = resolve(settings)
    definitions = build_definitions(settings)
    graph = definitions.resolve_asset_graph()
    plan = resolved.model("fingerprint")
    node = graph.get(dg_key("fingerprint_embeddings"))
    assert node.code_version == plan.embeddings_version
    assert graph.get(dg_key("fingerprint_tensors")).code_version == plan.tensors_version
    assert graph.get(dg_key("frames")).code_version == resolved.frames_version
    assert graph.get(dg_key("clips")).code_version == resolved.clips_version
    assert definitions.resources["lancedb"].uri == str(tmp_path / "elsewhere")
    assert definitions.resources["io_manager"].base_dir == str(resolved.paths.assets_dir)
    assert "settings" not in definitions.resources  # nothing left to edit in the launchpad
    embed = definitions.resolve_assets_def("fingerprint_embeddings")
    k8s = json.loads(embed.op.tags["dagster-k8s/config"])  # Dagster stores dict tags as JSON
    assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_frames_version_is_unchanged_when_the_models_ask_for_nothing_new(tmp_path: Path) -> None:
    # Upgrading must not reopen every done video: with the model's rate among frames.target_fps
    # the frames version is the settings' hash alone, as before resolve existed.
    from video_assets.settings.versions import frames_version

    settings = settings_for(tmp_path, tmp_path / "data", frames=FrameSettings(target_fps=(1.0, 2.0)))
    assert resolve(settings).frames_version == frames_version(settings)


def dg_key(name: str):
    import dagster as dg

    return dg.AssetKey(name)
