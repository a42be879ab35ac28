"""One <model>_tensors -> <model>_embeddings -> <model>_clip_index chain per enabled embedder.

Upstream partitions are read through ``deps`` + `StorageResource.upstream`, as in
assets/media.py (same files and lineage, fewer instance events per run).
"""


import logging
import time
from collections import Counter
from collections.abc import Mapping

import dagster as dg
import numpy as np

from video_assets.assets.partitions import videos_partitions
from video_assets.config import Settings
from video_assets.index.committer import commit_partition_locked
from video_assets.index.readback import rows_of_videos
from video_assets.ledger import VideoLedger
from video_assets.models.registry import RegisteredEmbedder
from video_assets.models.text_match import REFERENCE_SCALE
from video_assets.parquet_parts import ParquetPart
from video_assets.resources.gpu import GpuResource
from video_assets.resources.lancedb import LanceDBResource
from video_assets.resources.model_hub import ModelHubResource
from video_assets.resources.settings import SettingsResource
from video_assets.resources.storage import StorageResource
from video_assets.settings_versions import embeddings_version, tensors_version
from video_assets.stages.checks import check_index_rows, check_tensor_rows, check_unique_ids, check_vectors
from video_assets.stages.embeddings import embed_partition
from video_assets.stages.tensors import TENSOR_SCHEMA, build_tensors


_logger = logging.getLogger(__name__)


def gpu_op_tags(num_gpus: int, num_cpus: int) -> dict:
    """Resource requests a Kubernetes executor applies to the step's pod (dagster-k8s)."""
    limits: dict = {"cpu": str(num_cpus)}
    if num_gpus:
        limits["nvidia.com/gpu"] = str(num_gpus)
    return {"dagster-k8s/config": {"container_config": {"resources": {"requests": {"cpu": str(num_cpus)}, "limits": limits}}}}


def model_assets(
    entry: RegisteredEmbedder, settings: Settings, required: Mapping[str, str]
) -> list[dg.AssetsDefinition]:
    """``required``: model -> index version of every enabled model (what makes a video done)."""
    name = entry.spec.name
    overrides = settings.model(name)
    spec = entry.spec_for(overrides)  # frames_per_clip may follow models.<name>.num_frames
    target_fps = overrides.target_fps or spec.target_fps
    num_gpus = spec.num_gpus_per_worker if overrides.num_gpus_per_worker is None else overrides.num_gpus_per_worker
    num_cpus = overrides.num_cpus or spec.num_cpus
    gpu_memory_gb = spec.gpu_memory_gb if overrides.gpu_memory_gb is None else overrides.gpu_memory_gb
    version = f"{spec.revision}"

    @dg.asset(
        name=f"{name}_tensors",
        partitions_def=videos_partitions,
        group_name=name,
        code_version=tensors_version(settings, name, version),
        kinds={"pytorch"},
        op_tags=gpu_op_tags(0, num_cpus),
        deps=["clips", "frames"],
        check_specs=[
            dg.AssetCheckSpec(
                "frames_per_tensor",
                asset=f"{name}_tensors",
                blocking=True,
                description=f"Every kept clip has {spec.frames_per_clip} frames (the model's count); "
                "skipped clips carry their reason; no clip id twice.",
            )
        ],
        description=f"Model-ready tensors for {name}: {spec.frames_per_clip} frames per clip at "
        f"{target_fps} fps (re-extracted at a higher fps when a clip has too few).",
    )
    def tensors(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        settings: SettingsResource,
        model_hub: ModelHubResource,
    ):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
        started = time.perf_counter()
        cfg = settings.settings
        verbose = cfg.model(name).verbose
        prepare = entry.preprocessor(model_hub.hub(), cfg.model(name))
        with storage.writer(context, TENSOR_SCHEMA) as writer:
            summary = build_tensors(
                prepare,
                spec,
                storage.upstream(context, "clips").read(),
                storage.upstream(context, "frames"),
                target_fps=target_fps,
                frame_settings=cfg.frames,
                tensor_dtype=cfg.tensor_dtype,
                writer=writer,
                log=context.log.info if verbose else _logger.debug,
            )
            path = writer.commit()
        # Clips the frames step dropped are already in the ledger under "frames".
        own = {c: r for c, r in summary.skipped.items() if c not in summary.undecoded}
        clips_table = storage.upstream(context, "clips").read()
        video_of = dict(zip(clips_table.column("clip_id").to_pylist(), clips_table.column("video_id").to_pylist()))
        VideoLedger(storage.registry()).record_drops(
            f"{name}_tensors", set(video_of.values()), {c: (video_of[c], r) for c, r in own.items()}
        )
        stored = ParquetPart(path, context.partition_key)
        problems = check_tensor_rows(stored.read(columns=["clip_id", "num_frames", "skip_reason", "shape"]), spec.frames_per_clip)
        return dg.MaterializeResult(
            value=stored,
            check_results=[
                dg.AssetCheckResult(check_name="frames_per_tensor", passed=not problems, metadata={"problems": problems})
            ],
            metadata={
                "clips": summary.clips,
                "reextracted_clips": len(summary.reextracted),
                "skipped_clips": len(summary.skipped),
                "skipped": [f"{k}: {v}" for k, v in summary.skipped.items()],
                "target_fps": target_fps,
                "frames_per_clip": spec.frames_per_clip,
                "tensor_dtype": cfg.tensor_dtype,
                "seconds": time.perf_counter() - started,
            },
        )

    @dg.asset(
        name=f"{name}_embeddings",
        partitions_def=videos_partitions,
        group_name=name,
        code_version=embeddings_version(settings, name, version),
        kinds={"pytorch"},
        deps=[f"{name}_tensors", "clips"],
        pool="gpu" if num_gpus else None,
        op_tags=gpu_op_tags(num_gpus, num_cpus),
        retry_policy=dg.RetryPolicy(max_retries=1),
        check_specs=[
            dg.AssetCheckSpec(
                "vectors_valid",
                asset=f"{name}_embeddings",
                blocking=True,
                description=f"Vectors are {spec.dim}-d, finite and unit norm; no clip id twice.",
            )
        ],
        description=f"Clip embeddings from {name} ({spec.dim}-d, {spec.model_id}@{spec.revision}).",
    )
    def embeddings(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        settings: SettingsResource,
        model_hub: ModelHubResource,
        gpu: GpuResource,
    ):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
        model_cfg = settings.settings.model(name)
        runtime = gpu.runtime(gpu_memory_gb)
        embedder = entry.load_cached(model_hub.hub(), runtime.device, runtime.dtype, model_cfg)
        text_scale = REFERENCE_SCALE
        if model_cfg.text_match_scale == "model":
            if embedder.logit_scale is None:
                raise dg.Failure(description=f"{name} has no learned logit scale; set text_match_scale to 'reference'")
            text_scale = embedder.logit_scale
        table, report = embed_partition(
            embedder,
            storage.upstream(context, f"{name}_tensors"),
            storage.upstream(context, "clips").read(),
            batch_size=model_cfg.batch_size or runtime.batch_sizer(embedder),
            gpu_memory_gb=runtime.gpu_memory_gb,
            texts_to_verify=model_cfg.texts_to_verify,
            text_scale=text_scale,
            # Per-clip/per-batch lines are events in the instance only when asked for (verbose):
            # each one is a storage write.
            log=context.log.info if model_cfg.verbose else _logger.debug,
        )
        vectors = np.asarray(table.column("vector").to_pylist(), dtype=np.float32).reshape(-1, spec.dim)
        problems = check_vectors(vectors, dim=spec.dim) + check_unique_ids(table.column("clip_id").to_pylist(), "the embeddings")
        if report.oom_backoffs:
            context.log.warning(f"{name}: CUDA out of memory {report.oom_backoffs} time(s); batch halved and retried")
        return dg.MaterializeResult(
            value=table,
            check_results=[
                dg.AssetCheckResult(check_name="vectors_valid", passed=not problems, metadata={"problems": problems})
            ],
            metadata={
                "clips": report.clips,
                "skipped_clips": len(report.skipped),
                "dim": spec.dim,
                "model_id": spec.model_id,
                "model_revision": spec.revision,
                "device": str(runtime.device),
                "dtype": str(runtime.dtype).replace("torch.", ""),
                "gpu_memory_gb": gpu_memory_gb,
                "batch_size": report.batch_size,
                "batch_sizes_used": sorted(set(report.batch_sizes)),
                "oom_backoffs": report.oom_backoffs,
                "clips_per_s": round(report.clips_per_s, 2),
                "peak_memory_mb": round(report.peak_memory_bytes / 2**20, 1),
                "texts_to_verify": list(model_cfg.texts_to_verify),
                "text_match_scale": text_scale,
            },
        )

    @dg.asset(
        name=f"{name}_clip_index",
        partitions_def=videos_partitions,
        group_name=name,
        code_version="1",
        kinds={"lancedb"},
        deps=[f"{name}_embeddings"],
        # One committer per table: concurrent merges thrash and can duplicate keys.
        pool=f"lancedb_{name}",
        retry_policy=dg.RetryPolicy(max_retries=2, delay=1.0),
        check_specs=[
            dg.AssetCheckSpec(
                "index_rows_match",
                asset=f"{name}_clip_index",
                description="After the commit, each video has as many index rows as embedding rows and no "
                "clip id appears twice; a video is recorded done only when this holds.",
            )
        ],
        description=f"This partition's clips in the LanceDB table of {name}: one commit per partition.",
    )
    def clip_index(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        lancedb: LanceDBResource,
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
        # becomes done when every enabled model's landing is there (ledger.py).
        readable = storage.upstream(context, "source_videos").read(columns=["video_id"]).column("video_id").to_pylist()
        ledger = VideoLedger(storage.registry())
        statuses: dict[str, str] = {}
        if problems:
            for video_id in readable:
                ledger.registry.mark(video_id, "failed", error=f"{name} index check failed: {'; '.join(problems[:3])}")
        else:
            rows = Counter(staged.column("video_id").to_pylist())
            ledger.record_landed(name, required[name], {v: rows.get(v, 0) for v in readable})
            statuses = ledger.settle(readable, required)
        for account in ledger.accounts([v for v, s in statuses.items() if s == "failed"]):
            context.log.warning(f"{account.abs_path}: {account.error}")
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(check_name="index_rows_match", passed=not problems, metadata={"problems": problems})
            ],
            metadata={
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
            }
        )

    return [tensors, embeddings, clip_index]
