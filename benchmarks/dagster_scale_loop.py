"""The baseline for the backfill benchmark: the graph's work as a plain Python loop.

Per partition it calls the same stage functions the asset bodies call
(`video_assets.stages.*`, `index.commit`), writes the same per-partition Parquet
files and makes the same one LanceDB commit, with no Dagster at all. Dagster's
cost is then (Dagster wall time) / (this loop's wall time) on the same videos
and the same partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video_assets.catalog.discovery import scan
from video_assets.catalog.registry import VideoRegistry
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.models.hub import ModelHub
from video_assets.models.runtime import apply_memory_cap, resolve_device, resolve_dtype
from video_assets.settings.config import Settings
from video_assets.stages.checks import check_clips, check_vectors
from video_assets.stages.clips import plan_clips
from video_assets.stages.embeddings import embed_partition
from video_assets.stages.frames import FRAMES_SCHEMA, extract_partition_frames
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter, write_table_atomic
from video_assets.stages.resolved import resolve
from video_assets.stages.sources import probe_partition
from video_assets.stages.tensors import TENSOR_SCHEMA, build_tensors

CPU_BATCH = 8  # what GpuResource picks on a CPU (orchestration/resources/gpu.py)


@dataclass(frozen=True)
class LoopResult:
    partitions: int
    clips: int  # rows committed to the index, all models


def _part(settings: Settings, asset: str, key: str) -> Path:
    # The IO manager's layout (orchestration/resources/storage.part_path), so both write the same files.
    return settings.data_dir / "assets" / asset / f"{key}.parquet"


def run_plain_loop(settings: Settings) -> LoopResult:
    """Register, seal and process every partition of ``settings.input_dir`` without Dagster."""
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    scan(settings, registry, seal_partial=True)
    hub = ModelHub(settings.paths.model_dir)
    resolved = resolve(settings)
    db = connect(settings.paths.lancedb_uri)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    clips_total = 0
    keys = registry.partition_keys()
    for key in keys:
        videos = registry.videos_in(key)
        probed = probe_partition(videos, registry)
        if probed.table.num_rows == 0:
            continue  # the asset fails this partition; nothing downstream runs
        write_table_atomic(probed.table, _part(settings, "source_videos", key))
        clips = plan_clips(probed.table, settings.clipping, settings.data_dir / "clips")
        durations = dict(
            zip(probed.table.column("video_id").to_pylist(), probed.table.column("duration_s").to_pylist())
        )
        if problems := check_clips(clips, durations):
            raise RuntimeError(f"partition {key}: {problems}")
        write_table_atomic(clips, _part(settings, "clips", key))
        with StreamingParquetWriter(_part(settings, "frames", key), FRAMES_SCHEMA) as writer:
            extract_partition_frames(clips, settings.frames, writer, resolved.frame_signatures)
            frames = ParquetPart(writer.commit(), key)
        for plan in resolved.models:
            entry, spec, options, gpu_memory_gb = plan.entry, plan.spec, plan.options, plan.gpu_memory_gb
            with StreamingParquetWriter(_part(settings, f"{spec.name}_tensors", key), TENSOR_SCHEMA) as writer:
                prepare = entry.preprocessor(hub, options)
                build_tensors(
                    prepare, spec.name, plan.recipe, clips, frames, tensor_dtype=settings.tensor_dtype, writer=writer
                )
                tensors = ParquetPart(writer.commit(), key)
            apply_memory_cap(device, gpu_memory_gb)
            embedder = entry.load_cached(hub, device, dtype, options)
            table, _report = embed_partition(
                embedder,
                tensors,
                clips,
                batch_size=options.batch_size or CPU_BATCH,
                gpu_memory_gb=gpu_memory_gb or None,
            )
            vectors = np.asarray(table.column("vector").to_pylist(), dtype=np.float32).reshape(-1, spec.dim)
            if problems := check_vectors(vectors, dim=spec.dim):
                raise RuntimeError(f"partition {key}: {problems}")
            write_table_atomic(table, _part(settings, f"{spec.name}_embeddings", key))
            result = commit_partition(db, spec.name, table, [v.video_id for v in videos])
            clips_total += result.inserted + result.updated
    return LoopResult(partitions=len(keys), clips=clips_total)
