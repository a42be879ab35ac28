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
- `explain_search(...)`: how the search would run, as text.

Two paths answer: when maintenance has written a faiss sidecar for the
table's *current* version (`sidecar.py`), unfiltered ANN searches go there
(sub-millisecond probes instead of LanceDB's multi-millisecond floor, same
knobs, same exact-cosine re-rank); filtered, exact and post-commit searches
go to LanceDB, so results always reflect every committed row.

Defaults come from benchmarks/RESULTS.md ("Search (ANN)").
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import lancedb
import numpy as np
from lancedb.expr import col, lit
from lancedb.query import LanceVectorQueryBuilder
from lancedb.table import Table

from video_assets.index.connection import clip_table_exists, uncommitted_note
from video_assets.index.errors import ClipTableNotFoundError, IndexIntegrityError, InvalidSearchError, UnknownClipError
from video_assets.index.filters import compile_where
from video_assets.index.hits import HIT_COLUMNS, SearchHit, hit_from_row
from video_assets.index.schema import table_name, vector_dim
from video_assets.index.sidecar import Sidecar, load_sidecar, sidecar_root

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

_HIT_COLUMNS = [*HIT_COLUMNS, "_distance"]


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
    sidecar: bool = True,
) -> list[SearchHit]:
    """The `k` clips closest to `vector`, best first, after skipping `offset`.

    `where` is a user filter (see `filters.compile_where`), applied before the
    search so k results come back whenever k clips match. `exclude_clip_ids`
    drops clips such as the query clip itself. The ANN knobs are described in
    the module doc; `exact=True` cannot be combined with them. `sidecar=False`
    always asks LanceDB, even when a current faiss sidecar exists.
    """
    route = _route(
        db, model, vector, k=k, where=where, exclude_clip_ids=exclude_clip_ids,
        nprobes=nprobes, refine_factor=refine_factor, exact=exact, offset=offset, sidecar=sidecar,
    )  # fmt: skip
    if isinstance(route, _SidecarRoute):
        return route.sidecar.search(route.query, **route.knobs)
    return [hit_from_row(row, 1.0 - float(row["_distance"])) for row in route.to_arrow().to_pylist()]


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
    sidecar: bool = True,
) -> str:
    """How `search_vector` with the same arguments answers: the faiss sidecar's steps, or LanceDB's physical plan."""
    route = _route(
        db, model, vector, k=k, where=where, exclude_clip_ids=exclude_clip_ids,
        nprobes=nprobes, refine_factor=refine_factor, exact=exact, offset=offset, sidecar=sidecar,
    )  # fmt: skip
    if isinstance(route, _SidecarRoute):
        return route.sidecar.describe(**route.knobs)
    return route.explain_plan(verbose=True)


@dataclass(frozen=True)
class _SidecarRoute:
    sidecar: Sidecar
    query: np.ndarray
    knobs: dict  # the keyword arguments of `Sidecar.search` and `Sidecar.describe`


def _route(
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
    sidecar: bool,
) -> LanceVectorQueryBuilder | _SidecarRoute:
    """Validate the request; answer from a current sidecar when allowed, else build LanceDB's query."""
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
    if sidecar and not exact and where is None:
        current = _current_sidecar(db, table)
        if current is not None:
            knobs = {"k": k, "offset": offset, "nprobes": nprobes or DEFAULT_NPROBES,
                     "refine_factor": refine_factor or DEFAULT_REFINE_FACTOR, "exclude": frozenset(excluded)}  # fmt: skip
            return _SidecarRoute(current, _query_vector(vector, current.info.dim), knobs)
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
    """The stored vector (dim,) float32 of one clip; `UnknownClipError` if absent.

    From a current sidecar by binary search when there is one (its copy is normalised; the
    stored vectors are unit vectors already), else from LanceDB (a scan of clip_id).
    """
    if not isinstance(clip_id, str) or not clip_id:
        raise InvalidSearchError(f"clip id must be a non-empty string, got {clip_id!r}")
    table = _open_latest(db, model)
    current = _current_sidecar(db, table)
    if current is not None and current.has_clip_lookup:
        vector = current.vector_of(clip_id)
        if vector is None:  # the sidecar holds exactly the table's current rows
            raise UnknownClipError(model, clip_id, table=table.name, rows=table.count_rows(), uri=str(db.uri))
        return vector
    rows = table.search().where(col("clip_id") == lit(clip_id)).select(["vector"]).limit(2).to_arrow()
    if rows.num_rows == 0:
        raise UnknownClipError(model, clip_id, table=table.name, rows=table.count_rows(), uri=str(db.uri))
    if rows.num_rows > 1:
        raise IndexIntegrityError(f"{table.name} holds more than one row for clip {clip_id!r}")
    return np.asarray(rows.column("vector")[0].values.to_numpy(zero_copy_only=False), dtype=np.float32)


def _current_sidecar(db: lancedb.DBConnection, table: Table) -> Sidecar | None:
    """The table's sidecar if it holds exactly the table's latest version."""
    root = sidecar_root(db.uri)
    found = load_sidecar(root, table.name) if root is not None else None
    return found if found is not None and found.info.version == table.version else None


_open_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> {name: Table}


def _open_latest(db: lancedb.DBConnection, model: str) -> Table:
    """The table at its latest version, as cheaply as LanceDB allows per query.

    A handle is kept per connection: with read_consistency_interval 0 (our `connect`) every read
    on it already checks for a newer version (0.25 ms at 1M rows, against 1.1 ms to open the table
    again); otherwise it is moved to the latest version explicitly. The error path still says
    which table is missing.
    """
    name = table_name(model)
    tables = _open_tables.setdefault(db, {})
    table = tables.get(name)
    if table is None:
        try:
            table = tables[name] = db.open_table(name)
        except ValueError:
            if not clip_table_exists(db, model):
                raise ClipTableNotFoundError(model, name, str(db.uri), detail=uncommitted_note(db, model)) from None
            raise
    elif getattr(db, "read_consistency_interval", None) != timedelta(0):
        table.checkout_latest()
    return table


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
