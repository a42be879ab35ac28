"""Nearest clips by cosine similarity, and stored vectors by clip id.

Search knobs (all keyword-only, all optional):

- `nprobes`: IVF partitions searched; with a `where` filter more are searched
  when the first ones hold fewer than `k` matching clips (maximum_nprobes 0).
- `refine_factor`: the ANN step returns `k * refine_factor` candidates that
  are re-ranked on the stored float32 vectors. It is always applied when the
  table has an ANN index, so every returned score is the exact cosine.
- `exact=True`: skip any ANN index, scan every vector (ground truth).
- `offset`: skip the first `offset` hits (pagination: page n is
  `offset=n*k`); pages of one query are consistent because the ranking is
  recomputed with the same knobs.
- `explain_search(...)`: the query plan LanceDB would run, as text.

Defaults come from benchmarks/RESULTS.md ("Search (ANN)").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import lancedb
import numpy as np
from lancedb.expr import col, lit
from lancedb.query import LanceVectorQueryBuilder
from lancedb.table import Table

from video_assets.index.connection import clip_table_exists, open_clip_table
from video_assets.index.errors import ClipTableNotFoundError, IndexIntegrityError, InvalidSearchError, UnknownClipError
from video_assets.index.filters import compile_where
from video_assets.index.schema import table_name, vector_dim

MAX_K = 1000
MAX_EXCLUDED = 1000
MAX_OFFSET = 10_000
MAX_NPROBES = 100_000
MAX_REFINE_FACTOR = 1000
# Measured (benchmarks/RESULTS.md, "Search (ANN)"): nprobes 20 with refine 2 gave recall@10
# 0.967-1.0 at 100k and 1M rows (dims 256-768); refine beyond 2 raised no recall there, and
# nprobes 10 fell to 0.953 at 1M x 256.
DEFAULT_NPROBES = 20
DEFAULT_REFINE_FACTOR = 2
DEFAULT_EF = 200  # HNSW candidate list (ivf_hnsw_sq indexes only)

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
    nprobes: int | None = None,
    refine_factor: int | None = None,
    exact: bool = False,
    offset: int = 0,
) -> list[SearchHit]:
    """The `k` clips closest to `vector`, best first, after skipping `offset`.

    `where` is a user filter (see `filters.compile_where`), applied before the
    search so k results come back whenever k clips match. `exclude_clip_ids`
    drops clips such as the query clip itself. The ANN knobs are described in
    the module doc; `exact=True` cannot be combined with them.
    """
    search = _build_query(
        db, model, vector, k=k, where=where, exclude_clip_ids=exclude_clip_ids,
        nprobes=nprobes, refine_factor=refine_factor, exact=exact, offset=offset,
    )  # fmt: skip
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


def explain_search(
    db: lancedb.DBConnection,
    model: str,
    vector: np.ndarray,
    *,
    k: int = 10,
    where: str | None = None,
    exclude_clip_ids: Iterable[str] = (),
    nprobes: int | None = None,
    refine_factor: int | None = None,
    exact: bool = False,
    offset: int = 0,
) -> str:
    """The physical plan `search_vector` with the same arguments runs (index used, probes, refine, filter)."""
    search = _build_query(
        db, model, vector, k=k, where=where, exclude_clip_ids=exclude_clip_ids,
        nprobes=nprobes, refine_factor=refine_factor, exact=exact, offset=offset,
    )  # fmt: skip
    return search.explain_plan(verbose=True)


def _build_query(
    db: lancedb.DBConnection,
    model: str,
    vector: np.ndarray,
    *,
    k: int,
    where: str | None,
    exclude_clip_ids: Iterable[str],
    nprobes: int | None,
    refine_factor: int | None,
    exact: bool,
    offset: int,
) -> LanceVectorQueryBuilder:
    _check_int("k", k, 1, MAX_K)
    _check_int("offset", offset, 0, MAX_OFFSET)
    if not isinstance(exact, bool):
        raise InvalidSearchError(f"exact must be True or False, got {exact!r}")
    knobs = {"nprobes": nprobes, "refine_factor": refine_factor}
    if exact and any(v is not None for v in knobs.values()):
        given = sorted(name for name, v in knobs.items() if v is not None)
        raise InvalidSearchError(f"exact search scans every vector; {', '.join(given)} would be ignored")
    for name, value, high in (("nprobes", nprobes, MAX_NPROBES), ("refine_factor", refine_factor, MAX_REFINE_FACTOR)):
        if value is not None:
            _check_int(name, value, 1, high)
    excluded = _excluded_ids(exclude_clip_ids)
    table = _open_latest(db, model)
    query = _query_vector(vector, vector_dim(table.schema))
    filters = [compile_where(where)] if where is not None else []
    if excluded:
        filters.append((~col("clip_id").isin([lit(c) for c in excluded])).to_sql())
    search = table.search(query, vector_column_name="vector").distance_type("cosine").select(_HIT_COLUMNS)
    search = search.limit(k).offset(offset)
    if exact:
        search = search.bypass_vector_index()
    else:
        # Without an ANN index LanceDB scans exactly and these knobs have no effect.
        refine, probes = refine_factor or DEFAULT_REFINE_FACTOR, nprobes or DEFAULT_NPROBES
        # A `where` filter may leave fewer than k hits in `probes` partitions: then let LanceDB probe on
        # (maximum 0 = no limit). Without one the limit stays fixed: the open-ended search costs ~12 ms
        # of CPU per query even when the first partitions suffice (benchmarks/RESULTS.md).
        search = search.minimum_nprobes(probes).maximum_nprobes(0 if where is not None else probes)
        search = search.refine_factor(refine)
        # Only an ivf_hnsw_sq index reads ef; it must cover every candidate the refine step re-ranks.
        search = search.ef(max(DEFAULT_EF, (k + offset) * refine))
    if filters:
        search = search.where(" AND ".join(f"({f})" for f in filters), prefilter=True)
    return search


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


def _open_latest(db: lancedb.DBConnection, model: str) -> Table:
    """The table at its latest version in one open: no table listing and no second manifest read
    on every query (`open_clip_table` does both; the error path still says which table is missing)."""
    try:
        return db.open_table(table_name(model))
    except ValueError:
        if not clip_table_exists(db, model):
            raise ClipTableNotFoundError(model, table_name(model), str(db.uri)) from None
        raise


def _query_vector(vector: np.ndarray, dim: int) -> np.ndarray:
    query = np.asarray(vector, dtype=np.float32)
    if query.shape != (dim,):
        raise InvalidSearchError(f"query vector has shape {query.shape}, the index holds ({dim},) vectors")
    if not np.isfinite(query).all() or not np.any(query):
        raise InvalidSearchError("query vector must be finite and non-zero")
    return query


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSearchError(f"{name} must be an integer in {low}..{high}, got {value!r}")


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
