"""Crash recovery of `video-assets run`: killed runs never block later runs, a slot held by
a live run is waited for with a limit, and SIGINT/SIGTERM stop the run cleanly.

Real instance in a temp DAGSTER_HOME, real signals. The kill -9 and SIGINT runs are child
processes (run_recovery_child.py) whose fingerprint index commit is held open after
writing a marker file, so the signal lands while the run holds the `lancedb_fingerprint`
pool slot, every time. A "live foreign run" is a run record owned by a `sleep` process
that holds the pool's only slot.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from video_assets.app import guard as run_guard
from video_assets.app.guard import PoolSlotTimeout, RunInterrupted
from video_assets.app.instance_home import dagster_home as prepare_dagster_home
from video_assets.app.runner import run_folder
from video_assets.catalog.run_owner import Liveness, RunOwner, owner_tags, process_start_time, this_process
from video_assets.media.synthetic import make_video
from video_assets.settings.config import ClippingSettings, Settings

POOL = "lancedb_fingerprint"
CHILD = Path(__file__).with_name("run_recovery_child.py")
STARTUP_S = 180  # generous: a child imports torch and Dagster on a shared CI machine


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    make_video(root / "only clip.mp4", duration_s=2.0, fps=12, size=(64, 48), seed=5)
    return root


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    # A regression then fails in seconds instead of waiting the 5-minute default.
    monkeypatch.setattr(run_guard, "DEFAULT_POOL_WAIT_S", 20.0)
    monkeypatch.setattr(run_guard, "DEFAULT_REPORT_EVERY_S", 0.5)


def settings_for(folder: Path, data_dir: Path) -> Settings:
    return Settings(
        input_dir=folder,
        data_dir=data_dir,
        enabled_models=("fingerprint",),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=1.0),
    )


@contextmanager
def child_run(folder: Path, data_dir: Path, marker: Path) -> Iterator[subprocess.Popen]:
    log = open(data_dir.parent / f"child-{uuid.uuid4().hex[:6]}.log", "w+")  # noqa: SIM115 (closed below)
    args = [sys.executable, "-u", str(CHILD), str(folder), str(data_dir), str(marker)]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


def output(proc: subprocess.Popen) -> str:
    return Path(proc.log.name).read_text()  # type: ignore[attr-defined]


def wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen, timeout_s: float = STARTUP_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the child exited ({proc.returncode}) before {what}:\n{output(proc)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout_s} s:\n{output(proc)}")
        time.sleep(0.1)


def slot_holders(instance: dg.DagsterInstance) -> set[str]:
    return {s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def waiting_runs(instance: dg.DagsterInstance) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return {p.run_id for p in info.pending_steps if p.assigned_timestamp is None}


def failure_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's failure message(s) with their error text."""
    texts = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        event = entry.dagster_event
        texts.append(event.message or "")
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            texts.append(error.message)
    return "\n".join(texts)


def foreign_live_run(instance: dg.DagsterInstance, pid: int) -> str:
    """A STARTED run owned by the live process `pid` that holds the pool's only slot."""
    run_id = str(uuid.uuid4())
    owner = RunOwner(socket.gethostname(), pid, process_start_time(pid) or "")
    instance.add_run(
        dg.DagsterRun(job_name="elsewhere", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=owner_tags(owner))
    )
    instance.event_log_storage.initialize_concurrency_limit_to_default(POOL)
    assert instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "writer", 0).is_claimed
    return run_id


def index_rows(summary) -> int:
    return summary.total("fingerprint_clip_index", "rows_for_videos")


def test_kill_9_while_holding_the_index_slot_then_a_plain_run_completes(
    tmp_path: Path, folder: Path, dagster_home: Path
):
    data, marker = tmp_path / "data", tmp_path / "holding"
    with child_run(folder, data, marker) as proc:
        wait_for("the index step holding its slot", marker.exists, proc)
        with dg.DagsterInstance.get() as instance:
            (dead,) = slot_holders(instance)
            assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.STARTED
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    lines: list[str] = []
    started = time.monotonic()
    summary = run_folder(settings_for(folder, data), progress=lines.append)
    assert time.monotonic() - started < 120  # it does not wait on the dead run's slot
    assert [p.success for p in summary.partitions] == [True], lines
    assert index_rows(summary) == 1
    assert any(dead in line and "recovered" in line for line in lines), lines
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
        reason = failure_text(instance, dead)
        assert "owner process" in reason and "is gone" in reason, reason
        assert slot_holders(instance) == set() and waiting_runs(instance) == set()


def test_a_slot_held_by_a_live_run_fails_the_wait_naming_the_holder(
    tmp_path: Path, folder: Path, dagster_home: Path, monkeypatch
):
    monkeypatch.setattr(run_guard, "DEFAULT_POOL_WAIT_S", 2.0)
    prepare_dagster_home()  # the project's dagster.yaml: every pool admits one step
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        with dg.DagsterInstance.get() as instance:
            holder = foreign_live_run(instance, sleeper.pid)
        lines: list[str] = []
        with pytest.raises(PoolSlotTimeout) as timeout:
            run_folder(settings_for(folder, tmp_path / "data"), progress=lines.append)
        message = str(timeout.value)
        assert holder in message and POOL in message and f"pid {sleeper.pid}" in message and "alive" in message
        assert timeout.value.holders == [holder] and timeout.value.partition_key
        assert any("waiting" in line and holder in line for line in lines), lines
        with dg.DagsterInstance.get() as instance:
            (ours,) = [r for r in instance.get_runs() if r.run_id != holder]
            assert ours.status == dg.DagsterRunStatus.FAILURE
            assert holder in failure_text(instance, ours.run_id)
            # The live holder keeps its slot; our run left no pending claim behind.
            assert slot_holders(instance) == {holder} and waiting_runs(instance) == set()
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])  # SIGHUP: issue 23 (the process died, run STARTED)
def test_a_signal_mid_partition_exits_128_plus_it_and_a_plain_run_retries_it(
    tmp_path: Path, folder: Path, dagster_home: Path, signum: signal.Signals
):
    data, marker = tmp_path / "data", tmp_path / "holding"
    with child_run(folder, data, marker) as proc:
        wait_for("the index step holding its slot", marker.exists, proc)
        with dg.DagsterInstance.get() as instance:
            (interrupted,) = slot_holders(instance)
            key = instance.get_run_by_id(interrupted).tags["dagster/partition"]
        sent = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 128 + signum, output(proc)
        assert time.monotonic() - sent < 30  # promptly, not after the 600 s the step sleeps
        text = output(proc)
    assert f"{signum.name} received while partition {key} ran" in text and "retries" in text, text
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(interrupted).status == dg.DagsterRunStatus.FAILURE
        assert slot_holders(instance) == set() and waiting_runs(instance) == set()
        assert len(instance.get_runs()) == 1  # no further partition started

    summary = run_folder(settings_for(folder, data), progress=lambda line: None)
    assert [(p.key, p.success) for p in summary.partitions] == [(key, True)]
    assert index_rows(summary) == 1


def test_sigterm_while_waiting_for_a_slot_stops_the_run_at_once(tmp_path: Path, folder: Path, dagster_home: Path):
    # Before: a run waiting for a pool slot ignored SIGINT and SIGTERM and spun at 100 % CPU.
    # In this process (pytest runs tests on the main thread, where signals land): cheaper
    # than a child, and RunInterrupted.exit_code is what the CLI exits with.
    prepare_dagster_home()
    sleeper = subprocess.Popen(["sleep", "120"])
    done, sent = threading.Event(), []

    def terminate_once_waiting() -> None:
        with dg.DagsterInstance.get() as watcher:
            deadline = time.monotonic() + STARTUP_S
            while not waiting_runs(watcher):
                if done.wait(0.1) or time.monotonic() > deadline:
                    return
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        with dg.DagsterInstance.get() as instance:
            holder = foreign_live_run(instance, sleeper.pid)
        threading.Thread(target=terminate_once_waiting, daemon=True).start()
        try:
            with pytest.raises(RunInterrupted) as stopped:
                run_folder(settings_for(folder, tmp_path / "data"), progress=lambda line: None)
        finally:
            done.set()
        assert sent and time.monotonic() - sent[0] < 30
        assert stopped.value.exit_code == 143 and stopped.value.started
        assert f"SIGTERM received while partition {stopped.value.partition_key} ran" in str(stopped.value)
        with dg.DagsterInstance.get() as instance:
            assert instance.get_run_by_id(stopped.value.run_id).status == dg.DagsterRunStatus.FAILURE
            assert waiting_runs(instance) == set() and slot_holders(instance) == {holder}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_run_owner_liveness_tells_gone_reused_and_foreign_pids_apart():
    me = this_process()
    assert me.liveness() is Liveness.ALIVE
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert RunOwner(me.host, finished.pid, "1").liveness() is Liveness.GONE
    if me.pid_start:  # Linux: a pid now owned by a process started at another time is not the owner
        assert RunOwner(me.host, me.pid, str(int(me.pid_start) + 1)).liveness() is Liveness.GONE
    assert RunOwner(me.host + "-elsewhere", os.getpid(), me.pid_start).liveness() is Liveness.UNKNOWN
