"""Nearest clips by cosine similarity, and stored vectors by clip id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import lancedb
import numpy as np
from lancedb.expr import col, lit

from video_assets.index.connection import open_clip_table
from video_assets.index.errors import IndexIntegrityError, InvalidSearchError, UnknownClipError
from video_assets.index.filters import compile_where
from video_assets.index.schema import vector_dim

MAX_K = 1000
MAX_EXCLUDED = 1000

_HIT_COLUMNS = ["clip_id", "video_id", "source_path", "span_start_s", "span_end_s", "clip_path", "text_match", "_distance"]


@dataclass(frozen=True)
class SearchHit:
    clip_id: str
    video_id: str
    source_path: str
    span_start_s: float
    span_end_s: float
    clip_path: str | None
    score: float  # cosine similarity in [-1, 1], higher is closer
    text_match: str | None


def search_vector(
    db: lancedb.DBConnection,
    model: str,
    vector: np.ndarray,
    *,
    k: int = 10,
    where: str | None = None,
    exclude_clip_ids: Iterable[str] = (),
) -> list[SearchHit]:
    """The `k` clips closest to `vector`, best first.

    `where` is a user filter (see `filters.compile_where`), applied before the
    search so k results come back whenever k clips match. `exclude_clip_ids`
    drops clips such as the query clip itself.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidSearchError(f"k must be an integer in 1..{MAX_K}, got {k!r}")
    excluded = _excluded_ids(exclude_clip_ids)
    table = open_clip_table(db, model)
    query = _query_vector(vector, vector_dim(table.schema))
    filters = [compile_where(where)] if where is not None else []
    if excluded:
        filters.append((~col("clip_id").isin([lit(c) for c in excluded])).to_sql())
    search = table.search(query, vector_column_name="vector").distance_type("cosine").select(_HIT_COLUMNS).limit(k)
    if filters:
        search = search.where(" AND ".join(f"({f})" for f in filters), prefilter=True)
    rows = search.to_arrow().to_pylist()
    return [
        SearchHit(
            clip_id=row["clip_id"],
            video_id=row["video_id"],
            source_path=row["source_path"],
            span_start_s=row["span_start_s"],
            span_end_s=row["span_end_s"],
            clip_path=row["clip_path"],
            score=1.0 - float(row["_distance"]),  # LanceDB's cosine distance is 1 - cos
            text_match=row["text_match"],
        )
        for row in rows
    ]


def get_vector(db: lancedb.DBConnection, model: str, clip_id: str) -> np.ndarray:
    """The stored vector (dim,) float32 of one clip; `UnknownClipError` if absent."""
    if not isinstance(clip_id, str) or not clip_id:
        raise InvalidSearchError(f"clip id must be a non-empty string, got {clip_id!r}")
    table = open_clip_table(db, model)
    rows = table.search().where(col("clip_id") == lit(clip_id)).select(["vector"]).limit(2).to_arrow()
    if rows.num_rows == 0:
        raise UnknownClipError(model, clip_id)
    if rows.num_rows > 1:
        raise IndexIntegrityError(f"{table.name} holds more than one row for clip {clip_id!r}")
    return np.asarray(rows.column("vector")[0].values.to_numpy(zero_copy_only=False), dtype=np.float32)


def _query_vector(vector: np.ndarray, dim: int) -> np.ndarray:
    query = np.asarray(vector, dtype=np.float32)
    if query.shape != (dim,):
        raise InvalidSearchError(f"query vector has shape {query.shape}, the index holds ({dim},) vectors")
    if not np.isfinite(query).all() or not np.any(query):
        raise InvalidSearchError("query vector must be finite and non-zero")
    return query


def _excluded_ids(exclude_clip_ids: Iterable[str]) -> list[str]:
    if isinstance(exclude_clip_ids, str):
        raise InvalidSearchError("exclude_clip_ids must be a collection of ids, not one string")
    ids = list(exclude_clip_ids)
    bad = [c for c in ids if not isinstance(c, str) or not c]
    if bad:
        raise InvalidSearchError(f"excluded clip ids must be non-empty strings, got {bad[:5]}")
    excluded = sorted(set(ids))
    if len(excluded) > MAX_EXCLUDED:
        raise InvalidSearchError(f"at most {MAX_EXCLUDED} excluded clip ids, got {len(excluded)}")
    return excluded
