"""The per-table commit lock: what makes two committers racing on one table safe.

In production the committer is single per table (the Dagster pool
`lancedb_<model>` of size 1). A user may raise the pool or run two machines,
and LanceDB alone does not make that safe:

- two `merge_insert`s (or appends) that insert the same new key both commit:
  their new fragments touch nothing in common, so conflict detection sees no
  conflict (lance-format/lance#4585, still open for new keys in #8949);
- concurrent `merge_insert`s retry with backoff and thrash, O(N^2) attempts
  for N writers, then raise (lance-format/lance#3614, #3776);
- compaction commits a Rewrite that conflicts with any concurrent
  `merge_insert` (lance-format/lance#6151), so maintenance must not race commits.

So every commit, delete and maintenance pass on a table holds one exclusive
lock for that table. For a local (or mounted) database directory it is a
`flock` (through filelock) on `<db>/_locks/clips_<model>.lock`: the kernel releases it when the
holder dies, even by `kill -9`, so a crash never leaves a stale lock.

Limits: object storage (`s3://`, `gs://`, `az://`, ...) has no lock we can
take, so without `lock_dir` the returned `CommitLock` says `kind="none"` and
the pool of size 1 is the only guard; the post-commit verification in
`commit.commit_partition` still raises on a duplicate clip id. Committers on
several machines can share a lock only through a `lock_dir` on a filesystem
that honours `flock` across hosts (NFSv4 with locking; not every FUSE mount).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import lancedb
import pyarrow as pa
from filelock import FileLock, Timeout

from video_assets.index.commit import CommitResult, DeleteResult, commit_partition, delete_videos
from video_assets.index.connection import local_db_dir
from video_assets.index.recovery import discard_uncommitted_table
from video_assets.index.schema import table_name

DEFAULT_LOCK_TIMEOUT_S = 600.0
LOCK_DIR_NAME = "_locks"  # not a `.lance` dir, so LanceDB never lists it as a table
_POLL_S = 0.02


class CommitLockTimeout(TimeoutError):
    """Another committer held the table's lock for longer than the timeout."""


@dataclass(frozen=True)
class CommitLock:
    """Which lock guarded a commit; goes to the asset's metadata."""

    kind: Literal["file", "none"]
    path: str | None
    waited_s: float
    note: str


def lock_path(db_uri: str, model: str, lock_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The lock file of the model's table, or None when no file lock is possible (object storage)."""
    if lock_dir is not None:
        return Path(lock_dir) / f"{table_name(model)}.lock"
    local = local_db_dir(db_uri)
    return None if local is None else local / LOCK_DIR_NAME / f"{table_name(model)}.lock"


@contextmanager
def commit_lock(
    db: lancedb.DBConnection,
    model: str,
    *,
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    lock_dir: str | os.PathLike[str] | None = None,
) -> Iterator[CommitLock]:
    """Hold the model's table lock for the `with` block (see the module doc for its limits).

    Raises `CommitLockTimeout` after `timeout_s` seconds of waiting.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    path = lock_path(str(db.uri), model, lock_dir)
    if path is None:
        yield CommitLock(
            kind="none",
            path=None,
            waited_s=0.0,
            note=f"{db.uri} is object storage: no file lock; the Dagster pool of size 1 is the only guard",
        )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # filelock takes flock on POSIX (a byte-range lock on Windows), released by the kernel when the
    # holder dies. preserve_lock_file: the file is never deleted (a waiter could lock the old inode
    # while a newcomer locks a new one), and no fallback to a soft lock where flock is missing (a
    # killed holder would leave it stale): such a filesystem raises instead. A FileLock object per
    # call, so two callers in one process exclude each other too.
    lock = FileLock(path, timeout=timeout_s, preserve_lock_file=True)
    try:
        lock.acquire(poll_interval=_POLL_S)
    except Timeout:
        raise CommitLockTimeout(
            f"waited {timeout_s:.0f}s for {path}: another committer of {table_name(model)} holds it "
            "(a live process; a dead one releases it)"
        ) from None
    try:
        yield CommitLock(kind="file", path=str(path), waited_s=time.monotonic() - started, note="flock")
    finally:
        lock.release()


def commit_partition_locked(
    db: lancedb.DBConnection,
    model: str,
    staged: pa.Table,
    video_ids: Sequence[str],
    *,
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    lock_dir: str | os.PathLike[str] | None = None,
) -> tuple[CommitResult, CommitLock]:
    """`commit.commit_partition` under the table's commit lock: safe when committers race.

    Under a file lock it first clears what a killed first write left (`recovery`); the
    result's `recovered` then names the directory it removed.
    """
    with commit_lock(db, model, timeout_s=timeout_s, lock_dir=lock_dir) as lock:
        discarded = discard_uncommitted_table(db, model) if lock.kind == "file" else None
        result = commit_partition(db, model, staged, video_ids)
        if discarded is not None:
            result = replace(result, recovered=f"removed {discarded}: an interrupted first write, never committed")
        return result, lock


def delete_videos_locked(
    db: lancedb.DBConnection,
    model: str,
    video_ids: Sequence[str],
    *,
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    lock_dir: str | os.PathLike[str] | None = None,
) -> tuple[DeleteResult, CommitLock]:
    """`commit.delete_videos` under the table's commit lock."""
    with commit_lock(db, model, timeout_s=timeout_s, lock_dir=lock_dir) as lock:
        return delete_videos(db, model, video_ids), lock
