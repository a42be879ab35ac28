"""The daemon's run queue sized for the machine: no more runs at once than the workers it can feed.

dagster.yaml names this coordinator. Without `max_concurrent_runs` in its config, the limit is
`stages.workers.machine_slots` for the settings the code location loads (VIDEO_ASSETS_SETTINGS):
one run per GPU share with CUDA, one per `num_cpus` of the usable cores without. A backfill of
1,000 partitions then keeps every worker busy without oversubscribing the cores, and drains.
In the daemon it also sets how often the queue and the backfill loop look for work
(orchestration/daemon_cadence.py): every 0.5 s and every 2 s, where Dagster waits 5 s and 30 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData

from video_assets.orchestration.daemon_cadence import (
    DEFAULT_BACKFILL_INTERVAL_S,
    DEFAULT_DEQUEUE_INTERVAL_S,
    in_the_daemon,
    set_backfill_interval,
)


def machine_run_limit() -> int:
    """Runs the machine can feed at once under the environment's settings."""
    from video_assets.settings.config import Settings
    from video_assets.stages.resolved import resolve
    from video_assets.stages.workers import machine_slots

    return machine_slots(resolve(Settings.from_env()).models).workers


class MachineSizedRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator, with the machine's worker count as the default run limit."""

    def __init__(
        self,
        max_concurrent_runs: int | None = None,
        dequeue_interval_seconds: float | None = None,
        backfill_interval_seconds: float = DEFAULT_BACKFILL_INTERVAL_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            max_concurrent_runs=machine_run_limit() if max_concurrent_runs is None else max_concurrent_runs, **kwargs
        )
        # Dagster takes whole seconds here; its interval loop waits in 0.5 s steps, so 0.5 s is the finest
        # cadence that means anything. A queued run waits for the next pass after a slot frees.
        self.dequeue_interval = (
            DEFAULT_DEQUEUE_INTERVAL_S if dequeue_interval_seconds is None else dequeue_interval_seconds
        )
        self.backfill_interval_seconds = backfill_interval_seconds

    def register_instance(self, instance: dg.DagsterInstance) -> None:
        """In the daemon (which builds its run queue, and registers it, before its loops start): the
        backfill loop's cadence, and the run launcher built now."""
        super().register_instance(instance)
        if in_the_daemon():
            set_backfill_interval(self.backfill_interval_seconds)
            # Dagster builds the run launcher at the first launch; build it with the daemon instead, so
            # the warm launcher's zygote warms up during the UI's start-up, not in the first run's.
            instance.run_launcher  # noqa: B018

    @property
    def dequeue_interval_seconds(self) -> float:  # type: ignore[override]  (Dagster's is an int)
        return self.dequeue_interval

    @classmethod
    def config_type(cls) -> dict:
        return {
            **QueuedRunCoordinator.config_type(),
            "dequeue_interval_seconds": dg.Field(float, is_required=False, default_value=DEFAULT_DEQUEUE_INTERVAL_S),
            # How often the daemon's backfill loop looks for new backfills and ended runs (Dagster: 30 s).
            "backfill_interval_seconds": dg.Field(float, is_required=False, default_value=DEFAULT_BACKFILL_INTERVAL_S),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> MachineSizedRunCoordinator:
        return cls(inst_data=inst_data, **config_value)
