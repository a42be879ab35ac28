"""The daemon's run queue sized for the machine: no more runs at once than the workers it can feed.

dagster.yaml names this coordinator. Without `max_concurrent_runs` in its config, the limit is
`stages.workers.machine_slots` for the settings the code location loads (VIDEO_ASSETS_SETTINGS):
one run per GPU share with CUDA, one per `num_cpus` of the usable cores without. A backfill of
1,000 partitions then keeps every worker busy without oversubscribing the cores, and drains.
"""

from __future__ import annotations

from typing import Any

from dagster import QueuedRunCoordinator


def machine_run_limit() -> int:
    """Runs the machine can feed at once under the environment's settings."""
    from video_assets.settings.config import Settings
    from video_assets.stages.resolved import resolve
    from video_assets.stages.workers import machine_slots

    return machine_slots(resolve(Settings.from_env()).models).workers


class MachineSizedRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator, with the machine's worker count as the default run limit."""

    def __init__(self, max_concurrent_runs: int | None = None, **kwargs: Any) -> None:
        super().__init__(
            max_concurrent_runs=machine_run_limit() if max_concurrent_runs is None else max_concurrent_runs, **kwargs
        )
