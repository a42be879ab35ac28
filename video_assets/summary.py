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
    for outcome in parts:
        for asset, meta in outcome.metadata.items():
            if asset.endswith("_clip_index"):
                print(f"  {asset} [{outcome.key}]: table {meta.get('table')} v{meta.get('table_version')}, "
                      f"{meta.get('rows_for_videos')} rows")
    for outcome in summary.failed:
        print(f"FAILED {outcome.key}: " + ("; ".join(outcome.errors) or "see the run in the Dagster UI"))
    print(f"Dagster home: {summary.dagster_home}")
    print(f"Open the UI:  DAGSTER_HOME={summary.dagster_home} VIDEO_ASSETS_SETTINGS={summary.settings_path} "
          "dagster dev -m video_assets.definitions")
