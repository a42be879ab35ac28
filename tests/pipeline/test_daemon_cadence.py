"""The run queue and the daemon's cadence for UI work: the project's dagster.yaml gives a queue sized for
the machine that is drained every 0.5 s, and in the daemon a backfill loop that wakes every 2 s (Dagster:
5 s and 30 s). The backfill loop's behaviour is checked on Dagster's own loop, so a release that stops
reading the constant fails here, not silently in a slow UI."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml
from dagster._daemon import controller
from dagster._daemon.backfill import execute_backfill_iteration_loop

from video_assets.orchestration.daemon_cadence import DEFAULT_BACKFILL_INTERVAL_S
from video_assets.orchestration.run_queue import MachineSizedRunCoordinator, machine_run_limit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def keep_cadence() -> None:
    before = controller.DEFAULT_DAEMON_INTERVAL_SECONDS
    yield
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = before


def instance_with(tmp_path: Path, coordinator_config: dict | None = None) -> dg.DagsterInstance:
    settings = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    settings.pop("run_launcher")  # the warm launcher would start a zygote in a daemon; not needed here
    if coordinator_config is not None:
        settings["run_coordinator"]["config"] = coordinator_config
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(settings))
    return dg.DagsterInstance.from_config(str(tmp_path))


def test_the_project_queue_is_machine_sized_and_drained_each_second(tmp_path: Path, keep_cadence: None) -> None:
    with instance_with(tmp_path) as instance:
        queue = instance.run_coordinator
        assert isinstance(queue, MachineSizedRunCoordinator)
        assert queue.get_run_queue_config().max_concurrent_runs == machine_run_limit() >= 1
        assert queue.dequeue_interval_seconds == 0.5
        assert queue.backfill_interval_seconds == DEFAULT_BACKFILL_INTERVAL_S
    # Outside the daemon (the webserver, `video-assets run`) nothing of Dagster's is changed.
    assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 30


def test_settings_in_dagster_yaml_win(tmp_path: Path, keep_cadence: None) -> None:
    config = {"max_concurrent_runs": 3, "dequeue_interval_seconds": 4.0, "backfill_interval_seconds": 0.5}
    with instance_with(tmp_path, config) as instance:
        queue = instance.run_coordinator
        assert (queue.get_run_queue_config().max_concurrent_runs, queue.dequeue_interval_seconds) == (3, 4)
        assert queue.backfill_interval_seconds == 0.5


def test_in_the_daemon_the_backfill_loop_wakes_at_our_interval(
    tmp_path: Path, keep_cadence: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    daemon_main = Path(importlib.util.find_spec("dagster._daemon").origin).parent / "__main__.py"
    monkeypatch.setattr(sys, "argv", [str(daemon_main), "run"])
    with instance_with(tmp_path, {"backfill_interval_seconds": 0.25}) as instance:
        instance.run_coordinator  # noqa: B018 (the daemon builds it before its loops start)
    assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 0.25
    # Dagster's loop itself, for 1.5 s: an iteration per 0.25 s, where the default would give one.
    workspace = mock.MagicMock()
    workspace.instance.get_backfills.return_value = []
    iterations = 0
    stop = threading.Event()
    loop = execute_backfill_iteration_loop(workspace, logging.getLogger("test"), stop, until=time.time() + 1.5)
    for marker in loop:
        iterations += marker is None  # the loop yields None once per iteration, after its sleep
    assert iterations >= 4


def test_in_the_daemon_the_run_launcher_is_built_with_the_queue(
    tmp_path: Path, keep_cadence: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the warm launcher starts its zygote with the daemon (Dagster builds launchers at the first launch)."""
    import importlib.util

    from video_assets.orchestration.warm_launcher import WarmRunLauncher

    warmed = []
    monkeypatch.setattr(WarmRunLauncher, "prewarm", lambda self: warmed.append(self))
    settings = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(settings))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.run_coordinator  # noqa: B018 (outside the daemon: nothing more)
    time.sleep(0.2)
    assert not warmed
    daemon_main = Path(importlib.util.find_spec("dagster._daemon").origin).parent / "__main__.py"
    monkeypatch.setattr(sys, "argv", [str(daemon_main), "run"])
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.run_coordinator  # noqa: B018
        deadline = time.monotonic() + 5
        while not warmed and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(warmed) == 1 and isinstance(warmed[0], WarmRunLauncher)


@pytest.mark.parametrize("command", ["liveness-check", "wipe", "debug"])
def test_other_daemon_commands_start_no_zygote(
    tmp_path: Path, keep_cadence: None, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """`dagster-daemon liveness-check` (a container's health probe, run every few seconds), `wipe` and
    `debug` load the run coordinator too (the required daemons): they launch no run, so they must not
    start a zygote that imports torch and the definitions for a minute after they have exited."""
    from video_assets.orchestration.warm_launcher import WarmRunLauncher

    warmed = []
    monkeypatch.setattr(WarmRunLauncher, "prewarm", lambda self: warmed.append(self))
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    monkeypatch.setattr(sys, "argv", ["/venv/bin/dagster-daemon", command])
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.get_required_daemon_types()
    time.sleep(0.2)
    assert not warmed
