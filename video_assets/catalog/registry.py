"""The video registry: which videos exist, which partition holds each, how each fared.

A small SQLite table beside the data (WAL mode, so the sensor, runs and the CLI
can read and write it at once). It is the source of truth for the videos of a
partition: a partition key names a batch of up to ``videos_per_partition``
videos; with the default of 1 the key is the video id itself.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from video_assets.catalog.input_walk import DiscoveredFile
from video_assets.catalog.registry_errors import is_lock_wait, registry_error

# pending: not (or no longer) in every enabled model's index; done: it is (see ledger.py);
# failed: the last attempt failed, with the reason; missing: the file is gone; settled: failed,
# and the user said to stop retrying it (`video-assets quarantine`) until the file changes.
STATUSES = ("pending", "done", "failed", "missing", "settled")
SETTLED = "settled"


def video_id_for(rel_path: str) -> str:
    """A stable, readable id: slug of the relative path + short hash of it.

    The hash keeps ids unique when slugs collide (``a b.mp4`` vs ``a-b.mp4``); a
    renamed file is a new video.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", rel_path.lower()).strip("-")[:48].strip("-") or "video"
    digest = hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


@dataclass(frozen=True)
class VideoRecord:
    video_id: str
    rel_path: str
    abs_path: str
    size_bytes: int
    mtime: float
    partition_key: str | None
    status: str
    error: str | None
    sha256: str | None
    updated_at: float = 0.0


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    rel_path TEXT NOT NULL UNIQUE,
    abs_path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    mtime REAL NOT NULL,
    partition_key TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    error TEXT,
    sha256 TEXT,
    registered_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    change_seq INTEGER NOT NULL DEFAULT 0
)
"""

# The step that bumps `change_seq` is a sub-select, so it runs inside the writer's transaction.
_NEXT_SEQ = "(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM videos)"


class VideoRegistry:
    """The registry file; every method opens its own short connection (safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(self.path, timeout=30.0)) as db:
                # Persistent in the file; in WAL mode readers never block the writer.
                db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            raise (err if is_lock_wait(err) else registry_error(self.path, err)) from err
        with self._connect(write=True) as db:
            db.execute(_CREATE_TABLE)
            columns = {r["name"] for r in db.execute("PRAGMA table_info(videos)")}
            if "change_seq" not in columns:  # a registry written before change tracking
                db.execute("ALTER TABLE videos ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0")
            # Registries before the ledger marked a video "ok" once it probed, whatever happened
            # after: that proves nothing, so those videos are re-verified by the next run.
            db.execute("UPDATE videos SET status='pending' WHERE status='ok'")
            db.execute("CREATE INDEX IF NOT EXISTS videos_partition ON videos(partition_key)")
            db.execute("CREATE INDEX IF NOT EXISTS videos_change_seq ON videos(change_seq)")

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        # Autocommit connection with explicit transactions: a writer takes the write lock
        # up front (BEGIN IMMEDIATE), so its reads and writes form one step. With
        # sqlite3's implicit deferred transactions, two processes could both read the
        # same unsealed videos and seal them into two different partitions.
        try:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.DatabaseError as err:
            raise (err if is_lock_wait(err) else registry_error(self.path, err)) from err
        db.row_factory = sqlite3.Row
        try:
            # A reader's transaction is one snapshot: its queries agree with each other.
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite ends the transaction itself on some errors (disk full)
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            # Damaged file, full disk, read-only folder: named, with the remedy (lock waits pass as they are).
            raise (err if is_lock_wait(err) else registry_error(self.path, err)) from err
        finally:
            db.close()

    def register(self, files: Iterable[DiscoveredFile]) -> list[str]:
        """Add files not seen before (status pending, no partition yet); returns their ids.

        A known file that changed in place (size or mtime) or came back after being
        reported missing is pending again, in the partition it had.
        """
        now = time.time()
        added = []
        with self._connect(write=True) as db:
            for f in files:
                vid = video_id_for(f.rel_path)
                row = db.execute("SELECT status, size_bytes, mtime FROM videos WHERE video_id=?", (vid,)).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO videos (video_id, rel_path, abs_path, size_bytes, mtime, status,"
                        f" registered_at, updated_at, change_seq) VALUES (?,?,?,?,?,'pending',?,?,{_NEXT_SEQ})",
                        (vid, f.rel_path, f.abs_path, f.size_bytes, f.mtime, now, now),
                    )
                    added.append(vid)
                elif row["status"] == "missing" or (row["size_bytes"], row["mtime"]) != (f.size_bytes, f.mtime):
                    # Restored or changed in place: its new sha256 becomes the data version,
                    # so everything downstream shows stale in the UI until it is rerun.
                    db.execute(
                        "UPDATE videos SET status='pending', error=NULL, abs_path=?, size_bytes=?, mtime=?,"
                        f" updated_at=?, change_seq={_NEXT_SEQ} WHERE video_id=?",
                        (f.abs_path, f.size_bytes, f.mtime, now, vid),
                    )
        return added

    def seal_partitions(
        self, videos_per_partition: int, *, seal_partial: bool, max_age_s: float | None = None
    ) -> list[str]:
        """Group unassigned videos (in path order) into partitions; returns the new keys.

        A batch is sealed when it is full; a partial batch only when ``seal_partial`` is
        set or its oldest video waited longer than ``max_age_s``.
        """
        if videos_per_partition < 1:
            raise ValueError(f"videos_per_partition must be >= 1, got {videos_per_partition}")
        with self._connect(write=True) as db:
            rows = db.execute(
                "SELECT video_id, registered_at FROM videos WHERE partition_key IS NULL"
                " AND status != 'missing' ORDER BY rel_path"
            ).fetchall()
            keys = []
            for start in range(0, len(rows), videos_per_partition):
                batch = rows[start : start + videos_per_partition]
                full = len(batch) == videos_per_partition
                aged = max_age_s is not None and time.time() - min(r["registered_at"] for r in batch) > max_age_s
                if not (full or seal_partial or aged):
                    continue
                ids = [r["video_id"] for r in batch]
                key = ids[0] if videos_per_partition == 1 else _batch_key(ids)
                # Sealing is a change: a sensor whose cursor passed these videos while they
                # waited in a partial batch must still request their run.
                seq = db.execute(f"SELECT {_NEXT_SEQ}").fetchone()[0]
                db.executemany(
                    "UPDATE videos SET partition_key=?, change_seq=? WHERE video_id=?", [(key, seq, i) for i in ids]
                )
                keys.append(key)
        return keys

    def pending_changes(self, after_seq: int) -> tuple[dict[str, int], int]:
        """Sealed partitions with pending videos changed after ``after_seq`` -> their latest
        change, and the registry's latest change (read in the same snapshot: the next cursor).

        Change numbers only grow (new, changed, restored and sealed videos take the next one),
        so a sensor that keeps the latest as its cursor sees every change once.
        """
        with self._connect() as db:
            rows = db.execute(
                "SELECT partition_key, MAX(change_seq) AS seq FROM videos WHERE status='pending'"
                " AND partition_key IS NOT NULL AND change_seq > ? GROUP BY partition_key ORDER BY partition_key",
                (after_seq,),
            ).fetchall()
            latest = db.execute("SELECT COALESCE(MAX(change_seq), 0) FROM videos").fetchone()[0]
        return {r["partition_key"]: r["seq"] for r in rows}, latest

    def videos_in(self, partition_key: str) -> list[VideoRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM videos WHERE partition_key=? ORDER BY rel_path", (partition_key,)
            ).fetchall()
        if not rows:
            raise KeyError(f"partition {partition_key!r} is not in the video registry {self.path}")
        return [_record(r) for r in rows]

    def get(self, video_id: str) -> VideoRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM videos WHERE video_id=?", (video_id,)).fetchone()
        if row is None:
            raise KeyError(f"video {video_id!r} is not in the video registry {self.path}")
        return _record(row)

    def mark(self, video_id: str, status: str, *, error: str | None = None, sha256: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        with self._connect(write=True) as db:
            row = db.execute("SELECT status FROM videos WHERE video_id=?", (video_id,)).fetchone()
            if row is not None and row["status"] == SETTLED and status in ("failed", "pending"):
                return  # settled by the user: another failed try keeps it so (a changed file does not: register)
            updated = db.execute(
                "UPDATE videos SET status=?, error=?, sha256=COALESCE(?, sha256), updated_at=? WHERE video_id=?",
                (status, error, sha256, time.time(), video_id),
            ).rowcount
        if not updated:
            raise KeyError(f"video {video_id!r} is not in the video registry {self.path}")

    def settle(self, video_id: str, settled: bool = True) -> VideoRecord:
        """The user's word on a failed video: settled (no more retries until the file changes), or not
        (`settled=False`: pending again). Raises ValueError for a video in another state."""
        video = self.get(video_id)
        wanted = ("failed", "pending") if settled else (SETTLED,)
        if video.status not in wanted:
            action = "settle" if settled else "retry"
            raise ValueError(
                f"cannot {action} {video.rel_path} ({video_id}): it is {video.status}; only "
                f"{' or '.join(wanted)} videos can be {'settled' if settled else 'retried'}"
            )
        with self._connect(write=True) as db:
            db.execute(
                "UPDATE videos SET status=?, updated_at=? WHERE video_id=?",
                (SETTLED if settled else "pending", time.time(), video_id),
            )
        return self.get(video_id)

    def record_probe(self, video_id: str, sha256: str) -> None:
        """The content hash the probe of this run read (the status is left to the ledger)."""
        with self._connect(write=True) as db:
            db.execute("UPDATE videos SET sha256=?, updated_at=? WHERE video_id=?", (sha256, time.time(), video_id))

    def mark_changed(self, video_id: str, sha256: str) -> None:
        """Content changed under the same size and mtime (found by a rehash): pending again."""
        with self._connect(write=True) as db:
            db.execute(
                f"UPDATE videos SET status='pending', error=NULL, sha256=?, updated_at=?, change_seq={_NEXT_SEQ}"
                " WHERE video_id=?",
                (sha256, time.time(), video_id),
            )

    def mark_missing(self, present_rel_paths: Iterable[str]) -> list[VideoRecord]:
        """Videos whose files are gone are marked missing (never silently kept); returns them."""
        present = set(present_rel_paths)
        with self._connect(write=True) as db:
            rows = db.execute("SELECT * FROM videos WHERE status != 'missing'").fetchall()
            gone = [_record(r) for r in rows if r["rel_path"] not in present]
            db.executemany(
                "UPDATE videos SET status='missing', error='file no longer in the input directory',"
                " updated_at=? WHERE video_id=?",
                [(time.time(), r.video_id) for r in gone],
            )
        return gone

    def all(self) -> list[VideoRecord]:
        with self._connect() as db:
            return [_record(r) for r in db.execute("SELECT * FROM videos ORDER BY rel_path")]

    def page(self, status: str | None = None, *, limit: int = 100, offset: int = 0) -> list[VideoRecord]:
        """One page of the videos (of one status when given), by relative path: never every row at once."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        where, params = ("WHERE status=?", (status,)) if status is not None else ("", ())
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM videos {where} ORDER BY rel_path LIMIT ? OFFSET ?", (*params, limit, offset)
            ).fetchall()
        return [_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Videos per status, every status named (0 when none)."""
        with self._connect() as db:
            found = dict(db.execute("SELECT status, COUNT(*) FROM videos GROUP BY status").fetchall())
        return {status: found.get(status, 0) for status in STATUSES}

    def partition_keys(self) -> list[str]:
        """Keys of partitions that still hold a video (one whose videos are all missing is gone)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT partition_key FROM videos WHERE partition_key IS NOT NULL"
                " AND status != 'missing' ORDER BY partition_key"
            ).fetchall()
        return [r[0] for r in rows]


def _batch_key(video_ids: Sequence[str]) -> str:
    digest = hashlib.sha1("\n".join(video_ids).encode("utf-8")).hexdigest()[:10]
    return f"batch-{video_ids[0][:40]}-n{len(video_ids)}-{digest}"


def _record(row: sqlite3.Row) -> VideoRecord:
    return VideoRecord(**{f.name: row[f.name] for f in fields(VideoRecord)})
