"""Remove videos from the index through the `remove_videos` job (the CLI's `remove`)."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from video_assets.config import Settings
from video_assets.discovery import scan
from video_assets.registry import VideoRegistry
from video_assets.runner import _error_text, dagster_home


def remove_videos(settings: Settings, video_ids: list[str], *, progress: Callable[[str], None] = print) -> bool:
    """Run the `remove_videos` job (the same one the UI shows) for these ids, or all missing ones."""
    from video_assets.definitions import build_definitions

    dagster_home()
    # Scan first, so files deleted since the last run count as missing.
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    scan(settings, registry, seal_partial=True)
    targets = video_ids or [v.video_id for v in registry.all() if v.status == "missing"]
    progress(f"removing {len(targets)} video(s): {', '.join(targets) or 'none missing'}")
    with dg.DagsterInstance.get() as instance:
        job = build_definitions(settings).resolve_job_def("remove_videos")
        run = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={
                "ops": {"remove_videos_op": {"config": {"video_ids": video_ids}}},
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
        )
    for event in run.all_events:
        if event.is_step_failure:
            progress(f"remove_videos failed: {_error_text(event.step_failure_data.error)}")
    return run.success
