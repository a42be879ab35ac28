"""Remove videos from the index (the CLI's `remove`): plan first, refuse what looks like a mistake.

`remove` without ids drops every registered video whose file is gone from the input
folder. Pointed at the wrong folder (an empty one, a typo, an unmounted disk) that is
every video, so the plan refuses, unless `--force`, when:
- the input folder is missing or holds no video file;
- a video counted as gone still has its file at its registered path (the folder is not
  the one it was registered from, or the file is unreadable);
- more than `MAX_REMOVE_SHARE` of the registered videos would go.
The plan reads the registry, the folder and the index and changes nothing (`--dry-run`
prints it); only an accepted plan runs the `remove_videos` job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from video_assets.config import Settings
from video_assets.index.commit import videos_filter
from video_assets.index.connection import clip_table_exists, connect, local_db_dir, open_clip_table
from video_assets.input_walk import walk_inputs
from video_assets.shown_names import escape_name
from video_assets.video_registry import VideoRecord, VideoRegistry

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
    input_dir = Path(settings.input_dir)
    refusals: list[str] = []
    input_missing = False
    if video_ids:
        unknown = [v for v in dict.fromkeys(video_ids) if v not in everyone]
        if unknown:
            counts = _registry_counts(len(live), len(everyone) - len(live))
            raise RemovalRefused(_unknown_ids(settings, models, unknown, registry_path, counts))
        chosen = [(everyone[v], "named") for v in dict.fromkeys(video_ids)]
        present = [v for v, _ in chosen if Path(v.abs_path).exists()]
        if present:
            if len(chosen) == 1:
                which = "this video still has its file, so the next scan would add it back"
            elif len(present) == 1:
                which = f"1 of these {len(chosen)} videos still has its file, so the next scan would add it back"
            else:
                which = (
                    f"{len(present)} of these {len(chosen)} videos still have their file, "
                    "so the next scan would add them back"
                )
            refusals.append(
                f"{which} (delete or move {'it' if len(present) == 1 else 'them'} first, or --force): "
                f"{', '.join(v.abs_path for v in present[:5])}"
            )
    else:
        try:
            walk = walk_inputs(
                input_dir,
                settings.video_extensions,
                exclude=[settings.data_dir],
                follow_outside_links=settings.follow_outside_links,
            )
        except FileNotFoundError:
            input_missing = True
            refusals.append(
                f"the input folder {input_dir} does not exist: every one of the {len(live)} registered video(s) "
                "would count as gone; give the folder they were registered from (--input), or --force"
            )
            found: set[str] = set()
        else:
            found = {f.rel_path for f in walk.files}
            if not found and live:
                refusals.append(
                    f"the input folder {input_dir} holds no video file: every one of the {len(live)} registered "
                    "video(s) would count as gone; give the folder they were registered from (--input), or --force"
                )
        # The folder decides, not an earlier scan: a file that came back is not gone.
        gone = [v for v in live if v.rel_path not in found]
        elsewhere = [v for v in gone if Path(v.abs_path).exists()]
        still_there = {v.video_id for v in elsewhere}
        reasons = {True: "not in the input folder, file still exists", False: "file gone"}
        chosen = [(v, reasons[v.video_id in still_there]) for v in gone]
        if elsewhere and not refusals:
            refusals.append(
                f"{len(elsewhere)} video(s) are not in {input_dir} but their files still exist "
                f"({', '.join(v.abs_path for v in elsewhere[:3])}): {input_dir} is not the folder they were "
                "registered from, or they are unreadable there; nothing of them is removed without --force"
            )
    refusal = share_refusal(len(chosen), len(live), max_share, registry_path)
    if refusal and not refusals:
        refusals.append(refusal)
    rows = _clip_rows(settings, models, [v.video_id for v, _ in chosen])
    targets = [RemovalTarget(v, reason, {t: n.get(v.video_id, 0) for t, n in rows.items()}) for v, reason in chosen]
    return RemovalPlan(registry_path, input_dir, len(live), targets, [] if force else refusals, input_missing)


def _unknown_ids(
    settings: Settings, models: Sequence[str], unknown: list[str], registry_path: Path, counts: str
) -> str:
    """The refusal for ids the registry does not know; rows of them in a table (a rebuilt registry)
    are named, with `verify --drop-orphans`, which deletes them."""
    orphans = {t: sum(n.values()) for t, n in _clip_rows(settings, models, unknown).items() if n}
    held = ", ".join(f"{t} holds {n} row(s) of them" for t, n in orphans.items())
    advice = (
        f"{held}: `video-assets verify --drop-orphans` deletes rows of unknown videos"
        if orphans
        else "`video-assets remove --dry-run` lists those whose files are gone"
    )
    return f"unknown video id(s) {', '.join(unknown)}: not in the video registry {registry_path} ({counts}; {advice})"


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


def remove_videos(
    settings: Settings,
    video_ids: list[str],
    *,
    force: bool = False,
    max_share: float = MAX_REMOVE_SHARE,
    dry_run: bool = False,
    progress: Callable[[str], None] = print,
) -> tuple[bool, RemovalPlan]:
    """Plan the removal, and unless refused or `dry_run`, run the `remove_videos` job (the one the UI shows).

    Raises `RemovalRefused` when the plan is refused; returns whether the job succeeded (True when
    there was nothing to do or it was a dry run) and the plan.
    """
    import dagster as dg

    from video_assets.definitions import build_definitions
    from video_assets.discovery import scan
    from video_assets.resolved import resolve
    from video_assets.runner import _error_text, dagster_home

    resolved = resolve(settings)
    models = resolved.model_names
    plan = plan_removal(settings, video_ids, models, force=force, max_share=max_share)
    if dry_run:
        progress("dry run, nothing changes; remove would take out:")
        for line in plan.lines():
            progress(line)
        if plan.refusals:
            raise RemovalRefused("a real run would refuse: " + " | ".join(plan.refusals))
        return True, plan
    if plan.refusals:
        raise RemovalRefused(" | ".join(plan.refusals))
    if not plan.targets:
        progress(f"nothing to remove: every video registered in {plan.registry_path} is still in {plan.input_dir}")
        return True, plan
    progress(f"removing {len(plan.targets)} video(s):")
    for line in plan.lines():
        progress(line)
    dagster_home()
    if not video_ids and not plan.input_missing:
        # Register what is new and mark what is gone, as `run` would; the job gets the plan's ids.
        scan(settings, VideoRegistry(plan.registry_path), seal_partial=True)
    with dg.DagsterInstance.get() as instance:
        job = build_definitions(resolved).resolve_job_def("remove_videos")
        config = {"video_ids": plan.video_ids, "force": force, "max_share": max_share}
        run = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={
                "ops": {"remove_videos_op": {"config": config}},
                # Failures are printed below, one line each; the console logger would add a stack trace.
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
        )
    for event in run.all_events:
        if event.is_step_failure:
            progress(f"remove_videos failed: {_error_text(event.step_failure_data.error)}")
    return run.success, plan
