"""Partition runs that never hang on a dead run's pool slot and stop cleanly on Ctrl-C.

`video-assets run` executes one Dagster run per partition in this process. Three
things used to go wrong, and `guarded_runs` handles each:

* A run killed with -9 keeps its pool slot (`gpu`, `lancedb_<model>`) for ever,
  and every later run waits for it. Every run started here is tagged with its
  owner process (catalog/run_owner.py); before the first partition, and again while a
  step waits for a slot, unfinished runs whose owner on this host is gone are
  marked failed with the reason and their slots freed.
* A step waiting for a slot held by a live run waited without end (and Dagster
  1.13.27's in-process loop spins at 100 % CPU meanwhile: its
  `interval_to_next_pending_claim_check` takes the min with 0, so it never
  sleeps). The instance's claim call is wrapped for the runs made here: it
  paces the polls, prints who holds the slot every `report_every_s`, and past
  `pool_wait_s` fails the run with an error naming the holder.
* Ctrl-C (SIGINT) or SIGTERM failed the current step and went on with the next
  partition, and was ignored while a step waited for a slot. The signal is now
  noticed through the wakeup fd (app/signals.py); a step waiting for a slot is
  interrupted at once, the run is left FAILURE with its slots freed, and
  `RunInterrupted` stops the loop.

Runs launched from the UI (`dagster dev`) are watched by Dagster's run
monitoring instead (dagster.yaml); runs without owner tags are never reaped
here, only named when they block a slot.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dagster as dg
import dagster._utils.interrupts as _dagster_interrupts

from video_assets.app.signals import SignalWatch, signal_name
from video_assets.catalog.run_owner import Liveness, owner_from_tags, owner_tags

DEFAULT_POOL_WAIT_S = 300.0  # how long a step may wait for a pool slot held by a live run
DEFAULT_REPORT_EVERY_S = 30.0  # a "waiting for pool ..." line this often while it waits
CLAIM_POLL_S = 0.5  # pace of slot polls while blocked (Ctrl-C is noticed within this)

UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class RunInterrupted(Exception):
    """SIGINT/SIGTERM/SIGHUP stopped `run`; the CLI exits with `exit_code` (130, 143, 129: 128 + the signal)."""

    def __init__(self, partition_key: str, signum: int, run_id: str | None, started: bool):
        self.partition_key = partition_key
        self.signum = signum
        self.run_id = run_id
        self.started = started
        where = f"while partition {partition_key} ran" if started else f"before partition {partition_key} started"
        super().__init__(
            f"{signal_name(signum)} received {where}; stopped. A plain `video-assets run` retries "
            "every video not indexed yet, this partition included."
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class PoolSlotTimeout(Exception):
    """A step waited longer than `pool_wait_s` for a pool slot held by another, live or unknown, run."""

    def __init__(self, message: str, *, pool: str, holders: list[str], partition_key: str = ""):
        super().__init__(message)
        self.pool = pool
        self.holders = holders
        self.partition_key = partition_key


@dataclass
class _Wait:
    started: float
    reported: float


@dataclass
class RunGuard:
    """Executes partition runs on `instance` with owner tags, slot-wait limits and signal handling."""

    instance: dg.DagsterInstance
    signals: SignalWatch
    pool_wait_s: float
    report_every_s: float
    progress: Callable[[str], None]
    _waits: dict[tuple[str, str], _Wait] = field(default_factory=dict)
    _timeout: PoolSlotTimeout | None = None
    _executing: bool = False
    _flag_lock: threading.Lock = field(default_factory=threading.Lock)

    def keep_interrupting(self) -> None:
        """Called by the signal reader thread every tick once a signal arrived.

        Dagster turns an interrupt inside a step that has a RetryPolicy into a retry
        (dagster/_core/execution/plan/utils.py, "respect retry policy when interrupts
        occur"), and starts the other steps as usual. Keeping its captured-interrupt
        flag raised while the run executes makes every step it starts or retries
        raise the interrupt at once, so the run ends within a step. The flag is
        private to dagster 1.13.27 (pinned); it is cleared when the run returns.
        """
        with self._flag_lock:
            if self._executing:
                _dagster_interrupts._received_interrupt["received"] = True

    def execute(self, job: dg.JobDefinition, partition_key: str, **kwargs: object) -> dg.ExecuteInProcessResult:
        """`job.execute_in_process(partition_key=..., instance=..., raise_on_error=False, **kwargs)`.

        Raises RunInterrupted when a signal arrived before or during the run (the run is
        then FAILURE in the instance, never left STARTED, with no slot claimed), and
        PoolSlotTimeout when a step gave up waiting for a pool slot.
        """
        if self.signals.poll() is not None:
            raise RunInterrupted(partition_key, self.signals.first, None, started=False)
        run_id = str(uuid.uuid4())
        tags = {**dict(kwargs.pop("tags", None) or {}), **owner_tags()}  # type: ignore[call-overload]
        self._timeout = None
        with self._flag_lock:
            self._executing = True
        try:
            result = job.execute_in_process(
                partition_key=partition_key,
                instance=self.instance,
                run_id=run_id,
                tags=tags,
                raise_on_error=False,
                **kwargs,  # type: ignore[arg-type]
            )
        finally:
            with self._flag_lock:
                self._executing = False
                _dagster_interrupts._received_interrupt["received"] = False
        signum = self.signals.poll()
        if signum is not None:
            self._finish_interrupted(run_id, partition_key, signum)
            raise RunInterrupted(partition_key, signum, run_id, started=True)
        if self._timeout is not None:
            self._timeout.partition_key = partition_key
            raise self._timeout
        return result

    def _finish_interrupted(self, run_id: str, partition_key: str, signum: int) -> None:
        run = self.instance.get_run_by_id(run_id)
        if run is None:
            return  # interrupted before Dagster created the run: nothing to clean
        note = (
            f"{signal_name(signum)} received by `video-assets run` (pid {os.getpid()}) "
            f"while partition {partition_key} ran; the run stopped and a plain rerun retries the partition."
        )
        self.instance.report_engine_event(note, run)
        if run.status in UNFINISHED:
            self.instance.report_run_failed(run, note)
        self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)

    # -- the claim wrapper ------------------------------------------------------------------

    def claim(self, original: Callable[..., object], pool: str, run_id: str, step_key: str, priority: int = 0):
        """Stands in for `event_log_storage.claim_concurrency_slot` while `guarded_runs` is open."""
        status = original(pool, run_id, step_key, priority)
        key = (run_id, step_key)
        if status.is_claimed:  # type: ignore[attr-defined]
            self._waits.pop(key, None)
            return status
        if self.signals.poll() is not None:
            # Dagster only defers Ctrl-C outside step code; waiting for a slot must end now.
            raise dg.DagsterExecutionInterruptedError(
                f"{signal_name(self.signals.first)} while {step_key} waited for pool {pool}"
            )
        now = time.monotonic()
        wait = self._waits.setdefault(key, _Wait(started=now, reported=now))
        holders = [h for h in _slot_holders(self.instance, pool) if h != run_id]
        if reap_dead_runs(self.instance, holders, self.progress):
            return self.claim(original, pool, run_id, step_key, priority)  # a dead holder's slot is free now
        waited = now - wait.started
        described = "; ".join(describe_run(self.instance, h) for h in holders) or "no run (slots are being handed over)"
        if waited > self.pool_wait_s:
            self._timeout = PoolSlotTimeout(
                f"step {step_key} of run {run_id} waited {waited:.0f} s (the limit, pool_wait_s) for a slot of "
                f"pool {pool}, held by {described}. If that run is still working, rerun later or allow a longer "
                f"wait; if it is dead, terminate it in the Dagster UI (Runs -> the run -> Terminate), "
                "which frees its slot.",
                pool=pool,
                holders=holders,
            )
            raise self._timeout
        if now - wait.reported >= self.report_every_s:
            wait.reported = now
            self.progress(
                f"    waiting {waited:.0f} s for pool {pool} (step {step_key}), held by {described}; "
                f"giving up after {self.pool_wait_s:.0f} s"
            )
        # Pace the polls ourselves: the in-process executor would otherwise spin on this call.
        time.sleep(CLAIM_POLL_S)
        return status.with_sleep_interval(0.0)  # type: ignore[attr-defined]


@contextmanager
def guarded_runs(
    instance: dg.DagsterInstance,
    *,
    pool_wait_s: float | None = None,
    report_every_s: float | None = None,
    progress: Callable[[str], None] = print,
) -> Iterator[RunGuard]:
    """Reap dead runs, then yield a RunGuard whose `execute` runs one partition at a time.

    `pool_wait_s` (default DEFAULT_POOL_WAIT_S) bounds how long a step waits for a pool
    slot held by a live run; `report_every_s` (DEFAULT_REPORT_EVERY_S) paces the
    "waiting for pool" lines.

    Must be entered on the main thread (signals). Only this instance object's claim
    calls are wrapped, and only while the block is open: other processes, the UI and
    the daemon are untouched.
    """
    reap_dead_runs(instance, _unfinished_run_ids(instance), progress)
    free_slots_of_finished_runs(instance, progress)
    storage = instance.event_log_storage
    original = storage.claim_concurrency_slot
    holder: list[RunGuard] = []
    with SignalWatch(while_signalled=lambda: holder[0].keep_interrupting() if holder else None) as signals:
        guard = RunGuard(
            instance,
            signals,
            DEFAULT_POOL_WAIT_S if pool_wait_s is None else pool_wait_s,
            DEFAULT_REPORT_EVERY_S if report_every_s is None else report_every_s,
            progress,
        )
        holder.append(guard)
        # An attribute on this one storage object shadows the class's method for its callers
        # (InstanceConcurrencyContext looks it up on every claim); removed on exit.
        storage.claim_concurrency_slot = lambda *args, **kw: guard.claim(original, *args, **kw)  # type: ignore[method-assign]
        try:
            yield guard
        finally:
            del storage.claim_concurrency_slot


# -- reaping ---------------------------------------------------------------------------------


def reap_dead_runs(instance: dg.DagsterInstance, run_ids: list[str], progress: Callable[[str], None]) -> list[str]:
    """Mark failed the unfinished runs among `run_ids` whose owner process on this host is gone,
    and free their pool slots. Returns the ids reaped."""
    reaped = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in UNFINISHED:
            continue
        owner = owner_from_tags(run.tags)
        if owner is None or owner.liveness() is not Liveness.GONE:
            continue
        reason = (
            f"Marked failed by `video-assets run`: its owner process ({owner.describe()}) is gone "
            f"(killed or crashed) while the run was {run.status.value}; its pool slots were freed."
        )
        instance.report_engine_event(reason, run)
        instance.report_run_failed(run, reason)
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        partition = run.tags.get("dagster/partition", "?")
        progress(
            f"recovered: run {run_id} (partition {partition}) died with {owner.describe()}; marked failed, slots freed"
        )
        reaped.append(run_id)
    return reaped


def free_slots_of_finished_runs(instance: dg.DagsterInstance, progress: Callable[[str], None]) -> None:
    """Free slots still claimed by runs that already ended (what the daemon's run monitoring
    does after `free_slots_after_run_end_seconds`; `run` has no daemon)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            state = "deleted" if run is None else run.status.value
            progress(f"recovered: freed the pool slots still held by run {run_id} ({state})")


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """'run <id> (STARTED, partition k, pid N on host h, alive)' for messages about a slot holder."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} (deleted from the instance)"
    parts = [run.status.value]
    if "dagster/partition" in run.tags:
        parts.append(f"partition {run.tags['dagster/partition']}")
    owner = owner_from_tags(run.tags)
    if owner is None:
        parts.append("not started by `video-assets run`, e.g. from the UI")
    else:
        parts.append(f"{owner.describe()}, {owner.liveness().value}")
    return f"run {run_id} ({', '.join(parts)})"


def _slot_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    info = instance.event_log_storage.get_concurrency_info(pool)
    return sorted({slot.run_id for slot in info.claimed_slots})


def _unfinished_run_ids(instance: dg.DagsterInstance) -> list[str]:
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED))
    return [r.dagster_run.run_id for r in records]
