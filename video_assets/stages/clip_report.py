"""Plain rows describing a partition's videos and clips, for people reading the UI.

Each function returns a list of dicts (one per video or clip) with rounded values and
the units in the column names; assets/ turns them into Dagster tables. A clip table is
capped at `MAX_ROWS` rows so a long video cannot bloat the event log; the caller says
how many rows there were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import pyarrow as pa

MAX_ROWS = 200


def span_label(start_s: float, end_s: float) -> str:
    """A clip's span as people read it: ``0.00–1.00 s``."""
    return f"{start_s:.2f}–{end_s:.2f} s"


def source_rows(sources: pa.Table) -> list[dict]:
    """Per video: path, codec, resolution, fps, duration (s), size (MB)."""
    return [
        {
            "path": row["rel_path"],
            "codec": row["codec"],
            "resolution": f"{row['width']}x{row['height']}",
            "fps": round(row["avg_fps"] or 0.0, 2),
            "duration_s": round(row["duration_s"] or 0.0, 2),
            "size_mb": round((row["size_bytes"] or 0) / 1e6, 2),
        }
        for row in sources.to_pylist()
    ]


def frames_clip_rows(clips: pa.Table, stored: pa.Table, dropped: Mapping[str, str]) -> list[dict]:
    """Per clip: span, frames kept (all signatures), status (kept / dropped) and the drop reason.
    ``stored``: the frames file's ``clip_id`` and ``timestamps`` columns."""
    frames = Counter[str]()
    for clip_id, stamps in zip(stored.column("clip_id").to_pylist(), stored.column("timestamps").to_pylist()):
        frames[clip_id] += len(stamps)
    rows = []
    for clip in clips.to_pylist()[:MAX_ROWS]:
        reason = dropped.get(clip["clip_id"], "")
        rows.append(
            {
                "clip": clip["clip_index"],
                "span": span_label(clip["span_start_s"], clip["span_end_s"]),
                "duration_s": round(clip["duration_s"], 2),
                "frames": frames[clip["clip_id"]],
                "status": "dropped" if reason else "kept",
                "reason": reason,
                "clip_id": clip["clip_id"],
            }
        )
    return rows


def tensor_clip_rows(clips: pa.Table, tensors: pa.Table, skipped: Mapping[str, str]) -> list[dict]:
    """Per clip: span, frames available, the fps they were sampled at, status (kept /
    re-extracted / skipped) and the skip reason. ``tensors``: the tensors file's ``clip_id``,
    ``num_frames``, ``fps`` and ``reextracted`` columns; ``skipped``: clip_id -> reason
    (clips the frames step dropped have no tensor row)."""
    made = {row["clip_id"]: row for row in tensors.to_pylist()}
    rows = []
    for clip in clips.to_pylist()[:MAX_ROWS]:
        row = made.get(clip["clip_id"], {})
        reason = skipped.get(clip["clip_id"], "")
        status = "skipped" if reason else "re-extracted" if row.get("reextracted") else "kept"
        rows.append(
            {
                "clip": clip["clip_index"],
                "span": span_label(clip["span_start_s"], clip["span_end_s"]),
                "frames": row.get("num_frames") or 0,
                "fps": round(row.get("fps") or 0.0, 2),
                "status": status,
                "reason": reason,
                "clip_id": clip["clip_id"],
            }
        )
    return rows
