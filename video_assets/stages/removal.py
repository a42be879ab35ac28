"""Removal without Dagster: which videos may go (plan first, refuse what looks like a mistake), and taking them out.

`remove` without ids drops every registered video whose file is gone from the input
folder. Pointed at the wrong folder (an empty one, a typo, an unmounted disk) that is
every video, so the plan refuses, unless `--force`, when:
- the input folder is missing or holds no video file;
- a video counted as gone still has its file at its registered path (the folder is not
  the one it was registered from, or the file is unreadable);
- more than `MAX_REMOVE_SHARE` of the registered videos would go.
The plan reads the registry, the folder and the index and changes nothing (`--dry-run`
prints it); only an accepted plan runs the `remove_videos` job.

The `remove_videos` job (orchestration/assets/removal.py) and `video-assets remove`
(app/removal.py) decide through this module, with the same checks and words. For each
removed video: its rows leave every model's table (one commit per table), its clip files
are deleted, and it is marked missing in the registry. A partition left with no video
loses its stored intermediates (the job then deletes its Dagster partition); a batch
that keeps other videos keeps its files (its next run drops the removed video from them).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lancedb
import pyarrow.compute as pc

from video_assets.catalog.input_walk import walk_inputs
from video_assets.catalog.registry import VideoRecord, VideoRegistry
from video_assets.catalog.shown_names import escape_name
from video_assets.index.commit import videos_filter
from video_assets.index.committer import delete_videos_locked
from video_assets.index.connection import clip_table_exists, connect, local_db_dir, open_clip_table
from video_assets.settings.config import Settings
from video_assets.settings.data_paths import DataPaths

MAX_REMOVE_SHARE = 0.5  # removing more than this share of the registered videos at once needs --force
REMOVED = "removed by remove_videos"  # the registry error of a video the job removed


class RemovalRefused(ValueError):
    """The removal would be a mistake (or cannot be done); the message says why and what to do."""


@dataclass(frozen=True)
class RemovalTarget:
    video: VideoRecord
    reason: str  # why it goes: "file gone", "named", ...
    clip_rows: dict[str, int]  # table -> rows of this video


@dataclass(frozen=True)
class RemovalPlan:
    registry_path: Path
    input_dir: Path
    registered: int  # registered videos not removed yet: the base of the share
    targets: list[RemovalTarget]
    refusals: list[str] = field(default_factory=list)  # empty: the plan may run
    input_missing: bool = False

    @property
    def video_ids(self) -> list[str]:
        return [t.video.video_id for t in self.targets]

    def to_dict(self) -> dict:
        """The plan for `remove --json`: each video with its path, why it goes and its rows per table."""
        return {
            "registry": str(self.registry_path),
            "input_dir": str(self.input_dir),
            "registered": self.registered,
            "videos": [
                {"video_id": t.video.video_id, "path": t.video.abs_path, "reason": t.reason, "clip_rows": t.clip_rows}
                for t in self.targets
            ],
            "refusals": self.refusals,
        }

    def lines(self) -> list[str]:
        """What would be removed, one line per video, then the totals."""
        out = []
        for t in self.targets:
            rows = ", ".join(f"{table} {n}" for table, n in t.clip_rows.items()) or "no index table"
            out.append(escape_name(f"  {t.video.video_id}  {t.video.abs_path}  ({t.reason}; clip rows: {rows})"))
        totals: dict[str, int] = {}
        for t in self.targets:
            for table, n in t.clip_rows.items():
                totals[table] = totals.get(table, 0) + n
        rows = ", ".join(f"{table} {n}" for table, n in totals.items()) or "none"
        out.append(f"{len(self.targets)} of {self.registered} registered video(s); clip rows: {rows}")
        return out


def _registry_counts(registered: int, removed: int) -> str:
    """``22 registered videos, 1 already removed``: what the registry holds, counted as the dry run counts."""
    text = f"{registered} registered video{'' if registered == 1 else 's'}"
    return text + (f", {removed} already removed" if removed else "")


def is_removed(video: VideoRecord) -> bool:
    """Whether the job already took this video out (it stays in the registry, marked missing)."""
    return video.status == "missing" and video.error == REMOVED


def share_refusal(count: int, registered: int, max_share: float, registry_path: Path) -> str | None:
    """The refusal when `count` of `registered` videos is more than `max_share` of them; else None."""
    if count == 0 or count <= max_share * registered:
        return None
    return (
        f"this would remove {count} of the {registered} videos registered in {registry_path} "
        f"({100 * count / registered:.0f}%, more than the {100 * max_share:.0f}% allowed at once); "
        "check the input folder and the ids, then add --force if it is what you want"
    )


def unknown_ids_refusal(
    unknown: Sequence[str],
    registry: VideoRegistry | Path,
    videos: Sequence[VideoRecord],
    orphans: dict[str, int] | None = None,
) -> str:
    """Why ids the registry does not hold cannot be removed (the words of `remove` and the job alike);
    `orphans` (table -> rows of those ids, as after a rebuilt registry) points to `verify --drop-orphans`."""
    path = registry.path if isinstance(registry, VideoRegistry) else registry
    live = sum(not is_removed(v) for v in videos)
    held = ", ".join(f"{t} holds {n} row(s) of them" for t, n in (orphans or {}).items() if n)
    advice = (
        f"{held}: `video-assets verify --drop-orphans` deletes rows of unknown videos"
        if held
        else "`video-assets remove --dry-run` lists those whose files are gone"
    )
    return (
        f"unknown video id(s) {', '.join(unknown)}: not in the video registry {path} "
        f"({_registry_counts(live, len(videos) - live)}; {advice})"
    )


def present_files_refusal(chosen: Sequence[VideoRecord]) -> str | None:
    """The refusal when named videos still have their files (the next scan would add them back); else None."""
    present = [v for v in chosen if Path(v.abs_path).exists()]
    if not present:
        return None
    if len(chosen) == 1:
        which = "this video still has its file, so the next scan would add it back"
    elif len(present) == 1:
        which = f"1 of these {len(chosen)} videos still has its file, so the next scan would add it back"
    else:
        which = (
            f"{len(present)} of these {len(chosen)} videos still have their file, so the next scan would add them back"
        )
    return (
        f"{which} (delete or move {'it' if len(present) == 1 else 'them'} first, or --force): "
        f"{', '.join(v.abs_path for v in present[:5])}"
    )


def plan_removal(
    settings: Settings,
    video_ids: Sequence[str],
    models: Sequence[str],
    *,
    force: bool = False,
    max_share: float = MAX_REMOVE_SHARE,
) -> RemovalPlan:
    """What `remove` would do for these ids (none: every video whose file is gone). Changes nothing.

    Raises `RemovalRefused` when there is nothing to plan from (no registry, unknown ids);
    other objections go to `refusals`, which `force` empties.
    """
    if not 0 < max_share <= 1:
        raise RemovalRefused(f"--max-share must be in (0, 1], got {max_share}")
    registry_path = settings.paths.registry
    if not registry_path.is_file():
        raise RemovalRefused(
            f"no video registry at {registry_path}: {settings.data_dir} is not a data directory "
            "that `video-assets run` wrote (give it with --output)"
        )
    everyone = {v.video_id: v for v in VideoRegistry(registry_path).all()}
    live = [v for v in everyone.values() if not is_removed(v)]
    if video_ids:
        unknown = [v for v in dict.fromkeys(video_ids) if v not in everyone]
        if unknown:
            orphans = {t: sum(n.values()) for t, n in _clip_rows(settings, models, unknown).items()}
            raise RemovalRefused(unknown_ids_refusal(unknown, registry_path, list(everyone.values()), orphans))
        named = [everyone[v] for v in dict.fromkeys(video_ids)]
        chosen = [(v, "named") for v in named]
        refusals = [r for r in [present_files_refusal(named)] if r]
        input_missing = False
    else:
        chosen, refusals, input_missing = _gone_videos(settings, live)
    refusal = share_refusal(len(chosen), len(live), max_share, registry_path)
    if refusal and not refusals:
        refusals.append(refusal)
    rows = _clip_rows(settings, models, [v.video_id for v, _ in chosen])
    targets = [RemovalTarget(v, reason, {t: n.get(v.video_id, 0) for t, n in rows.items()}) for v, reason in chosen]
    return RemovalPlan(
        registry_path, Path(settings.input_dir), len(live), targets, [] if force else refusals, input_missing
    )


def _gone_videos(
    settings: Settings, live: Sequence[VideoRecord]
) -> tuple[list[tuple[VideoRecord, str]], list[str], bool]:
    """The registered videos the input folder no longer holds, each with why it goes; the refusals of
    a folder that looks wrong; whether the folder is missing. The folder decides, not an earlier scan:
    a file that came back is not gone."""
    input_dir = Path(settings.input_dir)
    refusals: list[str] = []
    try:
        walk = walk_inputs(
            input_dir,
            settings.video_extensions,
            exclude=[settings.data_dir],
            follow_outside_links=settings.follow_outside_links,
        )
    except FileNotFoundError:
        refusals.append(
            f"the input folder {input_dir} does not exist: every one of the {len(live)} registered video(s) "
            "would count as gone; give the folder they were registered from (--input), or --force"
        )
        found: set[str] = set()
        missing = True
    else:
        found = {f.rel_path for f in walk.files}
        missing = False
        if not found and live:
            refusals.append(
                f"the input folder {input_dir} holds no video file: every one of the {len(live)} registered "
                "video(s) would count as gone; give the folder they were registered from (--input), or --force"
            )
    gone = [v for v in live if v.rel_path not in found]
    elsewhere = [v for v in gone if Path(v.abs_path).exists()]
    still_there = {v.video_id for v in elsewhere}
    reasons = {True: "not in the input folder, file still exists", False: "file gone"}
    if elsewhere and not refusals:
        refusals.append(
            f"{len(elsewhere)} video(s) are not in {input_dir} but their files still exist "
            f"({', '.join(v.abs_path for v in elsewhere[:3])}): {input_dir} is not the folder they were "
            "registered from, or they are unreadable there; nothing of them is removed without --force"
        )
    return [(v, reasons[v.video_id in still_there]) for v in gone], refusals, missing


def _clip_rows(settings: Settings, models: Sequence[str], video_ids: list[str]) -> dict[str, dict[str, int]]:
    """table -> video id -> rows, for the models whose table exists (read only)."""
    uri = settings.paths.lancedb_uri
    local = local_db_dir(uri)
    if not video_ids or (local is not None and not local.is_dir()):
        return {}
    db = connect(uri)
    counts: dict[str, dict[str, int]] = {}
    for model in models:
        if not clip_table_exists(db, model):
            continue
        table = open_clip_table(db, model)
        ids = table.search().where(videos_filter(video_ids)).select(["video_id"]).to_arrow().column("video_id")
        counts[table.name] = {row["values"]: row["counts"] for row in pc.value_counts(ids).to_pylist()}
    return counts


def videos_to_remove(
    registry: VideoRegistry, video_ids: Sequence[str], *, force: bool, max_share: float
) -> list[VideoRecord]:
    """The named videos, or (none named) every video a scan found missing. Refuses unknown ids;
    unless `force`, also videos whose files still exist (the next scan would add them back) and
    more than `max_share` of the registered videos at once (a wrong input folder)."""
    everyone = registry.all()
    live = [v for v in everyone if not is_removed(v)]
    if not video_ids:
        chosen = [v for v in live if v.status == "missing"]
    else:
        known = {v.video_id: v for v in everyone}
        unknown = [v for v in video_ids if v not in known]
        if unknown:
            raise RemovalRefused(unknown_ids_refusal(unknown, registry, everyone))
        chosen = [known[v] for v in dict.fromkeys(video_ids)]
        present = present_files_refusal(chosen)
        if present and not force:
            raise RemovalRefused(present)
    refusal = share_refusal(len(chosen), len(live), max_share, registry.path)
    if refusal and not force:
        raise RemovalRefused(refusal)
    return chosen


@dataclass
class RemovalDone:
    video_ids: list[str]
    deleted_rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    emptied_partitions: list[str] = field(default_factory=list)  # partitions with no video left
    deleted_files: list[str] = field(default_factory=list)


def remove_from_index_and_disk(
    db: lancedb.DBConnection,
    models: Sequence[str],
    registry: VideoRegistry,
    paths: DataPaths,
    videos: Sequence[VideoRecord],
    log: Callable[[str], None] = lambda _msg: None,
) -> RemovalDone:
    """Index rows, clip files, registry marks, and the stored files of emptied partitions."""
    done = RemovalDone([v.video_id for v in videos])
    for model in models:
        if not clip_table_exists(db, model):  # nothing indexed for this model yet
            log(f"{model}: no clip table yet, nothing to delete")
            continue
        result, _ = delete_videos_locked(db, model, done.video_ids)
        done.deleted_rows[result.table] = result.deleted
        log(f"{result.table}: deleted {result.deleted} rows (version {result.table_version})")
    for video in videos:
        clip_files = paths.clips_dir / video.video_id
        if clip_files.exists():
            shutil.rmtree(clip_files)
        registry.mark(video.video_id, "missing", error=REMOVED)
    live = set(registry.partition_keys())
    done.emptied_partitions = sorted(
        {v.partition_key for v in videos if v.partition_key and v.partition_key not in live}
    )
    for key in done.emptied_partitions:
        if paths.assets_dir.exists():
            for path in paths.assets_dir.rglob(f"{key}.parquet"):
                path.unlink()
                done.deleted_files.append(str(path))
        thumbs = paths.thumbs_dir / key
        if thumbs.is_dir():
            done.deleted_files += [str(p) for p in thumbs.iterdir()]
            shutil.rmtree(thumbs)
    return done
