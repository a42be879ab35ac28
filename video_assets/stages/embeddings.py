"""<model>_embeddings: batched forward passes over a partition's tensors; rows for the index."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import torch

from video_assets.index.schema import clip_schema
from video_assets.models.base import Embedder, EmbedderSpec
from video_assets.models.runtime import embed_batches
from video_assets.models.text_match import REFERENCE_SCALE, TextMatch, text_match
from video_assets.stages.parquet_parts import ParquetPart, RowGroups, fields_to_array

CHUNK_CLIPS = 256  # tensors held in memory at once; bounds memory on long videos


@dataclass
class EmbeddingReport:
    clips: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)
    oom_backoffs: int = 0
    seconds: float = 0.0
    peak_memory_bytes: int = 0
    batch_size: int = 0  # the batch size chosen (may shrink after OOM: see batch_sizes)

    @property
    def clips_per_s(self) -> float:
        return self.clips / self.seconds if self.seconds else 0.0


def text_scale_for(embedder: Embedder, setting: str) -> float:
    """The text-match multiplier: "reference" = NeMo Curator's fixed 100, "model" = the model's
    own learned logit scale (refused for a model that has none)."""
    if setting == "reference":
        return REFERENCE_SCALE
    if embedder.logit_scale is None:
        raise ValueError(f"{embedder.spec.name} has no learned logit scale; set text_match_scale to 'reference'")
    return embedder.logit_scale


def embed_partition(
    embedder: Embedder,
    tensors: RowGroups,
    clips: pa.Table,
    *,
    batch_size: int | Callable[[torch.Tensor], int],
    gpu_memory_gb: float | None = None,
    texts_to_verify: tuple[str, ...] = (),
    text_scale: float = REFERENCE_SCALE,
    log: Callable[[str], None] = lambda _msg: None,
) -> tuple[pa.Table, EmbeddingReport]:
    """Embed every prepared clip; returns the index rows (schema `clip_schema`) and a report."""
    spec = embedder.spec
    by_id = {c["clip_id"]: c for c in clips.to_pylist()}
    text_vectors = embedder.embed_text(list(texts_to_verify)) if texts_to_verify else None
    created = datetime.now(timezone.utc)
    rows: list[dict] = []
    report = EmbeddingReport()
    for chunk in _chunks(tensors, report):
        if callable(batch_size):  # sized from the first real item (memory probe on CUDA)
            batch_size = batch_size(chunk[0][1])
        vectors = _embed_chunk(embedder, chunk, batch_size, gpu_memory_gb, log, report)
        # A chunk that backed off after an OOM hands its smaller size to the next chunk, so
        # every 256-clip chunk does not hit the same wall again.
        batch_size = report.batch_size
        matches = (
            text_match(vectors, text_vectors, list(texts_to_verify), scale=text_scale)
            if text_vectors is not None
            else None
        )
        for i, (clip_id, _) in enumerate(chunk):
            match = matches[i] if matches else None
            rows.append(_index_row(by_id[clip_id], vectors[i], spec, match, texts_to_verify, created))
        report.clips += len(chunk)
    return pa.Table.from_pylist(rows, schema=clip_schema(spec.dim)), report


def _chunks(tensors: ParquetPart, report: EmbeddingReport) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """The partition's prepared clips as (clip id, tensor), CHUNK_CLIPS at a time, so a long video's
    tensors are never all in memory; a clip the tensors step skipped goes to `report.skipped` instead."""
    pending: list[tuple[str, torch.Tensor]] = []
    for group in tensors.iter_row_groups():
        for row in group.to_pylist():
            if row["skip_reason"] is not None:
                report.skipped[row["clip_id"]] = row["skip_reason"]
                continue
            # Stored as float16/32 on disk; the runtime casts to the model dtype on device.
            pending.append((row["clip_id"], torch.from_numpy(fields_to_array(row).astype("float32"))))
            if len(pending) >= CHUNK_CLIPS:
                yield pending
                pending.clear()  # the caller is done with the chunk: free its tensors before reading on
    if pending:
        yield pending


def _embed_chunk(
    embedder: Embedder,
    chunk: list[tuple[str, torch.Tensor]],
    batch_size: int,
    gpu_memory_gb: float | None,
    log: Callable[[str], None],
    report: EmbeddingReport,
) -> torch.Tensor:
    """One chunk's forward passes (`embed_batches`: OOM back-off, memory cap); its batch sizes, back-offs,
    time and peak memory are added to `report`, whose `batch_size` becomes the size the run ended with."""
    spec = embedder.spec
    run = embed_batches(
        embedder.embed_video,
        [t for _, t in chunk],
        batch_size=batch_size,
        device=embedder.device,
        dtype=embedder.dtype,
        item_ids=[clip_id for clip_id, _ in chunk],
        gpu_memory_gb=gpu_memory_gb,
        on_event=lambda e: log(f"{spec.name}: {e.kind} at item {e.start}, size {e.size} -> next {e.next_batch_size}"),
    )
    report.batch_sizes.extend(run.batch_sizes)
    report.oom_backoffs += run.oom_backoffs
    report.seconds += run.seconds
    report.peak_memory_bytes = max(report.peak_memory_bytes, run.peak_memory_bytes or 0)
    report.batch_size = run.final_batch_size
    return run.vectors


def _index_row(
    clip: dict,
    vector: torch.Tensor,
    spec: EmbedderSpec,
    match: TextMatch | None,
    texts_to_verify: tuple[str, ...],
    created: datetime,
) -> dict:
    """One clip's row of the index (`clip_schema`): its clip facts, vector, model and text match."""
    return {
        "clip_id": clip["clip_id"],
        "video_id": clip["video_id"],
        "partition_key": clip["partition_key"],
        "source_path": clip["source_path"],
        "span_start_s": clip["span_start_s"],
        "span_end_s": clip["span_end_s"],
        "duration_s": clip["duration_s"],
        "clip_path": clip["clip_path"],
        "vector": vector.tolist(),
        "model_id": spec.model_id,
        "model_revision": spec.revision,
        "text_match": match.best_text if match else None,
        "text_match_prob": match.best_prob if match else None,
        "text_scores": json.dumps(dict(zip(texts_to_verify, match.probs))) if match else None,
        "created_at": created,
    }
