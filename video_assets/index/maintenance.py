"""Keeping a clip table fast: compaction, old-version cleanup, ANN and scalar indexes.

Every commit is a new table version and (unless it only deletes) a new
fragment; a backfill makes thousands of each, and queries slow down with the
fragment count. `optimize_clip_table` runs, under the table's commit lock
(compaction conflicts with a concurrent merge_insert, lance-format/lance#6151):

1. `Table.optimize(cleanup_older_than=retention)`: compaction of small
   fragments, removal of versions older than `retention`, and new rows added
   to the existing indexes;
2. the ANN index `vector_index.plan_vector_index` picks for the table's size
   (none below the exact-search threshold), built or rebuilt when needed;
   rows committed later are searched flat until the next pass adds them;
3. after the commit lock is released, the faiss sidecar (`sidecar.py`) of
   the version this pass left, for tables with an ANN index and a local
   database directory, or its removal when the table no longer needs one;
4. scalar indexes (`SCALAR_INDEXES`): BTree on `video_id` (the committer's
   per-video filters, the merge's delete condition, `--where video_id = ...`),
   `duration_s` (ranges) and `clip_id` (`--like-clip`'s vector lookup: half
   the CPU of a scan at 100k rows, benchmarks/RESULTS.md), a bitmap on
   `text_match` (a handful of distinct texts). lancedb#3177 and #3515
   reported merge_insert silently matching nothing with a scalar index on
   the merge key (`clip_id`); with LanceDB 0.40 a merge on the indexed key
   updates and inserts exactly (benchmarks/search_lance_hnsw.py, lookup
   phase), and tests/index/test_maintenance.py checks the committer's merge
   counts with all these indexes across appends, merges, deletes and optimize.

The retention must outlast any run or reader: a reader pinned to a version
that cleanup removed fails. Partition commits take seconds and searches
re-read the latest version on each query, so the default hour is generous.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Literal

import lancedb
from lancedb.index import Bitmap, BTree
from lancedb.table import Table

from video_assets.index.committer import DEFAULT_LOCK_TIMEOUT_S, CommitLock, commit_lock
from video_assets.index.connection import open_clip_table
from video_assets.index.schema import vector_dim
from video_assets.index.sidecar import SidecarInfo, build_sidecar, drop_sidecar, faiss_available, sidecar_root
from video_assets.index.vector_index import (
    MEMORY_SHARE,
    ExistingVectorIndex,
    IndexKind,
    VectorIndexPlan,
    build_vector_index,
    existing_vector_index,
    memory_budget_bytes,
    needs_new_index,
    plan_vector_index,
)

DEFAULT_RETENTION = timedelta(hours=1)
# Optimize after this many commits (table versions); chosen in benchmarks/RESULTS.md, "Index writes".
DEFAULT_OPTIMIZE_EVERY = 100
# Filter column -> index kind: BTree for many distinct values and ranges, bitmap for a few values.
# Measured with prefiltered searches at 1M rows in benchmarks/RESULTS.md ("LanceDB-only search").
SCALAR_INDEXES = {"video_id": "btree", "duration_s": "btree", "text_match": "bitmap", "clip_id": "btree"}
SCALAR_INDEX_COLUMNS = tuple(SCALAR_INDEXES)
SIDECAR_LOCK_DIR = "_build_locks"  # under the sidecar root; never a table's directory


@dataclass(frozen=True)
class TableHealth:
    """What makes a table slow: versions kept, fragments, rows not yet in the ANN index."""

    version: int
    num_versions: int
    num_fragments: int
    num_small_fragments: int
    num_rows: int
    unindexed_rows: int | None  # None: no ANN index


@dataclass(frozen=True)
class OptimizeResult:
    """What one maintenance pass did; `metadata()` is what the Dagster asset reports."""

    table: str
    before: TableHealth
    after: TableHealth
    retention_s: float
    plan: VectorIndexPlan  # what the table's size calls for
    vector_index: ExistingVectorIndex | None  # the ANN index the table has now
    vector_index_built: bool
    vector_index_build_s: float
    scalar_indexes: tuple[str, ...]
    sidecar: SidecarInfo | None  # built by this pass
    sidecar_note: str  # why there is none, or that it was dropped
    lock: CommitLock
    seconds: float

    def metadata(self) -> dict[str, Any]:
        index = self.vector_index
        if self.vector_index_built:
            params = {k: v for k, v in asdict(self.plan).items() if k != "reason" and v is not None}
        else:
            params = {"num_partitions": index.num_partitions} if index and index.num_partitions else {}
        meta: dict[str, Any] = {
            "table": self.table,
            "table_version": self.after.version,
            "index_type": "none (exact search)" if index is None else (index.kind or f"custom ({index.name})"),
            "index_name": index.name if index else "",
            "index_params": params,
            "index_plan": self.plan.reason,
            "vector_index_built": self.vector_index_built,
            "vector_index_build_s": round(self.vector_index_build_s, 3),
            "scalar_indexes": list(self.scalar_indexes),
            "sidecar": self.sidecar_note
            if self.sidecar is None
            else f"{self.sidecar.kind} at v{self.sidecar.version}, {self.sidecar.rows} rows",
            "sidecar_build_s": self.sidecar.build_s if self.sidecar else 0.0,
            "sidecar_bytes": self.sidecar.bytes_on_disk if self.sidecar else 0,
            "sidecar_trained_reused": bool(self.sidecar and self.sidecar.trained_reused),
            "retention_s": self.retention_s,
            "lock": self.lock.kind,
            "seconds": round(self.seconds, 3),
        }
        for when, health in (("before", self.before), ("after", self.after)):
            for key, value in asdict(health).items():
                meta[f"{key}_{when}"] = value
        return meta


def table_health(table: Table) -> TableHealth:
    """Version, versions kept, fragments and unindexed rows of `table` at its latest version."""
    table.checkout_latest()
    stats = table.stats()
    vector = existing_vector_index(table)
    return TableHealth(
        version=table.version,
        num_versions=len(table.list_versions()),
        num_fragments=stats["fragment_stats"]["num_fragments"],
        num_small_fragments=stats["fragment_stats"]["num_small_fragments"],
        num_rows=stats["num_rows"],
        unindexed_rows=None if vector is None else vector.unindexed_rows,
    )


def should_optimize(version: int, last_optimized_version: int | None, every_k_commits: int) -> bool:
    """Whether `every_k_commits` commits happened since `last_optimized_version` (None: never optimized)."""
    if every_k_commits < 1:
        raise ValueError(f"every_k_commits must be >= 1, got {every_k_commits}")
    return version - (last_optimized_version or 0) >= every_k_commits


def optimize_clip_table(
    db: lancedb.DBConnection,
    model: str,
    *,
    retention: timedelta = DEFAULT_RETENTION,
    index_kind: IndexKind | Literal["auto"] = "auto",
    scalar_indexes: bool = True,
    sidecar: bool = True,
    memory_bytes: int | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    lock_dir: str | os.PathLike[str] | None = None,
) -> OptimizeResult:
    """Compact, clean up versions older than `retention`, and bring the indexes in line with the table.

    `index_kind="auto"` lets the table size choose (see `vector_index`);
    `memory_bytes` is the budget that choice assumes (default: memory available now).
    `sidecar=False` builds no faiss sidecar (and removes a stale one).
    """
    if not isinstance(retention, timedelta) or retention <= timedelta(0):
        # 0 removes every old version at once and breaks any reader still on one (LanceDB warns too).
        raise ValueError(f"retention must be a positive timedelta, got {retention!r}")
    started = time.perf_counter()
    with commit_lock(db, model, timeout_s=lock_timeout_s, lock_dir=lock_dir) as lock:
        table = open_clip_table(db, model)
        before = table_health(table)
        table.optimize(cleanup_older_than=retention)
        table.checkout_latest()
        rows = table.count_rows()
        plan = plan_vector_index(rows, vector_dim(table.schema), kind=index_kind, memory_bytes=memory_bytes)
        existing = existing_vector_index(table)
        built, build_s = False, 0.0
        if needs_new_index(existing, plan):
            build_s, built = build_vector_index(table, plan), True
        made_scalar = _ensure_scalar_indexes(table) if scalar_indexes and rows else ()
        after = table_health(table)
    # Outside the commit lock: the sidecar reads the version this pass left (time travel; the
    # retention keeps it), so commits go on during its build and only make it stale sooner.
    side, side_note = _refresh_sidecar(
        db,
        model,
        table,
        after,
        wanted=sidecar and plan.kind != "none",
        memory_bytes=memory_bytes,
        lock_timeout_s=lock_timeout_s,
    )
    return OptimizeResult(
        table=table.name,
        before=before,
        after=after,
        retention_s=retention.total_seconds(),
        plan=plan,
        vector_index=existing_vector_index(table),
        vector_index_built=built,
        vector_index_build_s=build_s,
        scalar_indexes=made_scalar,
        sidecar=side,
        sidecar_note=side_note,
        lock=lock,
        seconds=time.perf_counter() - started,
    )


def _refresh_sidecar(
    db: lancedb.DBConnection,
    model: str,
    table: Table,
    health: TableHealth,
    *,
    wanted: bool,
    memory_bytes: int | None,
    lock_timeout_s: float,
) -> tuple[SidecarInfo | None, str]:
    """Build the sidecar of the table version `health` describes, or drop one no longer wanted.

    Holds the sidecar build lock (not the commit lock), so two maintenance passes never
    build into the same directory at once.
    """
    root = sidecar_root(db.uri)
    if root is None:
        return None, "none: the database is not a local directory"
    codes = health.num_rows * vector_dim(table.schema)  # faiss builds its SQ8 codes in memory
    budget = memory_bytes if memory_bytes is not None else memory_budget_bytes()
    too_big = codes > MEMORY_SHARE * budget
    with commit_lock(db, model, timeout_s=lock_timeout_s, lock_dir=root / SIDECAR_LOCK_DIR):
        if not wanted or too_big:
            dropped = drop_sidecar(root, table.name)  # a stale one would never match the table again
            why = (
                (
                    f"SQ8 codes {codes / 2**30:.2f} GiB exceed {MEMORY_SHARE:.0%} of the {budget / 2**30:.1f} GiB "
                    "budget: LanceDB answers"
                )
                if too_big
                else "no ANN index wanted"
            )
            return None, f"dropped ({why})" if dropped else f"none ({why})"
        if not faiss_available():
            return None, "none: faiss-cpu is not installed"
        return build_sidecar(table, root, version=health.version), ""


def _ensure_scalar_indexes(table: Table) -> tuple[str, ...]:
    """The `SCALAR_INDEXES` a table lacks; existing ones were already updated by optimize()."""
    indexed = {tuple(ix.columns) for ix in table.list_indices()}
    for column, kind in SCALAR_INDEXES.items():
        if (column,) not in indexed:
            config = BTree() if kind == "btree" else Bitmap()
            table.create_index(column, config=config, name=f"{column}_{kind}", replace=True)
    return tuple(f"{column}_{kind}" for column, kind in SCALAR_INDEXES.items())
