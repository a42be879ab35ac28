"""Backfilling the real graph (fingerprint model) over generated videos, against a plain loop.

For each ``videos_per_partition``: the plain loop (`dagster_scale_loop`) and the
same partitions through Dagster, either in-process (the CLI runner: one
``execute_in_process`` per partition into a SQLite instance) or queued (the
daemon launching one process per run, `dagster_scale_queued`). Each side gets a
fresh data dir, so both do the same work: probe, clip, frames, tensors, embed,
one LanceDB commit per partition.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster_scale_loop import run_plain_loop
from dagster_scale_queued import QueuedResult, run_queued_backfill, write_queued_home, write_workspace

from video_assets.app.runner import run_folder
from video_assets.catalog.discovery import chunked, scan
from video_assets.catalog.registry import VideoRegistry
from video_assets.media.synthetic import make_video
from video_assets.settings.config import ClippingSettings, Settings

DEFS_FILE = Path(__file__).resolve().parent / "dagster_scale_defs.py"
EXECUTORS = ("in_process", "multiprocess")


def make_videos(
    folder: Path,
    count: int,
    *,
    duration_s: tuple[float, float] = (1.0, 2.0),
    size: tuple[int, int] = (160, 120),
    fps: float = 24.0,
) -> Path:
    """``count`` distinct H.264 videos, durations alternating over ``duration_s``; reused if present."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"video_{i:05d}.mp4"
        if not path.exists():
            make_video(path, duration_s=duration_s[i % len(duration_s)], fps=fps, size=size, seed=i)
    return folder


def bench_settings(input_dir: Path, data_dir: Path, videos_per_partition: int, clip_len_s: float) -> Settings:
    # Fingerprint only, on the CPU: the graph's real steps without a GPU model.
    return Settings(
        input_dir=input_dir,
        data_dir=data_dir,
        enabled_models=("fingerprint",),
        device="cpu",
        videos_per_partition=videos_per_partition,
        clipping=ClippingSettings(clip_len_s=clip_len_s, stride_s=clip_len_s, min_clip_len_s=min(2.0, clip_len_s / 4)),
    )


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass(frozen=True)
class LoopTiming:
    videos_per_partition: int
    partitions: int
    clips: int
    wall_s: float

    videos: int

    @property
    def per_video_s(self) -> float:
        return self.wall_s / self.videos


def time_plain_loop(videos: Path, work: Path, vpp: int, clip_len_s: float) -> LoopTiming:
    settings = bench_settings(videos, _fresh(work / f"loop_vpp{vpp}"), vpp, clip_len_s)
    started = time.perf_counter()
    result = run_plain_loop(settings)
    videos = sum(1 for _ in Path(videos).glob("*.mp4"))
    return LoopTiming(vpp, result.partitions, result.clips, time.perf_counter() - started, videos)


@dataclass(frozen=True)
class InProcessBackfill:
    videos_per_partition: int
    runs: int
    failed: int
    wall_s: float
    runs_per_s: float
    median_run_s: float
    loop_wall_s: float
    events_per_run: float  # entries each run wrote to the instance's event log (each a storage write)

    @property
    def ratio(self) -> float:
        return self.wall_s / self.loop_wall_s

    @property
    def overhead_per_run_s(self) -> float:
        return (self.wall_s - self.loop_wall_s) / self.runs


def events_per_run(instance: dg.DagsterInstance) -> float:
    """Mean number of event-log entries per run in ``instance`` (read after the timing)."""
    run_ids = [record.dagster_run.run_id for record in instance.get_run_records()]
    if not run_ids:
        return 0.0
    return sum(len(instance.all_logs(run_id)) for run_id in run_ids) / len(run_ids)


def time_inprocess_backfill(
    videos: Path, work: Path, vpp: int, loop: LoopTiming, clip_len_s: float
) -> InProcessBackfill:
    """The CLI runner: register, add partitions (chunked), one execute_in_process per partition."""
    settings = bench_settings(videos, _fresh(work / f"dagster_vpp{vpp}"), vpp, clip_len_s)
    os.environ["DAGSTER_HOME"] = str(_fresh(work / f"home_vpp{vpp}"))
    started = time.perf_counter()
    summary = run_folder(settings, progress=lambda _line: None)
    wall = time.perf_counter() - started
    runs = len(summary.partitions)
    with dg.DagsterInstance.get() as instance:
        events = events_per_run(instance)
    return InProcessBackfill(
        videos_per_partition=vpp,
        runs=runs,
        failed=len(summary.failed),
        wall_s=wall,
        runs_per_s=runs / wall,
        median_run_s=statistics.median(p.seconds for p in summary.partitions),
        loop_wall_s=loop.wall_s,
        events_per_run=events,
    )


@dataclass(frozen=True)
class QueuedBackfill:
    videos_per_partition: int
    executor: str
    queued: QueuedResult
    loop_wall_s: float

    @property
    def wall_s(self) -> float:
        # What a user waits for: submitting (code load + enqueue) and the daemon draining the queue.
        return self.queued.submit_s + self.queued.drain_s

    @property
    def fixed_s(self) -> float:
        # Paid once per backfill: the CLI loading the code location, the daemon starting up.
        return self.queued.submit_s + self.queued.drain_s - self.queued.span_s

    @property
    def ratio(self) -> float:
        return self.wall_s / self.loop_wall_s

    @property
    def overhead_per_run_s(self) -> float:
        # Steady state (first run started -> last finished) beyond the loop's time, per run.
        return (self.queued.span_s - self.loop_wall_s) / self.queued.runs


def time_queued_backfill(
    videos: Path, work: Path, vpp: int, loop: LoopTiming, clip_len_s: float, *, executor: str, max_concurrent_runs: int
) -> QueuedBackfill:
    """The same partitions as queued runs drained by `dagster-daemon` (one process per run;
    with ``executor="multiprocess"`` also one process per step)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    name = f"queued_{executor}_vpp{vpp}"
    settings = bench_settings(videos, _fresh(work / name), vpp, clip_len_s)
    home = write_queued_home(_fresh(work / f"{name}_home"), max_concurrent_runs)
    settings_path = settings.data_dir / "settings.json"
    settings_path.write_text(settings.model_dump_json())
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    scan(settings, registry, seal_partial=True)
    keys = registry.partition_keys()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for part in chunked(keys):
            instance.add_dynamic_partitions("videos", part)
    workspace = write_workspace(work / f"{name}_workspace.yaml", DEFS_FILE, f"defs_{executor}")
    # The definitions are built from VIDEO_ASSETS_SETTINGS in every run worker.
    queued = run_queued_backfill(
        home, workspace, "embed_videos", keys, env={"VIDEO_ASSETS_SETTINGS": str(settings_path)}
    )
    if queued.failed:
        raise RuntimeError(f"{queued.failed} queued runs failed; see {home}")
    return QueuedBackfill(vpp, executor, queued, loop.wall_s)


def describe(result: object) -> dict:
    """A flat dict of a result with its derived figures (for the JSON output)."""
    out = {k: v for k, v in vars(result).items() if not isinstance(v, QueuedResult)}
    if isinstance(result, QueuedBackfill):
        out.update(vars(result.queued))
    for name in ("ratio", "overhead_per_run_s", "wall_s", "fixed_s", "per_video_s"):
        if hasattr(type(result), name):
            out[name] = getattr(result, name)
    return json.loads(json.dumps(out, default=str))
