"""Read back what a commit left in a table, for the index asset's check."""

from __future__ import annotations

from collections.abc import Sequence

import lancedb
import pyarrow as pa

from video_assets.index.commit import videos_filter
from video_assets.index.connection import open_clip_table


def rows_of_videos(db: lancedb.DBConnection, model: str, video_ids: Sequence[str]) -> pa.Table:
    """``clip_id`` and ``video_id`` of every row of these videos in the model's table."""
    table = open_clip_table(db, model)
    # A query without a vector has no row limit: every matching row comes back.
    return table.search().where(videos_filter(list(video_ids))).select(["clip_id", "video_id"]).to_arrow()


def table_rows(db: lancedb.DBConnection, model: str, version: int) -> int:
    """Rows of the model's whole table at `version` (the one a commit made): what the index asset's
    `dagster/row_count` reads, since the UI shows it as the table's size, not the partition's."""
    table = open_clip_table(db, model)
    table.checkout(version)
    return table.count_rows()
