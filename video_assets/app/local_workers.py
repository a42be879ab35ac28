"""`run --workers N`: N partitions at once on one machine, each worker a process bound to its own device.

Each worker is a process forked from a server that imported the heavy modules once and never
touched CUDA (multiprocessing's forkserver); it builds the definitions once, keeps its models
cached across the partitions it takes, and executes each partition's run in process exactly as
the one-worker path does (`RunGuard.execute`: owner tags,
slot waits, signals). With CUDA a worker sees only its cards (CUDA_VISIBLE_DEVICES, from
`stages.workers.WorkerSlots.gpu_ids`), so `device: auto` is a different GPU in each, and a
fractional `num_gpus_per_worker` puts 1/f workers on a card, each capped by its `gpu_memory_gb`.
Decoding in one worker overlaps embedding in another. The LanceDB commits stay one at a time
per table: the `lancedb_<model>` pools hold one slot across every process of the instance.

This process hands out partition keys, settles each partition in the ledger as its outcome
comes back, and prints the lines. Workers run in their own sessions: a Ctrl-C or SIGTERM here
is passed on to each, which stops its run as the one-worker path does (run FAILURE, slots
freed), and `RunInterrupted` ends the run here. A worker dies with this process (kill -9: each
worker watches it, takes no new partition and kills itself within a fifth of a second): its run
stays STARTED with the worker as owner, and the next `run` reaps it.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import forkserver, get_context
from typing import Any

from video_assets.app.guard import PoolSlotTimeout, RunInterrupted
from video_assets.app.outcome import PartitionOutcome, partition_outcome
from video_assets.catalog.run_owner import process_start_time

WATCH_S = 0.2  # how often a worker checks that `run` is alive
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_S = 0.2
# Not lancedb: its async runtime is only partly reset in a forked child (it warns of a rare deadlock).
PRELOAD = ["torch", "dagster", "video_assets.app.guard"]


def widen_gpu_pool(instance: Any, workers: int, uses_gpu: bool) -> int | None:
    """Raise the instance's `gpu` pool to `workers` slots when they embed on GPUs (it is one by default,
    which would queue every worker's embedding step behind one slot); never lowers it. Returns the
    slots set, or None when nothing changed."""
    if not uses_gpu or workers <= 1:
        return None
    storage = instance.event_log_storage
    current = storage.get_concurrency_info("gpu").slot_count
    if current is not None and current >= workers:
        return None
    storage.set_concurrency_slots("gpu", workers)
    return workers


def warm_worker_server() -> Any:
    """The multiprocessing context whose server forks the workers; the server imports PRELOAD once,
    so each worker starts warm."""
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()
    return ctx


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process starts from (pickled to it)."""

    index: int
    gpu_ids: list[int]
    settings_json: str
    dagster_home: str
    pool_wait_s: float | None
    log_level: str
    threads: int = 0  # CPU threads for this worker's decoder and torch (0: the libraries' own choice)
    run_pid: int = 0  # the `run` process: the worker stops when it is gone (0: this process's parent)


@dataclass
class WorkerPlace:
    """Where a partition ran: `run --json`'s `worker` of each video."""

    node: str
    gpu_ids: list[int]
    pid: int

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "gpu_ids": self.gpu_ids, "pid": self.pid}


def _die_with(run_pid: int) -> None:
    """SIGKILL this worker soon after `run` dies (kill -9 of `run`). The worker's parent is the
    forkserver, not `run`, and the forkserver outlives `run` while its workers hold its pipe, so a
    parent-death signal never fires: a thread polls `run` instead."""

    def watch() -> None:
        while process_start_time(run_pid) is not None:
            time.sleep(WATCH_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="watch-run", daemon=True).start()


def worker_main(spec: WorkerSpec, tasks: Any, results: Any) -> None:
    """A worker process: take partition keys until the sentinel, run each, send back its outcome."""
    os.setsid()  # a terminal's Ctrl-C reaches `run` only; it passes the signal on
    run_pid = spec.run_pid or os.getppid()
    _die_with(run_pid)
    if spec.gpu_ids:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, spec.gpu_ids))
    if spec.threads:  # N workers on the cores: each decodes and computes on its share, not on all of them
        os.environ["OMP_NUM_THREADS"] = str(spec.threads)
    os.environ["DAGSTER_HOME"] = spec.dagster_home
    import dagster as dg  # CUDA reads CUDA_VISIBLE_DEVICES when first used, so the binding above holds

    from video_assets.app.guard import guarded_runs
    from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
    from video_assets.settings.config import Settings

    settings = Settings.model_validate_json(spec.settings_json)
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
        if not settings.frames.num_threads:  # a throughput knob: no code version moves
            frames = settings.frames.model_copy(update={"num_threads": spec.threads})
            settings = settings.model_copy(update={"frames": frames})
    job = build_definitions(settings).resolve_job_def(EMBED_JOB)
    place = WorkerPlace(socket.gethostname(), spec.gpu_ids, os.getpid())
    run_config = {"loggers": {"console": {"config": {"log_level": spec.log_level}}}}
    progress = lambda line: results.put(("line", spec.index, line))  # noqa: E731
    with (
        dg.DagsterInstance.get() as instance,
        guarded_runs(instance, pool_wait_s=spec.pool_wait_s, progress=progress) as guard,
    ):
        results.put(("ready", spec.index, None))
        while (key := tasks.get()) is not None:
            if process_start_time(run_pid) is None:  # no new partition for a dead run
                break
            results.put(("took", spec.index, key))
            started = time.perf_counter()
            try:
                run = guard.execute(job, key, run_config=run_config)
            except RunInterrupted as err:  # sent as data: the exceptions do not pickle
                results.put(("interrupted", spec.index, (key, err.signum, err.run_id, err.started)))
                return
            except PoolSlotTimeout as err:
                results.put(("timeout", spec.index, (str(err), err.pool, err.holders, key)))
                return
            outcome = partition_outcome(run, key, time.perf_counter() - started)
            outcome.worker = place.to_dict()
            results.put(("outcome", spec.index, outcome))


@dataclass
class WorkerPool:
    """The parent's side: start the workers, hand out the keys, collect outcomes, pass signals on."""

    specs: list[WorkerSpec]
    keys: list[str]
    progress: Callable[[str], None]
    on_outcome: Callable[[PartitionOutcome], None]
    on_lost: Callable[[str, str], None]  # (key, why) for a partition whose worker died mid-run
    _received: list[int] = field(default_factory=list)

    def run(self) -> None:
        # Forked from a server that imported the heavy modules once (torch, lancedb, Dagster, the asset
        # modules), not spawned: each spawned worker paid those imports again (~5 s of CPU on two cores,
        # more than small partitions repay). The server never touches CUDA, so each worker's
        # CUDA_VISIBLE_DEVICES still applies when its model first asks for a device.
        ctx = warm_worker_server()
        tasks, results = ctx.Queue(), ctx.Queue()
        for key in self.keys:
            tasks.put(key)
        for _ in self.specs:
            tasks.put(None)
        procs = [ctx.Process(target=worker_main, args=(s, tasks, results), daemon=True) for s in self.specs]
        previous = {signum: signal.signal(signum, self._record) for signum in FORWARDED}
        try:
            for proc in procs:
                proc.start()
            self._collect(procs, results)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for proc in procs:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()

    def _record(self, signum: int, _frame: object) -> None:
        self._received.append(signum)

    def _collect(self, procs: list, results: Any) -> None:
        in_flight: dict[int, str] = {}
        stops: list[Exception] = []
        forwarded = done = 0
        while True:
            while forwarded < len(self._received):  # pass each signal on to every live worker
                for proc in procs:
                    if proc.is_alive():
                        os.kill(proc.pid, self._received[forwarded])
                forwarded += 1
            try:
                kind, index, payload = results.get(timeout=POLL_S)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            if kind == "line":
                self.progress(payload)
            elif kind == "took":
                in_flight[index] = payload
            elif kind == "outcome":
                in_flight.pop(index, None)
                done += 1
                self.on_outcome(payload)
            elif kind in ("interrupted", "timeout"):
                in_flight.pop(index, None)
                stops.append(_stop_error(kind, payload))
        for index, key in in_flight.items():  # a worker that died mid-partition (OOM killer, crash)
            done += 1
            code = procs[index].exitcode
            self.on_lost(key, f"the worker running this partition died (exit code {code}); a plain rerun retries it")
        self._raise_stop(stops, procs, done)

    def _raise_stop(self, stops: list[Exception], procs: list, done: int) -> None:
        interrupted = [e for e in stops if isinstance(e, RunInterrupted)]
        if interrupted:
            raise interrupted[0]
        if self._received:
            raise RunInterrupted("", self._received[0], None, started=False)
        if stops:
            raise stops[0]
        if done < len(self.keys):  # every worker gone before the work was: say how they ended
            codes = ", ".join(str(p.exitcode) for p in procs)
            raise RuntimeError(
                f"the workers exited (exit codes {codes}) with {len(self.keys) - done} partition(s) not run; "
                "their videos stay pending and a plain rerun retries them (try --workers 1 to see the error)"
            )


def _stop_error(kind: str, payload: tuple) -> Exception:
    if kind == "interrupted":
        key, signum, run_id, started = payload
        return RunInterrupted(key, signum, run_id, started)
    message, pool, holders, key = payload
    return PoolSlotTimeout(message, pool=pool, holders=holders, partition_key=key)
