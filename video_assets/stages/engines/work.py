"""The units of work both engines run: one video's tensors, one batch of clips' embeddings.

The local engine calls these in the Dagster step's process; the Ray engine calls the same
functions inside its tasks and actors, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import TypeVar

import pyarrow as pa
import torch

from video_assets.media.frames import FrameSignature
from video_assets.models.base import Embedder
from video_assets.models.device_runtime import Runtime
from video_assets.models.embedder_registry import RegisteredEmbedder
from video_assets.models.hub import ModelHub
from video_assets.settings.config import FrameSettings, ModelSettings
from video_assets.stages.embeddings import EmbeddingReport, embed_partition, text_scale_for
from video_assets.stages.frame_creation import FrameRecipe
from video_assets.stages.frames import FRAMES_SCHEMA, FramesSummary, extract_partition_frames
from video_assets.stages.parquet_parts import RowGroups
from video_assets.stages.tensors import TENSOR_SCHEMA, TensorSummary, build_tensors
from video_assets.stages.thumbnails import ThumbnailStrips

Log = Callable[[str], None]


def no_log(_msg: str) -> None:
    return None


@dataclass(frozen=True)
class WorkerInfo:
    """Where a video was embedded: a Ray node id (or the host name locally), the GPU ids the
    worker was given (empty when the model asked for none) and its process id."""

    node: str
    gpu_ids: list[int]
    pid: int

    def to_dict(self) -> dict:
        return asdict(self)


def local_worker(device: torch.device) -> WorkerInfo:
    gpu_ids = [device.index or 0] if device.type == "cuda" else []
    return WorkerInfo(socket.gethostname(), gpu_ids, os.getpid())


class TableRows:
    """Row groups held in memory, read like a `ParquetPart` by the stage functions."""

    def __init__(self, tables: list[pa.Table]) -> None:
        self._tables = tables

    def iter_row_groups(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        for table in self._tables:
            yield table.select(columns) if columns else table


class CollectingWriter:
    """Stands in for a `StreamingParquetWriter` inside a worker: the tables go back to the step."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def write(self, table: pa.Table) -> None:
        self.tables.append(table)

    def table(self, schema: pa.Schema) -> pa.Table:
        return pa.concat_tables(self.tables) if self.tables else schema.empty_table()


def dtype_name(dtype: object) -> str:
    """torch.float32 -> "float32", as the embeddings metadata shows it."""
    return str(dtype).replace("torch.", "")


def split_by_video(table: pa.Table) -> dict[str, pa.Table]:
    """The rows of each video, in first-seen order."""
    ids = table.column("video_id").to_pylist()
    order = list(dict.fromkeys(ids))
    return {v: table.filter(pa.array([i == v for i in ids])) for v in order}


@dataclass
class VideoTensors:
    table: pa.Table  # TENSOR_SCHEMA rows of one video
    summary: TensorSummary


def video_tensors(
    entry: RegisteredEmbedder,
    options: ModelSettings,
    hub: ModelHub,
    recipe: FrameRecipe,
    clips: pa.Table,
    frames: list[pa.Table],
    tensor_dtype: str,
) -> VideoTensors:
    """One video's tensor rows: its stored frames (or a new decode) made model-ready."""
    writer = CollectingWriter()
    prepare = entry.preprocessor(hub, options)
    summary = build_tensors(
        prepare, entry.spec.name, recipe, clips, TableRows(frames), tensor_dtype=tensor_dtype, writer=writer
    )
    return VideoTensors(writer.table(TENSOR_SCHEMA), summary)


T = TypeVar("T")


@dataclass
class EmbedOutcome:
    """A partition's (or one video's) index rows and where they were made."""

    table: pa.Table
    report: EmbeddingReport
    text_scale: float
    device: str
    dtype: str
    workers: dict[str, WorkerInfo] = field(default_factory=dict)  # video_id -> worker
    model_loads: int | None = None  # Ray: loads over the model's actor pool so far


def embed_with(
    embedder: Embedder, runtime: Runtime, options: ModelSettings, tensors: RowGroups, clips: pa.Table, log: Log = no_log
) -> tuple[pa.Table, EmbeddingReport, float]:
    """`embed_partition` under the model's settings: the rows, the report and the text scale.
    ``tensors``: anything with `iter_row_groups()` (a `ParquetPart` or `TableRows`)."""
    text_scale = text_scale_for(embedder, options.text_match_scale)
    table, report = embed_partition(
        embedder,
        tensors,
        clips,
        batch_size=options.batch_size or runtime.batch_sizer(embedder),
        gpu_memory_gb=runtime.gpu_memory_gb,
        texts_to_verify=options.texts_to_verify,
        text_scale=text_scale,
        log=log,
    )
    return table, report, text_scale


def merged(parts: list[T], into: T, *, maxed: tuple[str, ...] = ()) -> T:
    """The per-video `parts` (a dataclass of counts and collections) added up into `into`: numbers
    summed (`maxed` ones take the largest), lists extended, dicts and sets updated."""
    for part in parts:
        for f in fields(into):
            mine, theirs = getattr(into, f.name), getattr(part, f.name)
            if f.name in maxed:
                setattr(into, f.name, max(mine, theirs))
            elif isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, (dict, set)):
                mine.update(theirs)
            else:
                setattr(into, f.name, mine + theirs)
    return into


def merge_tensor_summaries(parts: list[TensorSummary]) -> TensorSummary:
    return merged(parts, TensorSummary())


def merge_reports(parts: list[EmbeddingReport]) -> EmbeddingReport:
    """`seconds` add up to worker-seconds: clips_per_s is per worker."""
    return merged(parts, EmbeddingReport(), maxed=("peak_memory_bytes", "batch_size"))


@dataclass
class VideoFrames:
    table: pa.Table  # FRAMES_SCHEMA rows of one video
    summary: FramesSummary
    strips: dict[str, bytes]  # clip_id -> thumbnail strip JPEG


def video_frames(clips: pa.Table, settings: FrameSettings, signatures: list[FrameSignature]) -> VideoFrames:
    """One video decoded: its frame rows, what was dropped, and its clips' thumbnail strips."""
    writer, strips = CollectingWriter(), ThumbnailStrips()
    summary = extract_partition_frames(clips, settings, writer, signatures, strips)
    return VideoFrames(writer.table(FRAMES_SCHEMA), summary, strips.jpegs)


def merge_frames_summary(merged: FramesSummary, part: FramesSummary) -> None:
    """Adds one video's summary into the partition's."""
    merged.clips += part.clips
    merged.frames += part.frames
    merged.payload_bytes += part.payload_bytes
    merged.dropped.update(part.dropped)
    merged.failed_videos.update(part.failed_videos)
    merged.repeated_samples += part.repeated_samples
    merged.repeated_by_clip.update(part.repeated_by_clip)
    merged.repeated_by_video.update(part.repeated_by_video)
    merged.scaled_from.update(part.scaled_from)
