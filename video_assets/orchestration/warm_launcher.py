"""A run launcher that forks each run from a warm process instead of starting a fresh interpreter.

Dagster's DefaultRunLauncher has the code server spawn a new Python per run, which imports torch,
lancedb, dagster and our definitions again (seconds of CPU, a minute of wall time on a loaded machine)
before the run's first step: a backfill of many small partitions pays that per partition. This launcher
(named in dagster.yaml, so the daemon uses it for UI launches and backfills) keeps one zygote
(video_assets.orchestration.warm_zygote) that has imported and built all of it once, and forks a run
worker per run from it. The worker executes the run as `dagster api execute_run` does.

- Runs of another code location, or of another Python, and every run while the zygote cannot start,
  go through an inner DefaultRunLauncher: nothing is lost, it is only slower.
- The zygote never runs stale code: before each launch the package's modules and the settings file
  are compared with what the zygote loaded (mtimes); on a change, or when it died, a new one is
  started and the old one finishes its runs and exits.
- The worker's pid is a run tag: `terminate` interrupts its process group (Dagster records the run
  canceled), and run monitoring fails a run whose worker died (`check_run_worker_health`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from video_assets.orchestration.daemon_cadence import in_the_daemon
from video_assets.orchestration.warm_worker import OUR_MODULE
from video_assets.orchestration.zygote_process import ZygoteError, ZygoteProcess, code_fingerprint, process_alive

WORKER_PID_TAG = "video_assets/run_worker_pid"
DEFAULT_READY_TIMEOUT_S = 600.0  # the zygote's imports take a minute of wall time on a loaded machine


def is_ours(run: dg.DagsterRun, module: str = OUR_MODULE) -> bool:
    """Whether the zygote can run it: the code location's module the zygote loads, by this Python."""
    origin = run.job_code_origin
    if origin is None:
        return False
    repository = origin.repository_origin
    same_python = os.path.realpath(repository.executable_path or "") == os.path.realpath(sys.executable)
    return getattr(repository.code_pointer, "module", None) == module and same_python


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Launches our code location's runs by forking a pre-warmed zygote; others as DefaultRunLauncher."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        ready_timeout_seconds: float = DEFAULT_READY_TIMEOUT_S,
        module: str = OUR_MODULE,
        warm_at_daemon_start: bool = True,
    ) -> None:
        self._inst_data = inst_data
        self.module = module
        self.warm_at_daemon_start = warm_at_daemon_start
        self.ready_timeout_s = ready_timeout_seconds
        self.fallback = DefaultRunLauncher()
        self.zygote: ZygoteProcess | None = None
        self.failed_on: tuple[tuple, str] | None = None  # the code fingerprint a zygote failed to load, why
        self.lock = threading.Lock()  # the daemon may launch from several threads; one channel
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {
            "ready_timeout_seconds": dg.Field(float, is_required=False, default_value=DEFAULT_READY_TIMEOUT_S),
            # The code location the zygote pre-builds (a module exposing `defs`); tests name their own.
            "module": dg.Field(str, is_required=False, default_value=OUR_MODULE),
            # Start the zygote when the daemon loads the launcher, so its warm-up is part of the UI's
            # start-up and not of the first run; false: at the first launch.
            "warm_at_daemon_start": dg.Field(bool, is_required=False, default_value=True),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance: dg.DagsterInstance) -> None:
        super().register_instance(instance)
        self.fallback.register_instance(instance)
        if self.warm_at_daemon_start and in_the_daemon():
            threading.Thread(target=self.prewarm, name="warm-zygote-start", daemon=True).start()

    def prewarm(self) -> None:
        """Start the zygote now (a launch meanwhile waits for it); a failure is the first launch's to report."""
        with self.lock:
            try:
                self.warm_zygote()
            except ZygoteError:
                pass

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not is_ours(run, self.module):
            self.fallback.launch_run(context)
            return
        ref = serialize_value(self._instance.get_ref())
        try:
            with self.lock:
                pid = self.warm_zygote().fork(run.run_id, ref)
        except ZygoteError as e:
            self._instance.report_engine_event(
                f"Warm run launcher: {e}; launching this run with a fresh process instead.", run, cls=self.__class__
            )
            self.fallback.launch_run(context)
            return
        self._instance.add_run_tags(run.run_id, {WORKER_PID_TAG: str(pid)})

    def warm_zygote(self) -> ZygoteProcess:
        """The zygote, (re)started when there is none, it died, or the code or settings changed; no new
        try on code that already failed to load (each try would cost a warm-up before the fallback)."""
        if self.zygote is not None and not self.zygote.usable():
            self.zygote.drain()
            self.zygote = None
        if self.zygote is None:
            fingerprint = code_fingerprint()
            if self.failed_on is not None and self.failed_on[0] == fingerprint:
                raise ZygoteError(f"unchanged code, which failed before: {self.failed_on[1]}")
            try:
                self.zygote = ZygoteProcess(self.module, self.ready_timeout_s)
            except ZygoteError as e:
                self.failed_on = (fingerprint, str(e))
                raise
        return self.zygote

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        if WORKER_PID_TAG not in run.tags:
            return self.fallback.terminate(run_id)
        pid = int(run.tags[WORKER_PID_TAG])
        self._instance.report_run_canceling(run)
        if not process_alive(pid):
            self._instance.report_run_canceled(run, message=f"Its run worker (pid {pid}) was already gone.")
            return True
        try:
            os.killpg(pid, signal.SIGINT)  # Dagster's interrupt: the worker records the run canceled
        except ProcessLookupError:
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        if WORKER_PID_TAG not in run.tags:
            # Launched by the default launcher, which cannot tell: never fail it for that.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "launched without the warm zygote: not checked")
        pid = int(run.tags[WORKER_PID_TAG])
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        latest = self._instance.get_run_by_id(run.run_id)
        if latest is not None and latest.is_finished:
            return CheckRunHealthResult(WorkerStatus.SUCCESS, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"its run worker (pid {pid}) exited before the run ended", run_worker_id=str(pid)
        )

    def dispose(self) -> None:
        with self.lock:
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None
        self.fallback.dispose()
