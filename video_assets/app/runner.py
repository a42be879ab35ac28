"""Run the graph through Dagster for every partition of an input folder (the CLI's `run`).

The runs go into a real Dagster instance (SQLite under DAGSTER_HOME), with the
same definitions the UI loads, so everything done here shows in `dagster dev`.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from video_assets.app.guard import guarded_runs
from video_assets.app.instance_home import dagster_home
from video_assets.app.local_workers import WorkerPool, WorkerSpec, widen_gpu_pool
from video_assets.app.outcome import PartitionOutcome, RunSummary, partition_outcome
from video_assets.app.report import partition_lines
from video_assets.catalog.discovery import ScanResult, chunked, scan
from video_assets.catalog.folder_overlap import check_folders
from video_assets.catalog.ledger import VideoLedger
from video_assets.catalog.partition_ledger import close_partition, open_partition, rehash_videos
from video_assets.catalog.registry import SETTLED, VideoRegistry
from video_assets.catalog.shown_names import escape_name
from video_assets.index.connection import connect
from video_assets.media.pyav_container import hides_leading_frames
from video_assets.models.hub import ModelHub
from video_assets.models.weights_preflight import preflight_weights
from video_assets.orchestration.assets.partitions import videos_partitions
from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
from video_assets.settings.config import Settings
from video_assets.stages.engines.base import EngineError
from video_assets.stages.engines.factory import engine_for
from video_assets.stages.index_audit import reopen_short_videos
from video_assets.stages.resolved import Resolved, resolve
from video_assets.stages.workers import WorkerSlots, machine_slots, usable_cores


class RunRefused(ValueError):
    """The run cannot start (weights absent, unknown model): nothing was run."""


def write_settings(settings: Settings) -> Path:
    """Persist the settings so `dagster dev` (VIDEO_ASSETS_SETTINGS) loads the same graph."""
    path = settings.paths.settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # a full disk leaves the old file, not half a new one
    try:
        tmp.write_text(settings.model_dump_json(indent=2))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def run_folder(
    settings: Settings,
    *,
    rerun_all: bool = False,
    rehash: bool = False,
    workers: int | None = 1,
    pool_wait_s: float | None = None,
    models_option: str | None = None,
    log_level: str = "CRITICAL",
    progress: Callable[[str], None] = print,
    on_start: Callable[[int], None] | None = None,
    on_partition: Callable[[PartitionOutcome], None] | None = None,
) -> RunSummary:
    """Register the folder's videos, add their partitions, and materialize every partition
    holding a video that is not done (all of them with ``rerun_all``), `workers` at once
    (None: as many as the machine can feed, `stages.workers.machine_slots`).

    A video is done only when every enabled model's index rows for its current content
    and settings landed (catalog/ledger.py); failed, killed and interrupted videos are not, so
    a plain rerun finishes the job. `models_option`: the command-line option that chose the
    enabled models, if one did (named in the refusal for absent weights).
    """
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    progress = one_line(progress)  # file names in every line escaped (shown_names)
    settings = settings.anchored()
    check_folders(settings.input_dir, settings.data_dir)  # before anything is written in either
    progress("checking model weights...")
    # Once, before any partition: absent weights would otherwise fail every partition in turn.
    problems = preflight_weights(settings, models_option=models_option)
    if problems:
        raise RunRefused("\n".join(str(p) for p in problems))
    home = dagster_home()
    settings_path = write_settings(settings)
    registry = VideoRegistry(settings.paths.registry)
    progress(f"scanning {settings.input_dir}...")
    result = scan_and_report(settings, registry, rehash=rehash, progress=progress)
    resolved = resolve(settings)
    ledger = VideoLedger(registry)
    reopen_what_changed(settings, ledger, resolved.required_index_versions, progress)
    videos = [v for v in registry.all() if v.partition_key and v.status != "missing"]
    keys = sorted({v.partition_key for v in videos if rerun_all or v.status not in ("done", SETTLED)})
    outcomes: list[PartitionOutcome] = []

    def settle(outcome: PartitionOutcome) -> None:
        outcome.videos = close_partition(ledger, outcome.key, outcome.errors)
        outcomes.append(outcome)
        for line in partition_lines(outcome, len(outcomes), len(keys)):
            progress(line)
        if on_partition is not None:
            on_partition(outcome)

    if keys:  # nothing to run needs no cluster
        start_engine(resolved)
    slots = machine_slots(resolved.models)
    workers = min(slots.workers if workers is None else workers, max(1, len(keys)))
    if settings.execution.engine != "local":
        workers = 1  # the engine spreads the heavy work; one process hands it partitions
    with dg.DagsterInstance.get() as instance:
        add_partitions(instance, registry.partition_keys())
        uses_gpu = bool(slots.gpus) and any(plan.pool == "gpu" for plan in resolved.models)
        if (widened := widen_gpu_pool(instance, workers, uses_gpu)) is not None:
            progress(f"pool gpu: {widened} slots, one per worker")
    progress(f"{len(keys)} partition(s) to run" + (": loading models and starting Dagster runs..." if keys else ""))
    if on_start is not None:  # e.g. app.progress.RunProgress: a bar over the partitions
        on_start(len(keys))
    # The console shows progress lines; every event is still in the instance (UI).
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if workers > 1:
        for key in keys:
            open_partition(registry, key)
        specs = worker_specs(settings, slots, workers, home, pool_wait_s, log_level)
        lost = lambda key, why: settle(PartitionOutcome(key, False, 0.0, errors=[why]))  # noqa: E731
        WorkerPool(specs, keys, progress, settle, lost).run()
    else:
        run_in_process(resolved, keys, registry, pool_wait_s, run_config, progress, settle)
    return RunSummary.after(outcomes, home, settings_path, registry, result, settings.input_dir)


def worker_specs(
    settings: Settings, slots: WorkerSlots, workers: int, home: Path, pool_wait_s: float | None, log_level: str
) -> list[WorkerSpec]:
    """What each of `workers` worker processes starts from: its GPUs and its share of the cores."""
    threads = max(1, usable_cores() // workers)
    return [
        WorkerSpec(
            i, slots.gpu_ids(i), settings.model_dump_json(), str(home), pool_wait_s, log_level, threads, os.getpid()
        )
        for i in range(workers)
    ]


def run_in_process(
    resolved: Resolved,
    keys: list[str],
    registry: VideoRegistry,
    pool_wait_s: float | None,
    run_config: dict,
    progress: Callable[[str], None],
    settle: Callable[[PartitionOutcome], None],
) -> None:
    """One partition after another in this process (one worker): models load once and stay cached."""
    # The GPUs a model that asks for one uses here (`device: auto` is the first); none on CPU.
    place = {"node": socket.gethostname(), "gpu_ids": machine_slots(resolved.models).gpu_ids(0), "pid": os.getpid()}
    # guarded_runs: dead runs' slots freed first, no endless wait on a pool slot, and
    # SIGINT/SIGTERM stop the loop with RunInterrupted (the CLI exits 128 + signal).
    with (
        dg.DagsterInstance.get() as instance,
        guarded_runs(instance, pool_wait_s=pool_wait_s, progress=progress) as guard,
    ):
        job = build_definitions(resolved).resolve_job_def(EMBED_JOB)
        for key in keys:
            open_partition(registry, key)
            started = time.perf_counter()
            run = guard.execute(job, key, run_config=run_config)
            outcome = partition_outcome(run, key, time.perf_counter() - started)
            outcome.worker = place
            settle(outcome)


def start_engine(resolved: Resolved) -> None:
    """Before any partition: connect to the engine and start its model workers, so an unreachable
    cluster or a request it can never meet refuses the run once, naming the cause."""
    settings = resolved.settings
    try:
        engine = engine_for(settings.execution)
        engine.prepare(list(resolved.models), ModelHub(settings.paths.model_dir), settings.device, settings.dtype)
    except (EngineError, ImportError) as err:
        raise RunRefused(str(err)) from err


def reopen_what_changed(
    settings: Settings, ledger: VideoLedger, required: dict[str, str], progress: Callable[[str], None]
) -> None:
    """Done videos that are no longer done: a model or setting changed, an MP4 edit list now read on the
    player's timeline, or rows that are not in the table as the ledger recorded them (a lost manifest)."""
    for video_id in ledger.reopen_unfinished(required):
        progress(f"to redo: {video_id} (a model or setting changed since it was indexed)")
    for video_id in ledger.reopen_edit_listed(hides_leading_frames):
        progress(f"to redo: {video_id} (an MP4 edit list: its clips now follow the player's timeline)")
    for short in reopen_short_videos(connect(settings.paths.lancedb_uri), ledger, list(required)):
        progress(short.line())  # done, but its rows are not in the table as landed: redone


def one_line(progress: Callable[[str], None]) -> Callable[[str], None]:
    """`progress` given each line with control characters and undecodable bytes escaped."""
    return lambda line: progress(escape_name(line))


def scan_and_report(
    settings: Settings, registry: VideoRegistry, *, rehash: bool, progress: Callable[[str], None]
) -> ScanResult:
    """Register what is new in the input folder, mark what is gone, and say so (with `rehash`, also
    what changed under the same size and mtime)."""
    result = scan(settings, registry, seal_partial=True)
    for video in result.missing:
        progress(f"missing: {video.rel_path} is gone from the input folder (run the remove_videos job to drop it)")
    for skipped in result.skipped:
        progress(f"skipped: {skipped.path}: {skipped.reason}")
    if rehash:
        for video in rehash_videos(registry, progress):
            progress(f"changed: {video.rel_path} has new content under the same size and mtime; it will be redone")
    return result


def add_partitions(instance: dg.DagsterInstance, keys: list[str]) -> None:
    """Add the registry's partition keys the instance does not know yet, in chunks."""
    known = set(instance.get_dynamic_partitions(videos_partitions.name))
    for chunk in chunked([k for k in keys if k not in known]):
        instance.add_dynamic_partitions(videos_partitions.name, chunk)
