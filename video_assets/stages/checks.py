"""Data checks the assets report to Dagster (blocking: bad data never reaches the index)."""

from __future__ import annotations

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
            problems.append(f"clip {clip['clip_id']}: span {clip['span_start_s']}-{clip['span_end_s']} s "
                            f"outside 0-{durations[clip['video_id']]} s")
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
