"""The warm run launcher on a real instance (temp DAGSTER_HOME, the launcher in its dagster.yaml): a run is
forked from the zygote and completes; terminate cancels it; a dead worker fails the health check; runs it
cannot take go through the default launcher; a change to the code or settings restarts the zygote."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import WorkerStatus
from dagster._core.test_utils import create_run_for_test, in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from video_assets.orchestration.daemon_cadence import in_the_daemon
from video_assets.orchestration.warm_launcher import WORKER_PID_TAG, WarmRunLauncher
from video_assets.orchestration.zygote_process import process_alive

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JOBS = "tests.pipeline.warm_jobs"
LAUNCHER_YAML = f"""
run_launcher:
  module: video_assets.orchestration.warm_launcher
  class: WarmRunLauncher
  config:
    module: {JOBS}
telemetry:
  enabled: false
"""


class World:
    def __init__(self, root: Path, instance: dg.DagsterInstance, workspace) -> None:
        self.root = root
        self.out = root / "out"
        self.settings = root / "settings.toml"
        self.instance = instance
        self.workspace = workspace

    @property
    def launcher(self) -> WarmRunLauncher:
        launcher = self.instance.run_launcher
        assert isinstance(launcher, WarmRunLauncher)
        return launcher

    def launch(self, job: str) -> dg.DagsterRun:
        location = next(iter(self.workspace.get_code_location_entries().values())).code_location
        remote = location.get_repository("__repository__").get_full_job(job)
        run = create_run_for_test(
            self.instance,
            job_name=job,
            remote_job_origin=remote.get_remote_origin(),
            job_code_origin=remote.get_python_origin(),
        )
        self.instance.launch_run(run.run_id, self.workspace)
        return self.instance.get_run_by_id(run.run_id)

    def wait(self, run_id: str, statuses: set[dg.DagsterRunStatus], timeout_s: float = 120) -> dg.DagsterRun:
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.instance.get_run_by_id(run_id)
            if run.status in statuses:
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("warm_launcher")
    home = root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(LAUNCHER_YAML)
    (root / "out").mkdir()
    (root / "settings.toml").write_text("# stands for the settings file the zygote loaded\n")
    origin = LoadableTargetOrigin(executable_path=sys.executable, module_name=JOBS, working_directory=str(ROOT))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("WARM_TEST_OUT", str(root / "out"))
        mp.setenv("VIDEO_ASSETS_SETTINGS", str(root / "settings.toml"))
        mp.delenv("WARM_TEST_BREAK", raising=False)
        with dg.DagsterInstance.get() as instance, in_process_test_workspace(instance, origin) as workspace:
            yield World(root, instance, workspace)


def test_the_dagster_internals_it_uses_are_there() -> None:
    """Dagster 1.13.x internals the worker relies on: this fails loudly if an upgrade moves them."""
    import inspect

    from dagster._cli.api import _execute_run_command_body

    params = list(inspect.signature(_execute_run_command_body).parameters)
    assert params == ["run_id", "instance", "write_stream_fn", "set_exit_code_on_failure"]
    assert dg.__version__.startswith("1.13."), "re-read dagster/_cli/api.py before moving off 1.13"


def test_it_knows_the_daemon_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The zygote starts with the daemon (`dg dev` runs `python -m dagster._daemon run`), not elsewhere."""
    import importlib.util

    package = Path(importlib.util.find_spec("dagster._daemon").origin).parent
    monkeypatch.setattr(sys, "argv", [str(package / "__main__.py"), "run"])
    assert in_the_daemon()
    monkeypatch.setattr(sys, "argv", ["/venv/bin/dagster-daemon", "run"])
    assert in_the_daemon()
    monkeypatch.setattr(sys, "argv", ["/venv/bin/dagster-webserver"])
    assert not in_the_daemon()


def test_a_run_is_forked_from_the_zygote_and_completes(world: World) -> None:
    run = world.launch("where")
    assert WORKER_PID_TAG in run.tags
    finished = world.wait(run.run_id, {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE})
    assert finished.status == dg.DagsterRunStatus.SUCCESS
    pid, parent, built_in, session = (int(x) for x in (world.out / f"{run.run_id}.txt").read_text().split())
    zygote = world.launcher.zygote
    assert zygote is not None
    assert pid == int(run.tags[WORKER_PID_TAG]) and session == pid  # a session of its own
    assert parent == zygote.process.pid and built_in == zygote.process.pid  # forked, code built once, there
    assert pid != os.getpid()
    # A second run reuses the same zygote.
    again = world.launch("where")
    assert world.wait(again.run_id, {dg.DagsterRunStatus.SUCCESS}).status == dg.DagsterRunStatus.SUCCESS
    assert world.launcher.zygote is zygote


def test_terminate_interrupts_the_worker_and_the_run_is_canceled(world: World) -> None:
    run = world.launch("sleepy")
    world.wait(run.run_id, {dg.DagsterRunStatus.STARTED})
    pid = int(run.tags[WORKER_PID_TAG])
    assert world.instance.run_launcher.terminate(run.run_id)
    assert world.wait(run.run_id, {dg.DagsterRunStatus.CANCELED}, 60).status == dg.DagsterRunStatus.CANCELED
    deadline = time.monotonic() + 30
    while process_alive(pid):
        assert time.monotonic() < deadline, "the worker outlived its canceled run"
        time.sleep(0.2)


def test_worker_health_follows_the_worker_process(world: World) -> None:
    run = world.launch("sleepy")
    started = world.wait(run.run_id, {dg.DagsterRunStatus.STARTED})
    assert world.launcher.supports_check_run_worker_health
    assert world.launcher.check_run_worker_health(started).status == WorkerStatus.RUNNING
    os.killpg(int(run.tags[WORKER_PID_TAG]), signal.SIGKILL)  # the worker dies without a word
    deadline = time.monotonic() + 30
    while (result := world.launcher.check_run_worker_health(started)).status == WorkerStatus.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert result.status == WorkerStatus.FAILED, result
    world.instance.report_run_failed(started, "killed by the test")  # what run monitoring does then


def test_a_changed_settings_file_or_a_dead_zygote_starts_a_new_one(world: World) -> None:
    first = world.launch("where")
    old = world.launcher.zygote
    assert old is not None
    later = time.time() + 5
    os.utime(world.settings, (later, later))
    second = world.launch("where")
    assert world.launcher.zygote is not old
    for run in (first, second):
        assert world.wait(run.run_id, {dg.DagsterRunStatus.SUCCESS}).status == dg.DagsterRunStatus.SUCCESS
    assert old.process.wait(timeout=30) == 0  # drained: it exits once its workers are done
    current = world.launcher.zygote
    current.process.kill()
    current.process.wait()
    third = world.launch("where")
    assert world.launcher.zygote is not current
    assert world.wait(third.run_id, {dg.DagsterRunStatus.SUCCESS}).status == dg.DagsterRunStatus.SUCCESS


def test_runs_it_cannot_fork_go_to_the_default_launcher(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    handed: list[str] = []
    monkeypatch.setattr(
        world.launcher.fallback, "launch_run", lambda context: handed.append(context.dagster_run.run_id)
    )
    # The zygote cannot load the code location: this run goes to the default launcher, nothing lost.
    world.launcher.dispose()
    monkeypatch.setenv("WARM_TEST_BREAK", "1")
    broken = world.launch("where")
    assert handed == [broken.run_id] and WORKER_PID_TAG not in broken.tags
    events = world.instance.all_logs(broken.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    assert any("could not load the code location" in (e.message or "") for e in events)
    # The same code again: no second warm-up that would fail the same way, straight to the fallback.
    again = world.launch("where")
    assert handed == [broken.run_id, again.run_id] and world.launcher.zygote is None
    events = world.instance.all_logs(again.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    assert any("unchanged code, which failed before" in (e.message or "") for e in events)
    assert any("could not load the code location" in (e.message or "") for e in events)  # and why
    # Another code location's run: straight to the default launcher.
    monkeypatch.setattr(world.launcher, "module", "some.other.location")
    other = world.launch("where")
    assert handed == [broken.run_id, again.run_id, other.run_id]
    # Not ours to check: never failed by the health check.
    assert world.launcher.check_run_worker_health(other).status == WorkerStatus.RUNNING
