"""Does each model's table hold what the ledger says landed? The check behind `run` and `verify`.

The ledger records a landing after the commit returned; a table can lose rows afterwards
(its newest manifest lost in a partial restore or a bad sync rolls it back a commit). A done
video with fewer (or other) rows than its landing is not done: `run` reopens it and redoes its
partition. Rows whose video the registry does not know (the registry rebuilt after a video
was deleted) are orphans: `verify` lists them and `verify --drop-orphans` deletes them.
Reading the tables' `video_id` column is the whole cost: one column, no vectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import lancedb

from video_assets.catalog.ledger import VideoLedger
from video_assets.catalog.shown_names import escape_name
from video_assets.index.commit import delete_videos
from video_assets.index.connection import clip_table_exists, open_clip_table


@dataclass(frozen=True)
class ShortVideo:
    """A done video whose rows in a model's table are not what landed."""

    video_id: str
    rel_path: str
    model: str
    rows: int  # in the table now
    landed: int  # the ledger's landing

    def line(self) -> str:
        return escape_name(
            f"index: {self.rel_path} ({self.video_id}) has {self.rows} row(s) in clips_{self.model}, the ledger "
            f"recorded {self.landed} (the table lost a commit?): it will be redone"
        )


@dataclass
class IndexAudit:
    short: list[ShortVideo] = field(default_factory=list)
    orphans: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> video id -> rows
    rows: dict[str, int] = field(default_factory=dict)  # model -> rows in its table

    @property
    def ok(self) -> bool:
        return not self.short and not any(self.orphans.values())


def rows_per_video(db: lancedb.DBConnection, model: str) -> Counter[str]:
    """video_id -> rows of `model`'s table (empty when there is no table)."""
    if not clip_table_exists(db, model):
        return Counter()
    ids = open_clip_table(db, model).search().select(["video_id"]).limit(None).to_arrow().column("video_id")
    return Counter(ids.to_pylist())


def audit_index(db: lancedb.DBConnection, ledger: VideoLedger, models: Sequence[str]) -> IndexAudit:
    """Each model's rows per video against the ledger's landings of the done videos, and the orphans."""
    known = {v.video_id: v for v in ledger.registry.all()}
    audit = IndexAudit()
    for model in models:
        counts = rows_per_video(db, model)
        audit.rows[model] = sum(counts.values())
        for video_id, landed in sorted(ledger.done_landings(model).items()):
            if counts.get(video_id, 0) != landed:
                path = known[video_id].rel_path
                audit.short.append(ShortVideo(video_id, path, model, counts.get(video_id, 0), landed))
        audit.orphans[model] = {v: n for v, n in sorted(counts.items()) if v not in known}
    return audit


def reopen_short_videos(db: lancedb.DBConnection, ledger: VideoLedger, models: Sequence[str]) -> list[ShortVideo]:
    """`run`'s check: done videos whose rows are not in every table as landed go back to pending."""
    short = audit_index(db, ledger, models).short
    for video_id in dict.fromkeys(s.video_id for s in short):
        ledger.registry.mark(video_id, "pending")
    return short


def drop_orphans(db: lancedb.DBConnection, audit: IndexAudit) -> dict[str, int]:
    """Delete the orphan rows `audit` found; model -> rows deleted."""
    return {model: delete_videos(db, model, sorted(ids)).deleted for model, ids in audit.orphans.items() if ids}
