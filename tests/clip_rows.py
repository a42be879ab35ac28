"""Rows of the clip table for tests that write their own tables (tests/index, tests/curation).

A row holds only the columns every clip needs; a test adds or overrides the rest
(clip_path, created_at, text_match, ...) and `rows_to_table` fills what is left out.
Clip ids are uuid5 of video and span: unique per clip and rebuildable by a test, and
opaque to the index, so they need not be the pipeline's own `clip_id`.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

STRIDE_S, CLIP_S = 10.0, 8.0  # the grid `grid_row` places clips on


def span_clip_id(video_id: str, start_s: float, end_s: float) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video_id}:{start_s}:{end_s}"))


def clip_row(
    video_id: str,
    start_s: float,
    end_s: float,
    vector: np.ndarray,
    *,
    model_id: str,
    model_revision: str = "r1",
    **columns: Any,
) -> dict[str, Any]:
    """A clip of `video_id` (its own partition, from /videos/<video_id>.mp4); `columns` add or override."""
    return {
        "clip_id": span_clip_id(video_id, start_s, end_s),
        "video_id": video_id,
        "partition_key": video_id,
        "source_path": f"/videos/{video_id}.mp4",
        "span_start_s": start_s,
        "span_end_s": end_s,
        "vector": vector,
        "model_id": model_id,
        "model_revision": model_revision,
        **columns,
    }


def grid_row(video_id: str, index: int, vector: np.ndarray, *, model_id: str, **columns: Any) -> dict[str, Any]:
    """Clip `index` of a video clipped every 10 s into 8 s clips."""
    start = STRIDE_S * index
    return clip_row(video_id, start, start + CLIP_S, vector, model_id=model_id, **columns)
