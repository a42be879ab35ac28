"""One partition's clip filters: the indexed clips of its videos, their frames, the duplicates file.

`filter_partition` decides for every clip the model indexed for these videos (the rows a
user lists and exports), reading the pixels from the frames asset's stored partition and
the duplicate flag from `<model>_duplicates.parquet` when it exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from video_assets.curation.clip_filters import (
    REASONS,
    ClipFacts,
    PixelStats,
    pixel_stats,
    reasons_for,
)
from video_assets.curation.duplicates import output_path, read_output
from video_assets.index.commit import videos_filter
from video_assets.index.connection import open_clip_table
from video_assets.settings.filters import FilterSettings
from video_assets.stages.frames import row_frames

FILTER_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("video_id", pa.string()),
        ("filter_keep", pa.bool_()),  # no reason applies
        ("filter_reasons", pa.list_(pa.string())),  # in clip_filters.REASONS order
        ("motion", pa.float64()),  # null with fewer than 2 frames
        ("frames", pa.int32()),
        ("black_frames", pa.int32()),
        ("frozen_s", pa.float64()),
        ("duplicate", pa.bool_()),  # null: no duplicates file, or the clip is newer than it
    ]
)
INDEX_COLUMNS = ["clip_id", "video_id", "duration_s", "text_scores"]
_NO_PIXELS = PixelStats(frames=0, motion=None, black_frames=0, frozen_s=0.0)


@dataclass
class FilterRun:
    table: pa.Table  # FILTER_SCHEMA, by clip id
    counts: dict[str, int]  # reason -> clips it applies to (every reason of REASONS, zeros included)
    duplicates: str  # "joined" or "absent" (no duplicates file: no clip can be a duplicate yet)
    duplicates_path: str
    duplicates_unknown: int  # clips the duplicates file does not know (indexed after it was computed)
    texts_not_scored: list[str] = field(default_factory=list)  # min_text_score texts no clip here has a score for
    clips_without_frames: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return int(pc.sum(self.table.column("filter_keep")).as_py() or 0)

    @property
    def dropped(self) -> int:
        return self.table.num_rows - self.kept


def indexed_rows(db: lancedb.DBConnection, model: str, video_ids: Sequence[str]) -> pa.Table:
    """clip_id, video_id, duration_s and text_scores of every row of these videos in the model's table."""
    table = open_clip_table(db, model)
    return table.search().where(videos_filter(list(video_ids))).select(INDEX_COLUMNS).limit(None).to_arrow()


def indexed_clips(db: lancedb.DBConnection, model: str) -> dict[str, list[str]]:
    """{partition key: clip ids} of every row in the model's table."""
    rows = open_clip_table(db, model).search().select(["partition_key", "clip_id"]).limit(None).to_arrow()
    out: dict[str, list[str]] = {}
    for partition, clip_id in zip(rows.column("partition_key").to_pylist(), rows.column("clip_id").to_pylist()):
        out.setdefault(partition, []).append(clip_id)
    return out


def duplicate_flags(curation_dir: Path, model: str) -> dict[str, bool] | None:
    """{clip_id: not kept} from the duplicates file; None when there is none."""
    path = output_path(curation_dir, model)
    if not path.exists():
        return None
    dups = read_output(path, columns=["clip_id", "dup_keep"])
    return dict(zip(dups.column("clip_id").to_pylist(), (not k for k in dups.column("dup_keep").to_pylist())))


def clip_pixels(row_groups: Iterable[pa.Table], wanted: set[str], settings: FilterSettings) -> dict[str, PixelStats]:
    """PixelStats per wanted clip from the frames asset's row groups (one clip per group). A clip's
    frames are those of its 'sequence' signature with the most frames (else any signature's)."""
    out: dict[str, PixelStats] = {}
    for group in row_groups:
        best: dict[str, dict] = {}
        for row in group.to_pylist():
            if row["clip_id"] not in wanted:
                continue
            rank = (row["signature"].startswith("sequence"), len(row["timestamps"]))
            held = best.get(row["clip_id"])
            if held is None or rank > (held["signature"].startswith("sequence"), len(held["timestamps"])):
                best[row["clip_id"]] = row
        for clip_id, row in best.items():
            frames = row_frames(row)
            out[clip_id] = pixel_stats(frames, np.asarray(row["timestamps"], np.float64), settings)
    return out


def filter_partition(
    rows: pa.Table, frame_groups: Iterable[pa.Table], *, curation_dir: Path, model: str, settings: FilterSettings
) -> FilterRun:
    """Decisions for `rows` (INDEX_COLUMNS of the partition's indexed clips) from their frames and duplicates."""
    ids = rows.column("clip_id").to_pylist()
    pixels = clip_pixels(frame_groups, set(ids), settings)
    dup = duplicate_flags(Path(curation_dir), model)
    scored: set[str] = set()
    out = []
    for row in rows.to_pylist():
        scores = json.loads(row["text_scores"]) if row["text_scores"] is not None else None
        scored.update(scores or {})
        stats = pixels.get(row["clip_id"], _NO_PIXELS)
        duplicate = dup.get(row["clip_id"]) if dup is not None else None
        reasons = reasons_for(ClipFacts(row["clip_id"], row["duration_s"], stats, scores, duplicate), settings)
        out.append(
            {
                "clip_id": row["clip_id"],
                "video_id": row["video_id"],
                "filter_keep": not reasons,
                "filter_reasons": reasons,
                "motion": stats.motion,
                "frames": stats.frames,
                "black_frames": stats.black_frames,
                "frozen_s": stats.frozen_s,
                "duplicate": duplicate,
            }
        )
    table = pa.Table.from_pylist(sorted(out, key=lambda r: r["clip_id"]), schema=FILTER_SCHEMA)
    counts = {reason: sum(reason in r["filter_reasons"] for r in out) for reason in REASONS}
    return FilterRun(
        table=table,
        counts=counts,
        duplicates="absent" if dup is None else "joined",
        duplicates_path=str(output_path(Path(curation_dir), model)),
        duplicates_unknown=sum(r["duplicate"] is None for r in out) if dup is not None else 0,
        texts_not_scored=[t for t in settings.min_text_score if t not in scored] if out else [],
        clips_without_frames=[c for c in ids if c not in pixels],
    )
