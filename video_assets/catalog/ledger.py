"""The per-video ledger: what reached the index, what was dropped and why.

A video is ``done`` only when every enabled model's index commit for its current
content (sha256) and current settings (`index_version`) has landed, with at least
one clip. The ledger lives in the registry's SQLite file, written by the steps at
the moment their work lands:

- ``clip_plan``: clips planned per video (or why none), by the clips step;
- ``clip_drops``: clips dropped per stage with the reason (frames: undecodable;
  ``<model>_tensors``: too few frames), replaced each time the stage runs;
- ``landed``: per video and model, the content hash, settings version and clip rows
  of the last index commit, written after the commit returned.

`settle` turns those into the registry status. Nothing here marks a video done
before its rows are in every table; a killed run leaves its videos not done, and
the next plain `run` retries them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from video_assets.catalog.registry import VideoRegistry

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS clip_plan (
        video_id TEXT PRIMARY KEY, clips INTEGER NOT NULL, reason TEXT, updated_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS clip_drops (
        video_id TEXT NOT NULL, stage TEXT NOT NULL, clip_id TEXT NOT NULL, reason TEXT NOT NULL,
        PRIMARY KEY (video_id, stage, clip_id))""",
    # Done videos checked once for an edit list the index ignored before (issue 23): content hash.
    """CREATE TABLE IF NOT EXISTS timeline_checked (video_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS landed (
        video_id TEXT NOT NULL, model TEXT NOT NULL, sha256 TEXT, version TEXT NOT NULL,
        clips INTEGER NOT NULL, landed_at REAL NOT NULL, PRIMARY KEY (video_id, model))""",
)

# Drop reasons of limits the code no longer has: a done video with such a drop is redone (only it).
_LIFTED_DROPS = "reason LIKE '%frame size changes inside the clip%'"


@dataclass(frozen=True)
class VideoAccount:
    """One video's ledger, for summaries: planned clips, indexed rows per model, drops."""

    video_id: str
    rel_path: str
    abs_path: str
    status: str
    error: str | None
    planned: int | None  # None: the clips step never ran for this content
    plan_reason: str | None  # why no clip was planned
    indexed: dict[str, int] = field(default_factory=dict)  # model -> rows of the current landing
    drops: dict[str, str] = field(default_factory=dict)  # clip_id -> "stage: reason"

    @property
    def indexed_clips(self) -> int:
        """Clips indexed by every model (the least of them)."""
        return min(self.indexed.values()) if self.indexed else 0


class VideoLedger:
    """The ledger tables beside the registry (same file, same short transactions)."""

    def __init__(self, registry: VideoRegistry) -> None:
        self.registry = registry
        with registry._connect(write=True) as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def record_plan(self, plans: Mapping[str, tuple[int, str | None]]) -> None:
        """video_id -> (clips planned, why none). A new plan clears that video's drops."""
        now = time.time()
        with self.registry._connect(write=True) as db:
            for video_id, (clips, reason) in plans.items():
                db.execute(
                    "INSERT OR REPLACE INTO clip_plan (video_id, clips, reason, updated_at) VALUES (?,?,?,?)",
                    (video_id, clips, reason, now),
                )
                db.execute("DELETE FROM clip_drops WHERE video_id=?", (video_id,))

    def record_drops(self, stage: str, video_ids: Iterable[str], drops: Mapping[str, tuple[str, str]]) -> None:
        """Replace ``stage``'s drops for these videos; ``drops``: clip_id -> (video_id, reason)."""
        ids = list(video_ids)
        with self.registry._connect(write=True) as db:
            db.executemany("DELETE FROM clip_drops WHERE video_id=? AND stage=?", [(v, stage) for v in ids])
            db.executemany(
                "INSERT OR REPLACE INTO clip_drops (video_id, stage, clip_id, reason) VALUES (?,?,?,?)",
                [(video_id, stage, clip_id, reason) for clip_id, (video_id, reason) in drops.items()],
            )

    def record_landed(self, model: str, version: str, clips_by_video: Mapping[str, int]) -> None:
        """After ``model``'s index commit returned: these videos' rows are in its table.

        The content hash is the registry's (set by the probe of this run), so a file
        changed since makes the landing stale.
        """
        now = time.time()
        with self.registry._connect(write=True) as db:
            for video_id, clips in clips_by_video.items():
                row = db.execute("SELECT sha256 FROM videos WHERE video_id=?", (video_id,)).fetchone()
                db.execute(
                    "INSERT OR REPLACE INTO landed (video_id, model, sha256, version, clips, landed_at)"
                    " VALUES (?,?,?,?,?,?)",
                    (video_id, model, row["sha256"] if row else None, version, clips, now),
                )
                if row and row["sha256"]:  # indexed on the player's timeline: no edit-list check needed
                    db.execute(
                        "INSERT OR REPLACE INTO timeline_checked (video_id, sha256) VALUES (?,?)",
                        (video_id, row["sha256"]),
                    )

    def record_commit(
        self,
        model: str,
        required: Mapping[str, str],
        video_ids: Sequence[str],
        rows_by_video: Mapping[str, int],
        problems: Sequence[str],
    ) -> dict[str, str]:
        """After `model`'s index commit of a partition: ``problems`` from reading the rows back
        fail its videos; otherwise their landing is recorded and each video settled.
        Returns video_id -> status (empty when the check failed)."""
        if problems:
            for video_id in video_ids:
                self.registry.mark(video_id, "failed", error=f"{model} index check failed: {'; '.join(problems[:3])}")
            return {}
        self.record_landed(model, required[model], {v: rows_by_video.get(v, 0) for v in video_ids})
        return self.settle(video_ids, required)

    def settle(self, video_ids: Sequence[str], required: Mapping[str, str]) -> dict[str, str]:
        """Set each video's status from its landings; returns video_id -> new status.

        ``required``: model -> settings version every enabled model must have landed at.
        Done when all landed for the current content with >= 1 clip; failed (with the
        reason) when all landed but with no clip; otherwise left as it is.
        """
        statuses = {}
        for account in self.accounts(video_ids):
            if account.status == "missing" or not self._landed_all(account.video_id, required):
                statuses[account.video_id] = account.status
                continue
            if account.indexed_clips > 0:
                self.registry.mark(account.video_id, "done")
                statuses[account.video_id] = "done"
            else:
                self.registry.mark(account.video_id, "failed", error=no_clip_reason(account))
                statuses[account.video_id] = "failed"
        return statuses

    def reopen_unfinished(self, required: Mapping[str, str]) -> list[str]:
        """Done videos that lack a landing ``required`` now (a model enabled, a setting
        changed, the file changed) go back to pending; returns their ids."""
        with self.registry._connect() as db:
            done = [r["video_id"] for r in db.execute("SELECT video_id FROM videos WHERE status='done'")]
            # Clips dropped for a limit later lifted (a picture size change inside a clip): redo those videos.
            lifted = {r["video_id"] for r in db.execute(f"SELECT video_id FROM clip_drops WHERE {_LIFTED_DROPS}")}
        reopened = [v for v in done if v in lifted or not self._landed_all(v, required)]
        for video_id in reopened:
            self.registry.mark(video_id, "pending")
        return reopened

    def reopen_edit_listed(self, hides_leading_frames: Callable[[str], bool]) -> list[str]:
        """Done videos never checked for an edit list (indexed before its frames were left out) are checked
        once, by content; those whose stream hides leading frames go back to pending. Returns their ids."""
        with self.registry._connect() as db:
            unchecked = db.execute(
                "SELECT v.video_id, v.abs_path, v.sha256 FROM videos v LEFT JOIN timeline_checked t"
                " ON t.video_id = v.video_id AND t.sha256 = v.sha256"
                " WHERE v.status='done' AND v.sha256 IS NOT NULL AND t.video_id IS NULL"
            ).fetchall()
        reopened = []
        for row in unchecked:
            try:
                hidden = hides_leading_frames(row["abs_path"])
            except Exception:  # noqa: BLE001 - an unreadable file is the next run's to report; not rechecked
                hidden = False
            with self.registry._connect(write=True) as db:
                db.execute(
                    "INSERT OR REPLACE INTO timeline_checked (video_id, sha256) VALUES (?,?)",
                    (row["video_id"], row["sha256"]),
                )
            if hidden:
                self.registry.mark(row["video_id"], "pending")
                reopened.append(row["video_id"])
        return reopened

    def done_landings(self, model: str) -> dict[str, int]:
        """video_id -> clip rows of `model`'s landing, for every done video (what the table must hold)."""
        with self.registry._connect() as db:
            rows = db.execute(
                "SELECT l.video_id, l.clips FROM landed l JOIN videos v ON v.video_id = l.video_id"
                " WHERE l.model=? AND v.status='done' AND l.sha256 = v.sha256",
                (model,),
            ).fetchall()
        return {r["video_id"]: int(r["clips"]) for r in rows}

    def _landed_all(self, video_id: str, required: Mapping[str, str]) -> bool:
        with self.registry._connect() as db:
            rows = db.execute(
                "SELECT l.model, l.version FROM landed l JOIN videos v ON v.video_id = l.video_id"
                " WHERE l.video_id=? AND l.sha256 IS NOT NULL AND l.sha256 = v.sha256",
                (video_id,),
            ).fetchall()
        landed = {r["model"]: r["version"] for r in rows}
        return bool(required) and all(landed.get(model) == version for model, version in required.items())

    def accounts(self, video_ids: Sequence[str]) -> list[VideoAccount]:
        """The ledger of these videos (unknown ids are skipped), in the given order."""
        out = []
        with self.registry._connect() as db:
            for video_id in video_ids:
                video = db.execute("SELECT * FROM videos WHERE video_id=?", (video_id,)).fetchone()
                if video is None:
                    continue
                plan = db.execute("SELECT clips, reason FROM clip_plan WHERE video_id=?", (video_id,)).fetchone()
                landed = db.execute(
                    "SELECT model, clips FROM landed WHERE video_id=? AND sha256 IS ?", (video_id, video["sha256"])
                ).fetchall()
                drops = db.execute(
                    "SELECT stage, clip_id, reason FROM clip_drops WHERE video_id=? ORDER BY stage, clip_id",
                    (video_id,),
                ).fetchall()
                out.append(
                    VideoAccount(
                        video_id=video_id,
                        rel_path=video["rel_path"],
                        abs_path=video["abs_path"],
                        status=video["status"],
                        error=video["error"],
                        planned=plan["clips"] if plan else None,
                        plan_reason=plan["reason"] if plan else None,
                        indexed={r["model"]: r["clips"] for r in landed},
                        drops={r["clip_id"]: f"{r['stage']}: {r['reason']}" for r in drops},
                    )
                )
        return out

    def forget(self, video_ids: Iterable[str]) -> None:
        """Drop every ledger row of these videos (they left the index)."""
        ids = [(v,) for v in video_ids]
        with self.registry._connect(write=True) as db:
            for table in ("clip_plan", "clip_drops", "landed"):
                db.executemany(f"DELETE FROM {table} WHERE video_id=?", ids)


def no_clip_reason(account: VideoAccount) -> str:
    """Why a video has no clip in the index, from the step that lost them."""
    if account.planned == 0:
        return f"no clip planned: {account.plan_reason or 'the clipping produced no span'}"
    if account.drops:
        reasons = sorted(set(account.drops.values()))
        shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
        return f"no clip indexed: all {account.planned or len(account.drops)} clips dropped ({shown})"
    return "no clip indexed"
