"""The production path of a backfill: queued runs, the daemon, one subprocess per run.

`dagster job backfill` submits one run per partition to the instance's
QueuedRunCoordinator; `dagster-daemon run` dequeues them (at most
``max_concurrent_runs`` at once) and the DefaultRunLauncher starts each as its
own Python process that loads the code location and executes the run. That
process start, code load and event writes are the per-run overhead that
dagster#26194 and #19607 report; the enqueue loop is what #28998 measures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

BIN = Path(sys.executable).parent
POLL_S = 0.5


@dataclass(frozen=True)
class QueuedResult:
    runs: int
    failed: int
    submit_s: float  # `dagster job backfill`: load the code location, create and enqueue every run
    drain_s: float  # daemon start -> last run finished
    span_s: float  # first run started -> last run finished
    runs_per_s: float  # runs / span_s
    median_run_s: float  # one run, RUN_START -> RUN_SUCCESS (its own process)
    median_latency_s: float  # one run, created -> finished (queueing included)
    max_concurrent_runs: int
    files_per_1k_runs: float  # files the runs added to DAGSTER_HOME, per 1000 runs


def write_workspace(path: Path, python_file: Path, attribute: str | None = None) -> Path:
    """A workspace.yaml with one code location: a Python file (and the Definitions attribute in it)."""
    target = f"      relative_path: {python_file}\n" + (f"      attribute: {attribute}\n" if attribute else "")
    path.write_text(f"load_from:\n  - python_file:\n{target}")
    return path


def write_queued_home(home: Path, max_concurrent_runs: int) -> Path:
    """A SQLite DAGSTER_HOME whose runs go through the run queue (QueuedRunCoordinator)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        "concurrency:\n"
        "  pools:\n    default_limit: 1\n"
        f"  runs:\n    max_concurrent_runs: {max_concurrent_runs}\n"
        "telemetry:\n  enabled: false\n"
    )
    return home


def run_queued_backfill(
    home: Path,
    workspace: Path,
    job: str,
    partitions: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 1800.0,
) -> QueuedResult:
    """Submit one run per partition, run the daemon until every run is finished, read the timings."""
    environ = {**os.environ, **(env or {}), "DAGSTER_HOME": str(home)}
    files_before = count_files(home)
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "dagster"),
            "job",
            "backfill",
            "-w",
            str(workspace),
            "-j",
            job,
            "--partitions",
            ",".join(partitions),
            "--noprompt",
        ],
        env=environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    submit_s = time.perf_counter() - started
    log = open(home / "daemon.log", "w")  # noqa: SIM115 - closed after the daemon stops
    daemon_start = time.time()
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=environ, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            records = _wait_until_finished(instance, len(partitions), daemon, timeout_s)
            max_runs = instance.get_concurrency_config().run_queue_config.max_concurrent_runs
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
    starts = [r.start_time for r in records if r.start_time]
    ends = [r.end_time for r in records if r.end_time]
    span = max(ends) - min(starts)
    durations = sorted(r.end_time - r.start_time for r in records if r.start_time and r.end_time)
    latencies = sorted(r.end_time - r.create_timestamp.timestamp() for r in records if r.end_time)
    return QueuedResult(
        runs=len(records),
        failed=sum(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in records),
        submit_s=submit_s,
        drain_s=max(ends) - daemon_start,
        span_s=span,
        runs_per_s=len(records) / span,
        median_run_s=durations[len(durations) // 2],
        median_latency_s=latencies[len(latencies) // 2],
        max_concurrent_runs=int(max_runs),
        files_per_1k_runs=(count_files(home) - files_before) * 1000 / len(records),
    )


def count_files(home: Path) -> int:
    # The daemon's own log is ours, not Dagster's storage.
    return sum(1 for p in home.rglob("*") if p.is_file() and p.name != "daemon.log")


def _wait_until_finished(
    instance: dg.DagsterInstance, expected: int, daemon: subprocess.Popen, timeout_s: float
) -> list:
    deadline = time.time() + timeout_s
    while True:
        records = instance.get_run_records()
        if len(records) != expected:
            raise RuntimeError(f"expected {expected} submitted runs, the instance has {len(records)}")
        if all(r.dagster_run.is_finished for r in records):
            return records
        if daemon.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with {daemon.returncode}; see daemon.log in the home")
        if time.time() > deadline:
            raise TimeoutError(f"runs not finished after {timeout_s} s")
        time.sleep(POLL_S)
