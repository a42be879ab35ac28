"""Committing a partition's staged rows: one table commit per call, none when nothing changes.

The committer is single per table (a Dagster pool of size 1): concurrent
merges into one LanceDB table conflict, retry and can duplicate keys. The
first rows of a video are appended (or create the table); afterwards one
`merge_insert` on `clip_id` updates kept clips, inserts new ones and deletes
the partition's vanished clips in the same commit, so a reader never sees a
video half-replaced. Never delete-then-add: that is two commits with a gap.
When the table already holds exactly the staged rows for the partition's videos
(a rerun of a partition that indexes nothing new), nothing is written and the
table version stays: operation "unchanged".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import lancedb
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.expr import Expr, col, lit
from lancedb.table import Table

from video_assets.index.connection import clip_table_exists, open_clip_table
from video_assets.index.errors import IndexCommitError, InvalidRowsError
from video_assets.index.schema import clip_schema, table_name, validate_clip_table, vector_dim


@dataclass(frozen=True)
class CommitResult:
    """What one commit did; goes to the asset's metadata."""

    table: str
    operation: Literal["create", "append", "merge", "unchanged"]
    table_version: int
    inserted: int
    updated: int
    deleted: int
    attempts: int  # LanceDB retries a commit that raced another writer
    rows_for_videos: int  # rows of the committed videos after the commit
    seconds: float
    recovered: str | None = None  # what a killed earlier write left and this commit cleared (committer.py)


@dataclass(frozen=True)
class DeleteResult:
    """What `delete_videos` removed."""

    table: str
    table_version: int
    deleted: int


def videos_filter(video_ids: Sequence[str]) -> Expr:
    """`video_id IN (...)` built with lancedb.expr, so ids are escaped by LanceDB."""
    return col("video_id").isin([lit(v) for v in video_ids])


def commit_partition(db: lancedb.DBConnection, model: str, staged: pa.Table, video_ids: Sequence[str]) -> CommitResult:
    """Make the model's table hold exactly `staged` for `video_ids`, in one commit (none if it already does).

    `video_ids` are all videos of the partition, including those with no clips
    left (their rows are deleted). Rows of other videos are never touched.
    Raises `IndexCommitError` when the counts after the commit do not match.
    """
    started = time.perf_counter()
    ids = _checked_video_ids(video_ids)
    staged = _checked_staged(staged, ids)
    name = table_name(model)
    if not clip_table_exists(db, model):
        table = db.create_table(name, staged, schema=clip_schema(vector_dim(staged.schema)))
        version_before = 0
        operation, inserted, updated, deleted, attempts = "create", staged.num_rows, 0, 0, 1
    else:
        table = open_clip_table(db, model)  # checks out the latest version
        _check_same_schema(table, staged)
        version_before = table.version
        existing = table.count_rows(videos_filter(ids).to_sql())
        if existing == staged.num_rows and _holds_exactly(table, staged, ids):
            # Nothing to write: a commit would only move the version (and wake readers, sensors).
            operation, inserted, updated, deleted, attempts = "unchanged", 0, 0, 0, 0
        elif existing == 0 and staged.num_rows > 0:
            # New videos: an append avoids the merge's join over the whole table.
            table.add(staged)
            operation, inserted, updated, deleted, attempts = "append", staged.num_rows, 0, 0, 1
        else:
            merged = (
                table.merge_insert("clip_id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(videos_filter(ids))
                .execute(staged)
            )
            operation = "merge"
            inserted, updated = merged.num_inserted_rows, merged.num_updated_rows
            deleted, attempts = merged.num_deleted_rows, merged.num_attempts
    written = staged.num_rows if operation == "unchanged" else inserted + updated
    rows_for_videos = _verify(table, staged, ids, written, version_before)
    return CommitResult(
        table=name,
        operation=operation,
        table_version=table.version,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        attempts=attempts,
        rows_for_videos=rows_for_videos,
        seconds=time.perf_counter() - started,
    )


def delete_videos(db: lancedb.DBConnection, model: str, video_ids: Sequence[str]) -> DeleteResult:
    """Remove every row of `video_ids` from the model's table (one commit), for the removal job."""
    ids = _checked_video_ids(video_ids)
    table = open_clip_table(db, model)
    result = table.delete(videos_filter(ids))
    left = table.count_rows(videos_filter(ids).to_sql())
    if left:
        raise IndexCommitError(f"{table.name}: {left} row(s) of {list(ids)[:5]} remain after delete")
    return DeleteResult(table=table.name, table_version=result.version, deleted=result.num_deleted_rows)


def _checked_video_ids(video_ids: Sequence[str]) -> list[str]:
    if isinstance(video_ids, str):
        raise TypeError("video_ids must be a sequence of ids, not one string")
    ids = list(video_ids)
    if not ids:
        raise ValueError("video_ids is empty: a commit must name the partition's videos")
    bad = [v for v in ids if not isinstance(v, str) or not v]
    if bad:
        raise ValueError(f"video ids must be non-empty strings, got {bad[:5]}")
    if len(set(ids)) != len(ids):
        raise ValueError("video_ids has duplicates")
    return ids


def _checked_staged(staged: pa.Table, ids: list[str]) -> pa.Table:
    staged = validate_clip_table(staged)
    outside = set(staged.column("video_id").to_pylist()) - set(ids)
    if outside:
        # Such rows would escape the delete condition and could never be cleaned up by this partition.
        raise InvalidRowsError(f"staged rows belong to videos outside the partition: {sorted(outside)[:5]}")
    return staged


def _check_same_schema(table: Table, staged: pa.Table) -> None:
    existing = table.schema
    if not existing.equals(staged.schema):
        raise IndexCommitError(
            f"{table.name}: staged schema differs from the table's "
            f"(table vector dim {_dim_or_none(existing)}, staged {vector_dim(staged.schema)}); "
            "a model with a new dim or schema needs a new table"
        )


def _dim_or_none(schema: pa.Schema) -> int | None:
    vtype = schema.field("vector").type if "vector" in schema.names else None
    return vtype.list_size if vtype is not None and pa.types.is_fixed_size_list(vtype) else None


def _holds_exactly(table: Table, staged: pa.Table, ids: list[str]) -> bool:
    """Whether the table's rows for `ids` are `staged`, every column equal (same schema checked before)."""
    if staged.num_rows == 0:
        return True  # the caller counted no rows for `ids` either
    rows = table.search().where(videos_filter(ids)).limit(None).to_arrow().select(staged.schema.names)
    order = [("clip_id", "ascending")]
    return rows.sort_by(order).equals(staged.sort_by(order))


def _verify(table: Table, staged: pa.Table, ids: list[str], written: int, version_before: int) -> int:
    """Check the table now holds exactly the staged clips for `ids`; returns their row count."""
    rows = table.search().where(videos_filter(ids)).select(["clip_id"]).to_arrow()
    found = rows.column("clip_id")
    problems = []
    if written != staged.num_rows:
        problems.append(f"inserted+updated = {written}, staged rows = {staged.num_rows}")
    if rows.num_rows != staged.num_rows:
        problems.append(f"table rows for the videos = {rows.num_rows}, staged rows = {staged.num_rows}")
    counts = pc.value_counts(found)
    dup = counts.filter(pc.greater(counts.field("counts"), 1)).field("values").to_pylist()
    if dup:
        problems.append(f"duplicate clip_id(s) {dup[:5]}")
    missing = set(staged.column("clip_id").to_pylist()) - set(found.to_pylist())
    if missing:
        problems.append(f"staged clip(s) missing from the table {sorted(missing)[:5]}")
    if problems:
        raise IndexCommitError(
            f"{table.name} after commit (version {version_before} -> {table.version}) for videos "
            f"{ids[:5]}: " + "; ".join(problems) + f". Inspect, then restore version {version_before} if needed."
        )
    return rows.num_rows
