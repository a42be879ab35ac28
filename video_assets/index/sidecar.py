"""A faiss IVF-SQ8 copy of a clip table's vectors, for searches LanceDB answers too slowly.

At 1M x 768 on our data LanceDB 0.40 alone misses issue 14's target (p50 < 5 ms
at recall@10 >= 0.95) through `search_vector`: IVF_SQ 5.87 ms p50 (recall
0.986), HNSW-SQ 9-11 ms (recall 0.58-0.96 by candidate list); this faiss copy
answered in 1.95 ms at recall 1.000 (benchmarks/RESULTS.md, "Search (ANN)").
So once a table is large enough for an ANN index, maintenance also writes a
*sidecar*: the table's vectors at one table version, as

- `index.faiss`: IVF (`nlist` lists) with 8-bit scalar-quantized codes,
  inner product on unit vectors (= cosine); `trained.faiss` is the same
  index without rows, reused by the next build while the table has grown
  less than `REBUILD_GROWTH` times (training is most of a build's time);
- `vectors.npy`: the float32 unit vectors, memory-mapped, for the exact
  re-rank, so every returned score is the exact cosine (as on LanceDB's path);
- `rows.arrow`: the hit columns in the same row order (memory-mapped IPC);
- `clip_ids.npy` / `clip_rows.npy`: the clip ids sorted, and their rows, so a
  `--like-clip` query finds its vector by binary search (0.44 ms at 1M rows;
  LanceDB's BTree on clip_id took ~11 ms at 100k);
- `meta.json`: table name, table version, sizes, build time.

A sidecar answers only while the table is still at the version it was built
from (checked on every query: one manifest read). Any commit after that makes
search fall back to LanceDB until the next maintenance pass rebuilds it, so a
result never misses a committed clip or returns a deleted one. Filtered
(`where`) and exact searches always go to LanceDB.

Files live in the database directory (`<db>/_sidecars/<table>/v<version>-<id>/`;
like `_locks`, not a `.lance` dir, so LanceDB never lists it), published by
atomically replacing the `CURRENT` pointer; a reader that holds the previous
one keeps its memory maps. The build reads its table version by
time travel, so commits go on meanwhile; one builder per table at a time
(maintenance holds a build lock for it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from lancedb.table import Table

from video_assets.index.connection import local_db_dir
from video_assets.index.hits import HIT_COLUMNS, SearchHit, hit_from_row
from video_assets.index.schema import vector_dim
from video_assets.index.vector_index import (  # the same sizing rules as LanceDB's index
    MEMORY_SHARE,
    REBUILD_GROWTH,
    TRAINING_ROWS,
    ivf_partitions,
    memory_budget_bytes,
)

POINTER = "CURRENT"
PROMOTE_AFTER = 20  # queries in one process before its index is read into memory
SIDECAR_DIR_NAME = "_sidecars"
BATCH_ROWS = 32_768
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidecarInfo:
    table: str
    version: int  # the table version whose rows the sidecar holds
    rows: int
    dim: int
    nlist: int
    kind: str  # faiss factory string
    build_s: float
    bytes_on_disk: int
    trained_reused: bool = False  # the IVF came from the previous sidecar (no k-means this time)


def sidecar_root(db_uri: str) -> Path | None:
    """Where sidecars of the database at `db_uri` live; None for object stores (no local files)."""
    local = local_db_dir(str(db_uri))
    return None if local is None else local.resolve() / SIDECAR_DIR_NAME


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def build_sidecar(
    table: Table,
    root: Path,
    *,
    version: int | None = None,
    nlist: int | None = None,
    training_rows: int = TRAINING_ROWS,
    seed: int = 0,
) -> SidecarInfo:
    """Write the sidecar of `table` at `version` (default: its latest) under `root` and publish it.

    One streamed pass over the table (vectors go to a memory-mapped file, not
    to memory). The IVF (`nlist` lists, default ~sqrt(rows)) is trained on a
    random sample of `training_rows`, or taken from the previous sidecar when
    `nlist` is not forced and that one still fits the table's size.
    The version is read by time travel, so commits may land meanwhile (the sidecar is then
    stale at once and unused until the next build); the caller keeps two builders of one
    table apart (maintenance holds a build lock) and the version within the retention.
    """
    started = time.perf_counter()
    if version is None:
        table.checkout_latest()
        version = table.version
    else:
        table.checkout(version)
    try:
        return _build(table, root, version, nlist=nlist, training_rows=training_rows, seed=seed, started=started)
    finally:
        table.checkout_latest()


def _build(
    table: Table, root: Path, version: int, *, nlist: int | None, training_rows: int, seed: int, started: float
) -> SidecarInfo:
    import faiss

    rows, dim = table.count_rows(), vector_dim(table.schema)
    if rows == 0:
        raise ValueError(f"{table.name}: an empty table has no sidecar")
    trained = None if nlist is not None else _reusable_training(root, table.name, rows, dim)
    nlist = max(1, min(int(nlist or ivf_partitions(rows)), rows)) if trained is None else trained.nlist
    table_dir = root / table.name
    table_dir.mkdir(parents=True, exist_ok=True)
    for stale in table_dir.glob(".tmp-*"):  # an interrupted build (builders are kept apart: none is running)
        shutil.rmtree(stale, ignore_errors=True)
    work = table_dir / f".tmp-{uuid.uuid4().hex[:12]}"
    work.mkdir()
    try:
        vectors, clip_ids = _copy_table(table, work, rows, dim)
        _write_clip_lookup(work, clip_ids)
        kind = f"IVF{nlist},SQ8"
        with _omp_threads(os.cpu_count() or 1):
            if trained is not None:
                index = faiss.read_index(str(trained.path))
            else:
                index = faiss.index_factory(dim, kind, faiss.METRIC_INNER_PRODUCT)
                rng = np.random.default_rng(seed)
                sample = np.sort(rng.choice(rows, size=min(rows, training_rows), replace=False))
                index.train(np.ascontiguousarray(vectors[sample]))
            faiss.write_index(index, str(work / "trained.faiss"))
            for start in range(0, rows, BATCH_ROWS):
                index.add(np.ascontiguousarray(vectors[start : start + BATCH_ROWS]))
        faiss.write_index(index, str(work / "index.faiss"))
        del vectors
        info = SidecarInfo(
            table=table.name,
            version=version,
            rows=rows,
            dim=dim,
            nlist=nlist,
            kind=kind,
            build_s=round(time.perf_counter() - started, 3),
            bytes_on_disk=sum(f.stat().st_size for f in work.iterdir()),
            trained_reused=trained is not None,
        )
        (work / "meta.json").write_text(json.dumps(asdict(info)))
        final = table_dir / f"v{version}-{work.name[5:]}"
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _publish(table_dir, final.name)
    return info


def drop_sidecar(root: Path, table: str) -> bool:
    """Remove a table's sidecar (the table shrank below the ANN threshold); whether one existed."""
    table_dir = root / table
    if not table_dir.exists():
        return False
    (table_dir / POINTER).unlink(missing_ok=True)
    shutil.rmtree(table_dir, ignore_errors=True)
    return True


@dataclass(frozen=True)
class _Trained:
    path: Path
    nlist: int


def _reusable_training(root: Path, table: str, rows: int, dim: int) -> _Trained | None:
    """The current sidecar's trained (empty) index, if its lists still suit `rows` x `dim`."""
    table_dir = root / table
    try:
        current = table_dir / (table_dir / POINTER).read_text().strip()
        info = json.loads((current / "meta.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    path = current / "trained.faiss"
    fits = info["dim"] == dim and ivf_partitions(rows) ** 2 < REBUILD_GROWTH * info["nlist"] ** 2
    return _Trained(path, int(info["nlist"])) if fits and path.exists() else None


class Sidecar:
    """A published sidecar, memory-mapped. `search` is thread-safe (faiss search is read-only)."""

    def __init__(self, directory: Path) -> None:
        import faiss

        self.directory = directory
        self.info = SidecarInfo(**json.loads((directory / "meta.json").read_text()))
        # Opened memory-mapped, so a one-shot process (the CLI) answers at once; after
        # `PROMOTE_AFTER` queries a long-lived one reads the lists into memory, where a probe
        # costs about half (1.25 vs 2.5 ms at 1M x 768, nprobes 5: mapped pages fault in on
        # first touch), if the codes fit half the memory available; loading takes ~0.5 s.
        self.index, self.in_memory = _map_index(faiss, directory / "index.faiss")
        self._settled = self.in_memory  # nothing left to decide about where the lists live
        self._queries = 0
        self._promote_lock = threading.Lock()
        self.vectors = np.load(directory / "vectors.npy", mmap_mode="r")
        self.rows = ipc.open_file(pa.memory_map(str(directory / "rows.arrow"))).read_all()
        if self.vectors.shape != (self.info.rows, self.info.dim) or self.rows.num_rows != self.info.rows:
            raise ValueError(f"{directory}: sidecar files disagree with meta.json")
        # Table.take over a many-chunk memory map costs ~13 ms at 1M rows (it gathers across every
        # chunk); a query needs a few dozen rows, so find each row's batch and slice it instead.
        self._batches = self.rows.to_batches()
        self._starts = np.cumsum([0] + [b.num_rows for b in self._batches])
        self._sorted_ids = np.load(directory / "clip_ids.npy", mmap_mode="r")
        self._id_rows = np.load(directory / "clip_rows.npy", mmap_mode="r")

    def vector_of(self, clip_id: str) -> np.ndarray | None:
        """The stored (unit) vector of `clip_id`, None if this table version has no such clip."""
        key = clip_id.encode()
        pos = int(np.searchsorted(self._sorted_ids, key))
        if pos == len(self._sorted_ids) or self._sorted_ids[pos] != key:
            return None
        return np.array(self.vectors[int(self._id_rows[pos])], dtype=np.float32)

    def search(
        self, query: np.ndarray, *, k: int, offset: int, nprobes: int, refine_factor: int, exclude: frozenset[str]
    ) -> list[SearchHit]:
        """Hits `offset .. offset+k` by exact cosine among `(k + offset + excluded) * refine_factor` IVF candidates."""
        import faiss

        # One thread per query (OpenMP's setting is per calling thread): spreading one query's lists
        # over both cores cut p50 from ~3 to ~2 ms at 1M x 768 but p95 rose to ~30 ms whenever the
        # other core was busy (benchmarks/RESULTS.md); concurrent queries use the cores instead.
        faiss.omp_set_num_threads(1)
        self._count_query()
        q = np.asarray(query, dtype=np.float32)
        q = q / np.linalg.norm(q)
        wanted = min(self.info.rows, (k + offset + len(exclude)) * refine_factor)
        params = faiss.SearchParametersIVF(nprobe=min(nprobes, self.info.nlist))
        _, found = self.index.search(q[None, :], wanted, params=params)
        ids = found[0][found[0] >= 0]
        if ids.size == 0:
            return []
        ids.sort()  # ascending offsets read the memory map in order
        scores = self.vectors[ids] @ q
        order = np.argsort(-scores, kind="stable")
        ids, scores = ids[order], scores[order]
        if exclude:
            keep = np.array([self._row(i, "clip_id")["clip_id"] not in exclude for i in ids], dtype=bool)
            ids, scores = ids[keep], scores[keep]
        ids, scores = ids[offset : offset + k], scores[offset : offset + k]
        return [hit_from_row(self._row(i), score) for i, score in zip(ids, scores)]

    def _count_query(self) -> None:
        self._queries += 1
        if self._settled or self._queries < PROMOTE_AFTER:
            return
        with self._promote_lock:
            if self._settled:
                return
            if self.info.rows * self.info.dim <= MEMORY_SHARE * memory_budget_bytes():
                import faiss

                # In-flight searches keep the mapped index object they started with.
                self.index = faiss.read_index(str(self.directory / "index.faiss"))
                self.in_memory = True
            self._settled = True  # codes too large: they stay mapped

    def _row(self, i: int, *columns: str) -> dict:
        chunk = int(np.searchsorted(self._starts, i, side="right")) - 1
        batch = self._batches[chunk]
        if columns:
            batch = batch.select(list(columns))
        return batch.slice(int(i - self._starts[chunk]), 1).to_pylist()[0]

    def describe(self, *, k: int, offset: int, nprobes: int, refine_factor: int, exclude: frozenset[str]) -> str:
        """The steps `search` with the same knobs takes, as text (`explain_search`)."""
        excluded = len(exclude)
        wanted = min(self.info.rows, (k + offset + excluded) * refine_factor)
        return (
            f"faiss sidecar {self.info.kind} (inner product on unit vectors) of {self.info.table} at table version "
            f"{self.info.version}, {self.info.rows} rows: probe {min(nprobes, self.info.nlist)} of {self.info.nlist} "
            f"lists for {wanted} candidates, exact cosine re-rank on the stored float32 vectors, "
            f"skip {excluded} excluded clip(s), return hits {offset}..{offset + k}\n  files: {self.directory}"
        )


_cache: dict[Path, tuple[str, Sidecar]] = {}
_cache_lock = threading.Lock()


def load_sidecar(root: Path, table: str) -> Sidecar | None:
    """The table's published sidecar (cached per process until `CURRENT` changes); None if none."""
    table_dir = root / table
    try:
        current = (table_dir / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    with _cache_lock:
        cached = _cache.get(table_dir)
        if cached is not None and cached[0] == current:
            return cached[1]
        try:
            sidecar = Sidecar(table_dir / current)
        except FileNotFoundError:
            return None  # replaced and cleaned up between our two reads: LanceDB answers this one
        except (OSError, ValueError, RuntimeError, TypeError, KeyError) as error:
            # Damaged files (a crash mid-write, a disk error): search stays correct through LanceDB,
            # and the next maintenance pass writes a new sidecar.
            _log.warning("ignoring the damaged sidecar %s: %s", table_dir / current, error)
            return None
        _cache[table_dir] = (current, sidecar)
        return sidecar


def _copy_table(table: Table, work: Path, rows: int, dim: int) -> tuple[np.ndarray, list[str]]:
    """Stream the hit columns to rows.arrow and unit vectors to vectors.npy; returns the memory map
    and the clip ids in row order."""
    vectors = np.lib.format.open_memmap(work / "vectors.npy", mode="w+", dtype=np.float32, shape=(rows, dim))
    reader = table.search().select([*HIT_COLUMNS, "vector"]).limit(None).to_batches(BATCH_ROWS)
    written = 0
    clip_ids: list[str] = []
    schema = table.schema
    row_schema = pa.schema([schema.field(name) for name in HIT_COLUMNS])
    with ipc.new_file(str(work / "rows.arrow"), row_schema) as out:
        for batch in reader:
            n = batch.num_rows
            if written + n > rows:
                raise RuntimeError(f"{table.name}: more rows than counted at version {table.version}")
            flat = batch.column("vector").flatten().to_numpy(zero_copy_only=False)
            block = np.asarray(flat, dtype=np.float32).reshape(n, dim)
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            vectors[written : written + n] = block / np.where(norms > 0, norms, 1.0)
            out.write_batch(pa.record_batch([batch.column(name) for name in HIT_COLUMNS], schema=row_schema))
            clip_ids += batch.column("clip_id").to_pylist()
            written += n
    if written != rows:
        raise RuntimeError(f"{table.name}: read {written} rows, counted {rows} at version {table.version}")
    vectors.flush()
    return vectors, clip_ids


def _write_clip_lookup(work: Path, clip_ids: list[str]) -> None:
    """clip_ids.npy (sorted, fixed-width bytes) and clip_rows.npy (their rows in the sidecar)."""
    ids = np.array([c.encode() for c in clip_ids])  # numpy bytes, width of the longest id
    order = np.argsort(ids, kind="stable")
    np.save(work / "clip_ids.npy", ids[order])
    np.save(work / "clip_rows.npy", order.astype(np.int64))


def _publish(table_dir: Path, name: str) -> None:
    """Point CURRENT at `name` atomically, then delete all but it and the previous one."""
    pointer = table_dir / POINTER
    previous = pointer.read_text().strip() if pointer.exists() else None
    tmp = table_dir / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(name)
    os.replace(tmp, pointer)
    for entry in table_dir.iterdir():
        if entry.is_dir() and not entry.name.startswith(".tmp-") and entry.name not in (name, previous):
            shutil.rmtree(entry, ignore_errors=True)


def _map_index(faiss, path: Path):
    """The index with its IVF lists memory-mapped (opens at once); a full read where this faiss
    build cannot map this index type."""
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY), False
    except RuntimeError:
        return faiss.read_index(str(path)), True


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """faiss's OpenMP threads for the block (this thread's setting), restored after."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
