"""The end-of-run summary the CLI prints."""

from __future__ import annotations

from video_assets.runner import RunSummary


def print_summary(summary: RunSummary) -> None:
    parts = summary.partitions
    print()
    print(f"partitions run: {len(parts)}, failed: {len(summary.failed)}")
    print(f"videos: {summary.total('source_videos', 'videos')} "
          f"(failed inside batches: {summary.total('source_videos', 'failed_videos')})")
    print(f"clips: {summary.total('clips', 'clips')}, frames: {summary.total('frames', 'frames')}")
    tables: dict[str, tuple[int, int]] = {}  # table -> (latest version, rows committed in this run)
    for outcome in parts:
        for asset, meta in outcome.metadata.items():
            if asset.endswith("_clip_index"):
                version, rows = tables.get(meta["table"], (0, 0))
                tables[meta["table"]] = (max(version, meta["table_version"]), rows + meta["rows_for_videos"])
    for table, (version, rows) in sorted(tables.items()):
        print(f"index table {table}: {rows} clip rows committed, now at version {version}")
    for outcome in summary.failed:
        print(f"FAILED {outcome.key}: " + ("; ".join(outcome.errors) or "see the run in the Dagster UI"))
    print(f"Dagster home: {summary.dagster_home}")
    print(f"Open the UI:  DAGSTER_HOME={summary.dagster_home} VIDEO_ASSETS_SETTINGS={summary.settings_path} "
          "dagster dev -m video_assets.definitions")
