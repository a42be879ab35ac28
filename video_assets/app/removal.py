"""`video-assets remove`: plan the removal (stages/removal.py), then run the `remove_videos` job the UI shows."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from video_assets.app.instance_home import dagster_home
from video_assets.catalog.discovery import scan
from video_assets.catalog.registry import VideoRegistry
from video_assets.orchestration.definitions import build_definitions
from video_assets.orchestration.errors import step_error_text
from video_assets.settings.config import Settings
from video_assets.stages.removal import MAX_REMOVE_SHARE, RemovalPlan, RemovalRefused, plan_removal
from video_assets.stages.resolved import resolve


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
            progress(f"remove_videos failed: {step_error_text(event.step_failure_data.error)}")
    return run.success, plan
