"""Nearest clips by cosine similarity, and stored vectors by clip id.

A search is a `SearchRequest` (validated when it is made) run against the
table's latest version:

- `k`, `offset`: the hits `offset .. offset+k` of the ranking (pages of one
  query are consistent: the ranking is recomputed with the same knobs);
- `where`: a user filter (`filters.compile_where`), applied before the vector
  search (prefilter) so k hits come back whenever k clips match;
- `exclude_clip_ids`: clips never returned (the query clip of `--like-clip`);
- `ef` (HNSW candidate list), `nprobes` (IVF partitions searched) and
  `refine_factor` (re-rank `k * refine_factor` candidates on the stored
  float32 vectors): the ANN knobs; unset, the defaults below apply;
- `exact=True`: skip the ANN index and scan every vector (ground truth);
- `sidecar=False`: ask LanceDB even when a current faiss sidecar exists.

Two paths answer. When maintenance has written a faiss sidecar (`sidecar.py`)
of the table's *current* version (checked on every query), an unfiltered,
non-exact search goes there: at 1M x 768 it answered in 1.95 ms p50 at
recall@10 1.000, where LanceDB alone took 5.9 ms (IVF_SQ) or 9-11 ms (HNSW-SQ)
on our data (benchmarks/RESULTS.md, "Search (ANN)"), with the same `nprobes`,
`refine_factor` and exact-cosine re-rank (`ef` is LanceDB's HNSW knob only).
Everything else goes to LanceDB: filtered and exact searches, and every search
after a commit the sidecar does not hold, until the next maintenance pass.
Rows committed after LanceDB's index was built are not in it; LanceDB scans
them flat and merges them into every result, so a search always reflects every
committed row and never a deleted one. `explain_search` says which path
answers: the sidecar's steps, or LanceDB's physical plan.

Defaults come from benchmarks/RESULTS.md ("Search (ANN)").
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import lancedb
import numpy as np
from lancedb.expr import col, lit
from lancedb.query import LanceVectorQueryBuilder
from lancedb.table import Table

from video_assets.index.connection import clip_table_exists, uncommitted_note
from video_assets.index.errors import (
    ClipTableNotFoundError,
    IndexIntegrityError,
    InvalidSearchError,
    UnknownClipError,
)
from video_assets.index.filters import compile_where
from video_assets.index.hits import HIT_COLUMNS, SearchHit, hit_from_row
from video_assets.index.schema import table_name, vector_dim
from video_assets.index.sidecar import Sidecar, load_sidecar, sidecar_root

MAX_K = 1000
MAX_EXCLUDED = 1000
MAX_ID_SET = 200_000
MAX_OFFSET = 10_000
MAX_NPROBES = 100_000
MAX_REFINE_FACTOR = 1000
MAX_EF = 100_000
# IVF partitions probed: an IVF_SQ index needs ~20 of its sqrt(N) for recall@10 >= 0.95 (RESULTS.md,
# "Search (ANN)"); an IVF_HNSW_SQ index has one partition per ~1M rows, so 20 covers them all.
DEFAULT_NPROBES = 20
# The HNSW candidate list (IVF_HNSW_SQ indexes, on request) is left to LanceDB unless asked for:
# 1.5 x k x refine_factor, which gave recall@10 0.58 at 1M x 768 on our data; ef 160 gave 0.958.
# refine_factor 2 re-ranks 2k candidates on their stored float32 vectors, so every score is the
# exact cosine; it gave recall@10 0.967-1.0 with IVF_SQ at nprobes 20 (100k-1M rows).
DEFAULT_REFINE_FACTOR = 2

_HIT_COLUMNS = [*HIT_COLUMNS, "_distance"]


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSearchError(f"{name} must be an integer in {low}..{high}, got {value!r}")


def _excluded_ids(exclude_clip_ids: Iterable[str]) -> tuple[str, ...]:
    if isinstance(exclude_clip_ids, str):
        raise InvalidSearchError("exclude_clip_ids must be a collection of ids, not one string")
    try:
        ids = list(exclude_clip_ids)
    except TypeError:
        raise InvalidSearchError(f"exclude_clip_ids must be a collection of ids, got {exclude_clip_ids!r}") from None
    bad = [c for c in ids if not isinstance(c, str) or not c]
    if bad:
        raise InvalidSearchError(f"excluded clip ids must be non-empty strings, got {bad[:5]}")
    excluded = tuple(sorted(set(ids)))
    if len(excluded) > MAX_EXCLUDED:
        raise InvalidSearchError(f"at most {MAX_EXCLUDED} excluded clip ids, got {len(excluded)}")
    return excluded


@dataclass(frozen=True)
class ClipIdSet:
    """The clips a search may return, as the ids in it (`negated`: all but these): a filter on columns that
    live beside the index (curation), resolved to ids; the smaller side of the split is given."""

    ids: tuple[str, ...]
    negated: bool = False

    def __post_init__(self) -> None:
        if len(self.ids) > MAX_ID_SET:
            raise InvalidSearchError(
                f"a filter on curation columns splits the table into more than {MAX_ID_SET} clips on either side "
                f"({len(self.ids)} on the smaller); narrow it with index columns (duration_s, video_id, ...)"
            )

    def sql(self) -> str:
        member = col("clip_id").isin([lit(c) for c in self.ids])
        return (~member if self.negated else member).to_sql()


@dataclass(frozen=True)
class SearchRequest:
    """What to search for besides the query vector; every field is checked on construction."""

    k: int = 10
    where: str | None = None
    exclude_clip_ids: tuple[str, ...] = field(default=())
    # None: any clip; else a filter the index cannot run as SQL, resolved to clip ids by the caller.
    clip_set: ClipIdSet | None = None
    nprobes: int | None = None
    ef: int | None = None
    refine_factor: int | None = None
    exact: bool = False
    offset: int = 0
    sidecar: bool = True  # False: always LanceDB, even when a current faiss sidecar exists

    def __post_init__(self) -> None:
        _check_int("k", self.k, 1, MAX_K)
        _check_int("offset", self.offset, 0, MAX_OFFSET)
        for name in ("exact", "sidecar"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidSearchError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.where is not None and (not isinstance(self.where, str) or not self.where.strip()):
            raise InvalidSearchError(f"where must be a non-empty filter string or None, got {self.where!r}")
        knobs = {
            "nprobes": (self.nprobes, MAX_NPROBES),
            "ef": (self.ef, MAX_EF),
            "refine_factor": (self.refine_factor, MAX_REFINE_FACTOR),
        }
        given = sorted(name for name, (value, _) in knobs.items() if value is not None)
        if self.exact and given:
            raise InvalidSearchError(f"exact search scans every vector; {', '.join(given)} would be ignored")
        for name, (value, high) in knobs.items():
            if value is not None:
                _check_int(name, value, 1, high)
        # Any iterable of ids is accepted; the request keeps them sorted and unique (hashable, comparable).
        object.__setattr__(self, "exclude_clip_ids", _excluded_ids(self.exclude_clip_ids))
        if self.clip_set is not None and not isinstance(self.clip_set, ClipIdSet):
            raise InvalidSearchError(f"clip_set must be a ClipIdSet or None, got {self.clip_set!r}")

    @property
    def filtered(self) -> bool:
        """Whether anything but the vector narrows the hits (`where` or a set of clip ids)."""
        return self.where is not None or self.clip_set is not None


DEFAULT_REQUEST = SearchRequest()  # k 10, no filter, the default knobs


def search_vector(
    db: lancedb.DBConnection, model: str, vector: np.ndarray, request: SearchRequest = DEFAULT_REQUEST
) -> list[SearchHit]:
    """The clips closest to `vector` as `request` asks, best first, with cosine scores."""
    route = _route(db, model, vector, request)
    if isinstance(route, _SidecarRoute):
        return route.sidecar.search(route.query, **route.knobs)
    return [hit_from_row(row, 1.0 - float(row["_distance"])) for row in route.to_arrow().to_pylist()]


def explain_search(
    db: lancedb.DBConnection, model: str, vector: np.ndarray, request: SearchRequest = DEFAULT_REQUEST
) -> str:
    """How `search_vector` with the same arguments answers: the faiss sidecar's steps, or LanceDB's physical plan."""
    route = _route(db, model, vector, request)
    if isinstance(route, _SidecarRoute):
        return route.sidecar.describe(**route.knobs)
    return route.explain_plan(verbose=True)


@dataclass(frozen=True)
class _SidecarRoute:
    sidecar: Sidecar
    query: np.ndarray
    knobs: dict  # the keyword arguments of `Sidecar.search` and `Sidecar.describe`


def _route(
    db: lancedb.DBConnection, model: str, vector: np.ndarray, request: SearchRequest
) -> LanceVectorQueryBuilder | _SidecarRoute:
    """A current sidecar for an unfiltered ANN search when the request allows it, else LanceDB's query."""
    if not isinstance(request, SearchRequest):
        raise InvalidSearchError(f"a search takes a SearchRequest, got {type(request).__name__}")
    table = _open_latest(db, model)
    if request.sidecar and not request.exact and not request.filtered:
        current = _current_sidecar(db, table)
        if current is not None:
            knobs = {
                "k": request.k,
                "offset": request.offset,
                "nprobes": request.nprobes or DEFAULT_NPROBES,
                "refine_factor": request.refine_factor or DEFAULT_REFINE_FACTOR,
                "exclude": frozenset(request.exclude_clip_ids),
            }
            return _SidecarRoute(current, _query_vector(vector, current.info.dim), knobs)
    query = _query_vector(vector, vector_dim(table.schema))
    filters = [compile_where(request.where)] if request.where is not None else []
    if request.exclude_clip_ids:
        filters.append((~col("clip_id").isin([lit(c) for c in request.exclude_clip_ids])).to_sql())
    if request.clip_set is not None:
        filters.append(request.clip_set.sql())
    search = table.search(query, vector_column_name="vector").distance_type("cosine").select(_HIT_COLUMNS)
    search = search.limit(request.k).offset(request.offset)
    if request.exact:
        search = search.bypass_vector_index()
    else:
        # Without an ANN index LanceDB scans exactly and these knobs have no effect.
        probes = request.nprobes or DEFAULT_NPROBES
        # A `where` filter may leave fewer than k hits in `probes` partitions: then let LanceDB probe on
        # (maximum 0 = no limit). Without one the limit stays fixed: open-ended probing cost ~12 ms of
        # CPU per query on an IVF index even when the first partitions sufficed (benchmarks/RESULTS.md).
        search = search.minimum_nprobes(probes).maximum_nprobes(0 if request.filtered else probes)
        refine = request.refine_factor or DEFAULT_REFINE_FACTOR
        search = search.refine_factor(refine)
        if request.ef is not None:
            # LanceDB refuses a candidate list shorter than the candidates it must return (every page
            # up to this one, times the refine factor).
            search = search.ef(max(request.ef, (request.k + request.offset) * refine))
    if filters:
        search = search.where(" AND ".join(f"({f})" for f in filters), prefilter=True)
    return search


def get_vector(db: lancedb.DBConnection, model: str, clip_id: str) -> np.ndarray:
    """The stored vector (dim,) float32 of one clip; `UnknownClipError` if absent.

    From a current sidecar by binary search over its sorted ids when there is one (its copy is
    normalised; the stored vectors are unit vectors already), else a filtered read of `clip_id`
    in LanceDB through the BTree maintenance keeps on it (rows committed since the last
    maintenance pass are scanned).
    """
    if not isinstance(clip_id, str) or not clip_id:
        raise InvalidSearchError(f"clip id must be a non-empty string, got {clip_id!r}")
    table = _open_latest(db, model)
    current = _current_sidecar(db, table)
    if current is not None:
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
