"""The end-of-run summary the CLI prints."""

from __future__ import annotations

import sys
from typing import TextIO

from video_assets.app.outcome import RunSummary
from video_assets.app.report import reason_of
from video_assets.app.summary_hints import painted, use_colour
from video_assets.catalog.shown_names import escape_name
from video_assets.stages.engines.report import videos_per_node, workers_by_video


def summary_lines(summary: RunSummary) -> list[str]:
    videos = summary.videos
    done = [v for v in videos if v.status == "done"]
    planned = sum(v.planned or 0 for v in videos)
    indexed = sum(v.indexed_clips for v in done)
    dropped = sum(len(v.drops) for v in videos)
    lines = [
        "",
        f"partitions run: {len(summary.partitions)}, failed: {len(summary.failed)}",
        f"videos run: {len(videos)}, done: {len(done)}, failed: {sum(v.status == 'failed' for v in videos)}",
        f"clips indexed: {indexed} of {planned} planned ({dropped} dropped), frames: {summary.total('frames', 'frames')}",
        "registered videos: " + ", ".join(f"{status}: {n}" for status, n in summary.registered.items()),
    ]
    tables: dict[str, tuple[int, int]] = {}  # table -> (latest version, rows committed in this run)
    for outcome in summary.partitions:
        for asset, meta in outcome.metadata.items():
            if asset.endswith("_clip_index"):
                version, rows = tables.get(meta["table"], (0, 0))
                tables[meta["table"]] = (max(version, meta["table_version"]), rows + meta["rows_for_videos"])
    per_node = node_counts(summary)
    if per_node:
        lines.append("videos per node: " + ", ".join(f"{n}: {c}" for n, c in per_node.items()))
    for table, (version, rows) in sorted(tables.items()):
        lines.append(f"index table {table}: {rows} clip rows committed, now at version {version}")
    for video in summary.failed_videos:
        lines.append(f"FAILED {video.abs_path}: {reason_of(video) if video.error else 'no reason recorded'}")
    for video in summary.pending_videos:
        lines.append(f"NOT DONE {video.abs_path}: not yet in every enabled model's index (run again)")
    for skipped in summary.skipped_inputs:
        lines.append(f"SKIPPED {skipped.path}: {skipped.reason}")
    if summary.other_extensions:
        counts = ", ".join(f"{ext}: {n}" for ext, n in sorted(summary.other_extensions.items()))
        lines.append(f"ignored files with other extensions ({counts})")
    for video in summary.settled:
        lines.append(
            f"SETTLED {video.abs_path}: {reason_of(video) if video.error else 'no reason recorded'} "
            "(not retried until the file changes; `video-assets quarantine --undo` retries it)"
        )
    for video in summary.missing:
        lines.append(f"MISSING {video.abs_path}: gone from the input folder (`video-assets remove` drops it)")
    if summary.no_videos:
        lines.append(f"no video files found in {summary.input_dir}")
    elif summary.complete:
        lines.append("every video is in the index")
    else:
        lines.append(
            f"{len(summary.failed_videos)} video(s) failed, {len(summary.pending_videos)} not done: "
            "a plain `video-assets run` retries them"
        )
    lines = [escape_name(line) for line in lines]  # a name with a newline must not forge a status line
    lines.append(f"Dagster home: {summary.dagster_home}")
    # This interpreter's dagster: a bare `dagster` is not on PATH unless the venv is activated.
    lines.append(
        f"Open the UI:  video-assets ui --output {summary.settings_path.parent}   (or DAGSTER_HOME={summary.dagster_home} "
        f"VIDEO_ASSETS_SETTINGS={summary.settings_path} {sys.executable} -m dagster dev -m video_assets.definitions)"
    )
    return lines


def node_counts(summary: RunSummary) -> dict[str, int]:
    """node -> videos: where they were embedded (the engine's workers, Ray nodes included), else where
    their partition's run ran."""
    return videos_per_node(workers_by_video(p.metadata for p in summary.partitions)) or dict(
        sorted(summary.videos_per_node.items())
    )


def summary_dict(summary: RunSummary) -> dict:
    """The run's outcome for `run --json`: the videos this run processed and every failed or not-done one
    (status and reason), skipped inputs, missing files, and the whole registry's counts per status."""
    videos = {v.video_id: v for v in summary.videos}
    places = summary.workers  # video -> the process that ran its partition
    for record in summary.failed_videos + summary.pending_videos:  # failed or not done before this run, too
        videos.setdefault(record.video_id, record)
    workers = workers_by_video(p.metadata for p in summary.partitions)
    return {
        "complete": summary.complete,
        "partitions": {"run": len(summary.partitions), "failed": len(summary.failed)},
        "videos": [
            {
                "video_id": v.video_id,
                "path": v.abs_path,
                "status": v.status,
                "reason": reason_of(v) if v.status != "done" else None,
                "clips_planned": getattr(v, "planned", None),
                "clips_indexed": getattr(v, "indexed", None) or {},
                "dropped": getattr(v, "drops", None) or {},
                "worker": places.get(v.video_id),  # the process that ran it this time; None if not run now
                "workers": workers.get(v.video_id, {}),  # model -> {node, gpu_ids, pid} that embedded it
            }
            for v in videos.values()
        ],
        "skipped_inputs": [{"path": s.path, "reason": s.reason} for s in summary.skipped_inputs],
        "other_extensions": dict(sorted(summary.other_extensions.items())),  # ".txt" -> files ignored
        "missing": [v.abs_path for v in summary.missing],
        "settled": [{"video_id": v.video_id, "path": v.abs_path, "reason": reason_of(v)} for v in summary.settled],
        "registered": summary.registered,
        "videos_per_node": node_counts(summary),
        "no_videos": summary.no_videos,
        "dagster_home": str(summary.dagster_home),
        "settings": str(summary.settings_path),
    }


def print_summary(summary: RunSummary, *, extra: list[str] | None = None, stream: TextIO | None = None) -> None:
    """The summary lines, then `extra` (app.summary_hints: skipped models, next steps); FAILED lines in
    colour on a terminal."""
    stream = stream or sys.stdout
    colour = use_colour(stream)
    for line in [*summary_lines(summary), *(extra or [])]:
        print(painted(line, colour=colour), file=stream)
