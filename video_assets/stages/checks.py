"""Data checks the assets report to Dagster (blocking: bad data never reaches the index)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa


def check_clips(clips: pa.Table, durations: dict[str, float]) -> list[str]:
    """Problems with a clip table: duplicate ids, empty spans, spans outside their video."""
    problems = []
    ids = clips.column("clip_id").to_pylist()
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicate clip ids")
    for clip in clips.to_pylist():
        end_limit = durations[clip["video_id"]] + 1e-3
        if not 0 <= clip["span_start_s"] < clip["span_end_s"] <= end_limit:
            problems.append(
                f"clip {clip['clip_id']}: span {clip['span_start_s']}-{clip['span_end_s']} s "
                f"outside 0-{durations[clip['video_id']]} s"
            )
    return problems


def check_vectors(vectors: np.ndarray, *, dim: int, tolerance: float = 1e-3) -> list[str]:
    """Problems with embeddings: wrong dim, non-finite values, not unit norm."""
    if vectors.size == 0:
        return []
    problems = []
    if vectors.shape[1] != dim:
        problems.append(f"vectors have dim {vectors.shape[1]}, expected {dim}")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        problems.append(f"{int((~finite).sum())} vectors with NaN/inf")
    norms = np.linalg.norm(vectors[finite], axis=1)
    off = np.abs(norms - 1) > tolerance
    if off.any():
        problems.append(f"{int(off.sum())} vectors not unit norm (norms {norms[off][:3].round(4).tolist()} ...)")
    return problems


def check_embedding_rows(rows: pa.Table, *, dim: int) -> list[str]:
    """Problems with a partition's embedding rows: bad vectors (`check_vectors`) or a clip id twice."""
    vectors = np.asarray(rows.column("vector").to_pylist(), dtype=np.float32).reshape(-1, dim)
    return check_vectors(vectors, dim=dim) + check_unique_ids(rows.column("clip_id").to_pylist(), "the embeddings")


def expected_frames(policy: str, fps: float, duration_s: float, source_fps: float | None) -> float:
    """Frames a clip should get: 1 for ``middle``; for ``sequence`` one per 1/fps from its
    first frame to its last (the clip's span less one source frame)."""
    if policy == "middle":
        return 1.0
    frame_s = 1.0 / source_fps if source_fps else 0.0
    return max(duration_s - frame_s, 0.0) * fps + 1.0


def check_frame_counts(rows: pa.Table, clips: pa.Table, source_fps: dict[str, float | None]) -> list[str]:
    """Problems with stored frames: a clip whose frame count is off its policy's by more than 1.

    ``rows``: the frames file's ``clip_id``, ``signature`` and ``timestamps`` columns.
    """
    by_id = {c["clip_id"]: c for c in clips.to_pylist()}
    problems = []
    for row in rows.to_pylist():
        policy, _, fps = row["signature"].rpartition("-")
        clip = by_id[row["clip_id"]]
        want = expected_frames(policy, float(fps), clip["duration_s"], source_fps.get(clip["video_id"]))
        got = len(row["timestamps"])
        if abs(got - want) > 1.0 + 1e-6:
            problems.append(f"clip {row['clip_id']} ({row['signature']}): {got} frames, expected {want:.1f} ± 1")
    return problems


def check_index_rows(staged: pa.Table, indexed: pa.Table) -> list[str]:
    """Problems after an index commit: rows per video differ from the embeddings, or a clip
    id appears twice. ``indexed``: ``clip_id``, ``video_id`` of the table's rows for the videos."""
    problems = []
    want = Counter(staged.column("video_id").to_pylist())
    have = Counter(indexed.column("video_id").to_pylist())
    for video_id in sorted(set(want) | set(have)):
        if want[video_id] != have[video_id]:
            problems.append(f"video {video_id}: {have[video_id]} index rows, {want[video_id]} embedding rows")
    ids = indexed.column("clip_id").to_pylist()
    duplicates = sorted(k for k, n in Counter(ids).items() if n > 1)
    if duplicates:
        problems.append(f"{len(duplicates)} clip ids more than once in the index: {duplicates[:5]}")
    return problems


def check_unique_ids(ids: list[str], what: str) -> list[str]:
    duplicates = sorted(k for k, n in Counter(ids).items() if n > 1)
    return [f"{len(duplicates)} duplicate clip ids in {what}: {duplicates[:5]}"] if duplicates else []


def check_probes(sources: pa.Table) -> list[str]:
    """Problems with probe rows: a video without duration, frame rate, size or content hash."""
    problems = []
    for row in sources.to_pylist():
        missing = [
            name
            for name, ok in (
                ("duration", (row["duration_s"] or 0) > 0),
                ("frame rate", (row["avg_fps"] or 0) > 0),
                ("picture size", (row["width"] or 0) > 0 and (row["height"] or 0) > 0),
                ("sha256", bool(row["sha256"])),
            )
            if not ok
        ]
        if missing:
            problems.append(f"{row['path']}: no {', '.join(missing)}")
    return problems


def check_tensor_rows(rows: pa.Table, frames_per_clip: int) -> list[str]:
    """Problems with tensor rows: a kept clip with fewer frames than the model takes or a
    tensor without that many, or a clip id twice.
    ``rows``: ``clip_id``, ``num_frames`` (before selection), ``skip_reason``, ``shape``."""
    problems = check_unique_ids(rows.column("clip_id").to_pylist(), "the tensors")
    for row in rows.to_pylist():
        if row["skip_reason"] is not None:
            continue
        shape = row["shape"] or []
        # The frame axis is first (InternVideo2: T, C, H, W) or second (Cosmos: C, T, H, W).
        if row["num_frames"] < frames_per_clip or frames_per_clip not in shape[:2]:
            problems.append(
                f"clip {row['clip_id']}: {row['num_frames']} frames and a {shape} tensor, the model takes {frames_per_clip}"
            )
    return problems
