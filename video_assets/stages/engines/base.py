"""The engine interface the tensors and embeddings assets call, and the local engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from video_assets.media.frames import FrameSignature
from video_assets.models.device_runtime import make_runtime
from video_assets.models.hub import ModelHub
from video_assets.settings.config import FrameSettings
from video_assets.stages.frames import FramesSummary, extract_partition_frames
from video_assets.stages.parquet_parts import RowGroups, TableSink
from video_assets.stages.resolved import ModelPlan
from video_assets.stages.tensors import TensorSummary, build_tensors
from video_assets.stages.thumbnails import ThumbnailStrips

from .work import EmbedOutcome, Log, dtype_name, embed_with, local_worker, no_log


class EngineError(RuntimeError):
    """The engine cannot do the work (cluster unreachable, a request it can never meet)."""


@dataclass(frozen=True)
class FramesJob:
    """One partition's frames: its clips, made under `settings` for `signatures`; rows go to `writer`,
    thumbnail strips to `strips`."""

    clips: pa.Table
    settings: FrameSettings
    signatures: list[FrameSignature]
    writer: TableSink
    strips: ThumbnailStrips


@dataclass(frozen=True)
class TensorsJob:
    """One partition's model tensors: `plan`'s recipe over its clips and stored frames; rows go to `writer`."""

    plan: ModelPlan
    hub: ModelHub
    clips: pa.Table
    frames: RowGroups
    tensor_dtype: str
    writer: TableSink
    log: Log = no_log


@dataclass(frozen=True)
class EmbedJob:
    """One partition's embeddings: `plan`'s model on `device` in `dtype` over its stored tensors."""

    plan: ModelPlan
    hub: ModelHub
    device: str
    dtype: str
    tensors: RowGroups
    clips: pa.Table
    log: Log = no_log


class Engine(Protocol):
    name: str

    def prepare(self, plans: list[ModelPlan], hub: ModelHub, device: str, dtype: str) -> None:
        """Before the first partition: connect and start what the models need (bounded in time)."""

    def extract_frames(self, job: FramesJob) -> FramesSummary:
        """Decode every clip's frames (rows to `job.writer`, thumbnail strips to `job.strips`)."""

    def build_tensors(self, job: TensorsJob) -> TensorSummary:
        """Decode (where the frames are missing) and prepare every clip; rows go to `job.writer`."""

    def embed(self, job: EmbedJob) -> EmbedOutcome:
        """The partition's index rows, and the worker that embedded each video."""


class LocalEngine:
    """Everything in the calling process (the Dagster step): what the graph did before engines."""

    name = "local"

    def prepare(self, plans: list[ModelPlan], hub: ModelHub, device: str, dtype: str) -> None:
        return None

    def extract_frames(self, job: FramesJob) -> FramesSummary:
        return extract_partition_frames(job.clips, job.settings, job.writer, job.signatures, job.strips)

    def build_tensors(self, job: TensorsJob) -> TensorSummary:
        plan = job.plan
        prepare = plan.entry.preprocessor(job.hub, plan.options)
        return build_tensors(
            prepare,
            plan.name,
            plan.recipe,
            job.clips,
            job.frames,
            tensor_dtype=job.tensor_dtype,
            writer=job.writer,
            log=job.log,
        )

    def embed(self, job: EmbedJob) -> EmbedOutcome:
        plan = job.plan
        runtime = make_runtime(job.device, job.dtype, plan.gpu_memory_gb)
        embedder = plan.entry.load_cached(job.hub, runtime.device, runtime.dtype, plan.options)
        table, report, text_scale = embed_with(embedder, runtime, plan.options, job.tensors, job.clips, job.log)
        worker = local_worker(runtime.device)
        workers = {v: worker for v in dict.fromkeys(table.column("video_id").to_pylist())}
        return EmbedOutcome(table, report, text_scale, str(runtime.device), dtype_name(runtime.dtype), workers)
