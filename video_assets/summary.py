"""The end-of-run summary the CLI prints."""

from __future__ import annotations

import sys

from video_assets.engines.report import videos_per_node, workers_by_video
from video_assets.run_ledger import reason_of
from video_assets.runner import RunSummary


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
    lines.append(f"Dagster home: {summary.dagster_home}")
    # This interpreter's dagster: a bare `dagster` is not on PATH unless the venv is activated.
    lines.append(
        f"Open the UI:  video-assets ui --output {summary.settings_path.parent}   (or DAGSTER_HOME={summary.dagster_home} "
        f"VIDEO_ASSETS_SETTINGS={summary.settings_path} {sys.executable} -m dagster dev -m video_assets.definitions)"
    )
    return lines


def summary_dict(summary: RunSummary) -> dict:
    """The run's outcome for `run --json`: the videos this run processed and every failed or not-done one
    (status and reason), skipped inputs, missing files, and the whole registry's counts per status."""
    videos = {v.video_id: v for v in summary.videos}
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
                "workers": workers.get(v.video_id, {}),  # model -> {node, gpu_ids, pid} that embedded it
            }
            for v in videos.values()
        ],
        "skipped_inputs": [{"path": s.path, "reason": s.reason} for s in summary.skipped_inputs],
        "missing": [v.abs_path for v in summary.missing],
        "registered": summary.registered,
        "videos_per_node": videos_per_node(workers),
        "no_videos": summary.no_videos,
        "dagster_home": str(summary.dagster_home),
        "settings": str(summary.settings_path),
    }


def print_summary(summary: RunSummary) -> None:
    for line in summary_lines(summary):
        print(line)
