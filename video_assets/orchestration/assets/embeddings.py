"""One <model>_tensors -> <model>_embeddings -> <model>_clip_index chain per enabled embedder.

The asset names are made from the model name, e.g. for `fingerprint`:
`fingerprint_tensors`, `fingerprint_embeddings`, `fingerprint_clip_index` (and, from
other modules, `fingerprint_duplicates`, `fingerprint_export`, ...). Everything a model
runs with comes from its `stages.resolved.ModelPlan`, fixed when the definitions are built.
Upstream partitions are read through ``deps`` + `StorageResource.upstream`, as in
assets/media.py (same files and lineage, fewer instance events per run).
"""

# No `from __future__ import annotations`: Dagster resolves resource types from real annotations.

import logging
import time
from collections import Counter
from collections.abc import Mapping

import dagster as dg

from video_assets.catalog.ledger import VideoLedger
from video_assets.index.committer import commit_partition_locked
from video_assets.index.readback import rows_of_videos, table_rows
from video_assets.index.schema import clip_schema
from video_assets.orchestration.assets.metadata import (
    check_result,
    checked_result,
    clip_table_entries,
    column_schema,
    one_or_list,
    seconds,
)
from video_assets.orchestration.assets.partitions import partitioned_asset
from video_assets.orchestration.resources.execution import ExecutionResource, engine_failure
from video_assets.orchestration.resources.gpu import GpuResource
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.model_hub import ModelHubResource
from video_assets.orchestration.resources.storage import StorageResource
from video_assets.stages.checks import check_embedding_rows, check_index_rows, check_tensor_rows
from video_assets.stages.clip_report import tensor_clip_rows
from video_assets.stages.engines.base import EmbedJob, TensorsJob
from video_assets.stages.parquet_parts import ParquetPart
from video_assets.stages.resolved import ModelPlan, gpus_requested
from video_assets.stages.tensors import TENSOR_SCHEMA

_logger = logging.getLogger(__name__)

TENSOR_CLIP_COLUMNS = {
    "clip": "clip number in its video",
    "span": "start-end in the video",
    "frames": "frames available before the model's selection",
    "fps": "rate the frames were sampled at",
    "status": "kept, re-extracted (at a higher fps) or skipped",
    "reason": "why the clip was skipped",
    "clip_id": "stable clip id",
}


def k8s_op_tags(num_gpus_per_worker: float, num_cpus: int) -> dict:
    """Resource requests a Kubernetes executor applies to the step's pod (dagster-k8s). GPUs are
    whole devices there (`gpus_requested`); a fraction shares a card through the pool instead."""
    limits: dict = {"cpu": str(num_cpus)}
    if gpus := gpus_requested(num_gpus_per_worker):
        limits["nvidia.com/gpu"] = str(gpus)
    return {
        "dagster-k8s/config": {
            "container_config": {"resources": {"requests": {"cpu": str(num_cpus)}, "limits": limits}}
        }
    }


def model_assets(plan: ModelPlan, required: Mapping[str, str], tensor_dtype: str) -> list[dg.AssetsDefinition]:
    """``required``: model -> index version of every enabled model (what makes a video done)."""
    return [tensors_asset(plan, tensor_dtype), embeddings_asset(plan), clip_index_asset(plan, required)]


def _log(plan: ModelPlan, context: dg.AssetExecutionContext):
    # Per-clip/per-batch lines are events in the instance only when asked for (verbose):
    # each one is a storage write.
    return context.log.info if plan.options.verbose else _logger.debug


def tensors_asset(plan: ModelPlan, tensor_dtype: str) -> dg.AssetsDefinition:
    name, spec = plan.name, plan.spec

    @partitioned_asset(
        f"{name}_tensors",
        name,
        check="frames_per_tensor",
        check_description=f"Every kept clip has {spec.frames_per_clip} frames (the "
        "model's count); skipped clips carry their reason; no clip id twice.",
        blocking=True,
        code_version=plan.tensors_version,
        kinds={"pytorch"},
        metadata={"dagster/column_schema": column_schema(TENSOR_SCHEMA)},
        op_tags=k8s_op_tags(0, plan.num_cpus),
        deps=["clips", "frames"],
        description=f"Model-ready tensors for {name}: {spec.frames_per_clip} frames per clip at "
        f"{plan.target_fps} fps (re-extracted at a higher fps when a clip has too few).",
    )
    def tensors(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        model_hub: ModelHubResource,
        execution: ExecutionResource,
    ):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
        started = time.perf_counter()
        engine = execution.engine()
        clips = storage.upstream(context, "clips").read()
        with storage.writer(context, TENSOR_SCHEMA) as writer, engine_failure():
            frames = storage.upstream(context, "frames")
            hub = model_hub.hub()
            summary = engine.build_tensors(
                TensorsJob(plan, hub, clips, frames, tensor_dtype, writer, _log(plan, context))
            )
            path = writer.commit()
        # Clips the frames step dropped are already in the ledger under "frames".
        video_of = dict(zip(clips.column("clip_id").to_pylist(), clips.column("video_id").to_pylist()))
        own = {c: (video_of[c], r) for c, r in summary.skipped.items() if c not in summary.undecoded}
        VideoLedger(storage.registry()).record_drops(f"{name}_tensors", set(video_of.values()), own)
        stored = ParquetPart(path, context.partition_key)
        made = stored.read(columns=["clip_id", "num_frames", "skip_reason", "shape", "fps", "reextracted"])
        problems = check_tensor_rows(made, spec.frames_per_clip)
        return checked_result(
            stored,
            "frames_per_tensor",
            problems,
            made.num_rows,
            {
                **clip_table_entries(
                    "clip_table", tensor_clip_rows(clips, made, summary.skipped), clips.num_rows, TENSOR_CLIP_COLUMNS
                ),
                "clips": summary.clips,
                "reextracted_clips": len(summary.reextracted),
                "skipped_clips": len(summary.skipped),
                "skipped": [f"{k}: {v}" for k, v in summary.skipped.items()],
                "target_fps": plan.target_fps,
                "frames_per_clip": spec.frames_per_clip,
                "tensor_dtype": tensor_dtype,
                "engine": engine.name,
                "seconds": seconds(time.perf_counter() - started),
            },
        )

    return tensors


def embeddings_asset(plan: ModelPlan) -> dg.AssetsDefinition:
    name, spec, options = plan.name, plan.spec, plan.options

    @partitioned_asset(
        f"{name}_embeddings",
        name,
        check="vectors_valid",
        check_description=f"Vectors are {spec.dim}-d, finite and unit norm; no clip id twice.",
        blocking=True,
        code_version=plan.embeddings_version,
        kinds={"pytorch"},
        metadata={"dagster/column_schema": column_schema(clip_schema(spec.dim))},
        deps=[f"{name}_tensors", "clips"],
        pool=plan.pool,
        op_tags=k8s_op_tags(plan.num_gpus_per_worker, plan.num_cpus),
        retry_policy=dg.RetryPolicy(max_retries=1),
        description=f"Clip embeddings from {name} ({spec.dim}-d, {spec.model_id}@{spec.revision}).",
    )
    def embeddings(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        model_hub: ModelHubResource,
        gpu: GpuResource,
        execution: ExecutionResource,
    ):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
        engine = execution.engine()
        tensors = storage.upstream(context, f"{name}_tensors")
        clips = storage.upstream(context, "clips").read()
        with engine_failure():
            made = engine.embed(
                EmbedJob(plan, model_hub.hub(), gpu.device, gpu.dtype, tensors, clips, _log(plan, context))
            )
        table, report = made.table, made.report
        problems = check_embedding_rows(table, dim=spec.dim)
        if report.oom_backoffs:
            context.log.warning(f"{name}: CUDA out of memory {report.oom_backoffs} time(s); batch halved and retried")
        return checked_result(
            table,
            "vectors_valid",
            problems,
            table.num_rows,
            {
                "clips": report.clips,
                "skipped_clips": len(report.skipped),
                "dim": spec.dim,
                "model_id": spec.model_id,
                "model_revision": spec.revision,
                "device": made.device,
                "dtype": made.dtype,
                "engine": engine.name,
                # video_id -> {node, gpu_ids, pid}: where each video was embedded (run --json shows it)
                "workers": dg.MetadataValue.json({v: w.to_dict() for v, w in made.workers.items()}),
                **({"model_loads": made.model_loads} if made.model_loads is not None else {}),
                "gpu_memory_gb": plan.gpu_memory_gb,
                "batch_size": report.batch_size,
                "batch_sizes_used": one_or_list(sorted(set(report.batch_sizes))),
                "oom_backoffs": report.oom_backoffs,
                "clips_per_s": dg.MetadataValue.float(round(report.clips_per_s, 1)),
                "peak_memory_mb": round(report.peak_memory_bytes / 2**20, 1),
                "texts_to_verify": list(options.texts_to_verify),
                "text_match_scale": made.text_scale,
            },
        )

    return embeddings


def clip_index_asset(plan: ModelPlan, required: Mapping[str, str]) -> dg.AssetsDefinition:
    name = plan.name

    @partitioned_asset(
        f"{name}_clip_index",
        name,
        check="index_rows_match",
        check_description="After the commit, each video has as many index rows as "
        "embedding rows and no clip id appears twice; a video is recorded done only when this holds.",
        blocking=False,
        code_version="1",
        kinds={"lancedb"},
        metadata={"dagster/column_schema": column_schema(clip_schema(plan.spec.dim))},
        deps=[f"{name}_embeddings"],
        # One committer per table: concurrent merges thrash and can duplicate keys.
        pool=f"lancedb_{name}",
        retry_policy=dg.RetryPolicy(max_retries=2, delay=1.0),
        description=f"This partition's clips in the LanceDB table of {name}: one commit per partition.",
    )
    def clip_index(
        context: dg.AssetExecutionContext, storage: StorageResource, lancedb: LanceDBResource
    ) -> dg.MaterializeResult:
        # Every video of the partition, so rows of a video that now fails or lost clips go.
        video_ids = [v.video_id for v in storage.registry().videos_in(context.partition_key)]
        # The pool of size 1 is the single committer; the table lock keeps two racing
        # committers (a raised pool, two machines on one disk) from duplicating keys.
        staged = storage.upstream(context, f"{name}_embeddings").read()
        db = lancedb.connect()
        result, lock = commit_partition_locked(db, name, staged, video_ids)
        problems = check_index_rows(staged, rows_of_videos(db, name, video_ids))
        # Only now are these rows in the table: the ledger records the landing, and a video
        # becomes done when every enabled model's landing is there (catalog/ledger.py).
        readable = storage.upstream(context, "source_videos").read(columns=["video_id"]).column("video_id").to_pylist()
        ledger = VideoLedger(storage.registry())
        rows = Counter(staged.column("video_id").to_pylist())
        statuses = ledger.record_commit(name, required, readable, rows, problems)
        for account in ledger.accounts([v for v, s in statuses.items() if s == "failed"]):
            context.log.warning(f"{account.abs_path}: {account.error}")
        return dg.MaterializeResult(
            check_results=[check_result("index_rows_match", problems)],
            metadata={
                # The table's rows after this commit: the index is one table, not a file per partition.
                "dagster/row_count": table_rows(db, name, result.table_version),
                "table": result.table,
                "operation": result.operation,
                "table_version": result.table_version,
                "inserted": result.inserted,
                "updated": result.updated,
                "deleted": result.deleted,
                "rows_for_videos": result.rows_for_videos,
                "attempts": result.attempts,
                "videos_done": sum(s == "done" for s in statuses.values()),
                "videos_failed": sum(s == "failed" for s in statuses.values()),
                "commit_lock": lock.kind,
                # A table left without a committed version by a killed first write, cleared here.
                **({"recovered": result.recovered} if result.recovered else {}),
                "lock_wait_s": round(lock.waited_s, 3),
                "seconds": round(result.seconds, 3),
            },
        )

    return clip_index
