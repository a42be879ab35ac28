"""Run the graph through Dagster for every partition of an input folder (the CLI's `run`).

The runs go into a real Dagster instance (SQLite under DAGSTER_HOME), with the
same definitions the UI loads, so everything done here shows in `dagster dev`.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from video_assets.assets.partitions import videos_partitions
from video_assets.config import Settings
from video_assets.discovery import chunked, scan
from video_assets.engines.base import EngineError
from video_assets.engines.factory import engine_for
from video_assets.input_walk import SkippedInput
from video_assets.ledger import VideoAccount, VideoLedger
from video_assets.models.hub import ModelHub
from video_assets.models.weights_preflight import preflight_weights
from video_assets.resolved import Resolved, resolve
from video_assets.run_guard import guarded_runs
from video_assets.run_ledger import close_partition, open_partition, partition_lines, rehash_videos
from video_assets.video_registry import STATUSES, VideoRecord, VideoRegistry

# The single-machine instance settings (pools of one, run monitoring), shipped with the package.
PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent / "dagster_instance.yaml"


class RunRefused(ValueError):
    """The run cannot start (weights absent, unknown model): nothing was run."""


@dataclass
class PartitionOutcome:
    key: str
    success: bool
    seconds: float
    metadata: dict[str, dict] = field(default_factory=dict)  # asset -> metadata values
    errors: list[str] = field(default_factory=list)
    videos: list[VideoAccount] = field(default_factory=list)  # the ledger after the run


@dataclass
class RunSummary:
    partitions: list[PartitionOutcome]
    dagster_home: Path
    settings_path: Path
    failed_videos: list[VideoRecord] = field(default_factory=list)  # every failed video after the run
    pending_videos: list[VideoRecord] = field(default_factory=list)  # not done, not failed (interrupted)
    skipped_inputs: list[SkippedInput] = field(default_factory=list)
    other_extensions: dict[str, int] = field(default_factory=dict)
    missing: list[VideoRecord] = field(default_factory=list)
    registered: dict[str, int] = field(default_factory=dict)  # the whole registry after the run: status -> videos
    input_dir: Path | None = None

    @property
    def no_videos(self) -> bool:
        """The input folder holds no video file (every registered one, if any, is missing)."""
        return not any(n for status, n in self.registered.items() if status != "missing")

    @property
    def failed(self) -> list[PartitionOutcome]:
        return [p for p in self.partitions if not p.success]

    @property
    def videos(self) -> list[VideoAccount]:
        return [v for p in self.partitions for v in p.videos]

    @property
    def complete(self) -> bool:
        """Every registered video is in the index: what a zero exit code promises."""
        return not self.failed_videos and not self.pending_videos

    def total(self, asset: str, key: str) -> int:
        return sum(int(p.metadata.get(asset, {}).get(key, 0) or 0) for p in self.partitions)


def dagster_home() -> Path:
    """$DAGSTER_HOME, else ./.dagster: persistent, so partitions and pool limits survive."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and PROJECT_DAGSTER_YAML.exists():
        shutil.copy(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def write_settings(settings: Settings) -> Path:
    """Persist the settings so `dagster dev` (VIDEO_ASSETS_SETTINGS) loads the same graph."""
    path = settings.paths.settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings.model_dump_json(indent=2))
    return path


def run_folder(
    settings: Settings,
    *,
    rerun_all: bool = False,
    rehash: bool = False,
    pool_wait_s: float | None = None,
    models_option: str | None = None,
    log_level: str = "CRITICAL",
    progress: Callable[[str], None] = print,
    on_start: Callable[[int], None] | None = None,
    on_partition: Callable[[PartitionOutcome], None] | None = None,
) -> RunSummary:
    """Register the folder's videos, add their partitions, and materialize every partition
    holding a video that is not done (all of them with ``rerun_all``).

    A video is done only when every enabled model's index rows for its current content
    and settings landed (ledger.py); failed, killed and interrupted videos are not, so
    a plain rerun finishes the job. `models_option`: the command-line option that chose the
    enabled models, if one did (named in the refusal for absent weights).
    """
    from video_assets.definitions import EMBED_JOB, build_definitions

    settings = settings.model_copy(
        update={"data_dir": settings.data_dir.resolve(), "input_dir": settings.input_dir.resolve()}
    )
    # Once, before any partition: absent weights would otherwise fail every partition in turn.
    problems = preflight_weights(settings, models_option=models_option)
    if problems:
        raise RunRefused("\n".join(str(p) for p in problems))
    home = dagster_home()
    settings_path = write_settings(settings)
    registry = VideoRegistry(settings.paths.registry)
    ledger = VideoLedger(registry)
    result = scan(settings, registry, seal_partial=True)
    for video in result.missing:
        progress(f"missing: {video.rel_path} is gone from the input folder (run the remove_videos job to drop it)")
    for skipped in result.skipped:
        progress(f"skipped: {skipped.path}: {skipped.reason}")
    if rehash:
        for video in rehash_videos(registry, progress):
            progress(f"changed: {video.rel_path} has new content under the same size and mtime; it will be redone")
    resolved = resolve(settings)
    definitions = build_definitions(resolved)
    required = resolved.required_index_versions
    for video_id in ledger.reopen_unfinished(required):
        progress(f"to redo: {video_id} (a model or setting changed since it was indexed)")
    videos = [v for v in registry.all() if v.partition_key and v.status != "missing"]
    keys = sorted({v.partition_key for v in videos if rerun_all or v.status != "done"})
    if keys:  # nothing to run needs no cluster
        start_engine(resolved)
    # guarded_runs: dead runs' slots freed first, no endless wait on a pool slot, and
    # SIGINT/SIGTERM stop the loop with RunInterrupted (the CLI exits 128 + signal).
    with (
        dg.DagsterInstance.get() as instance,
        guarded_runs(instance, pool_wait_s=pool_wait_s, progress=progress) as guard,
    ):
        known = set(instance.get_dynamic_partitions(videos_partitions.name))
        for chunk in chunked([k for k in registry.partition_keys() if k not in known]):
            instance.add_dynamic_partitions(videos_partitions.name, chunk)
        job = definitions.resolve_job_def(EMBED_JOB)
        outcomes = []
        if on_start is not None:  # e.g. run_progress.RunProgress: a bar over the partitions
            on_start(len(keys))
        for n, key in enumerate(keys, 1):
            open_partition(registry, key)
            started = time.perf_counter()
            run = guard.execute(
                job,
                key,
                # The console shows progress lines; every event is still in the instance (UI).
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            )
            outcome = PartitionOutcome(key, run.success, time.perf_counter() - started)
            for event in run.all_events:
                if event.is_step_materialization:
                    mat = event.step_materialization_data.materialization
                    outcome.metadata[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
                elif event.is_step_failure:
                    error = event.step_failure_data.error
                    outcome.errors.append(f"{event.step_key}: {_error_text(error)}")
                elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                    check = event.event_specific_data
                    if not check.passed:  # its problems, ahead of the bare "check failed"
                        problems = check.metadata.get("problems")
                        detail = "; ".join(problems.value[:3]) if problems is not None else "see the UI"
                        outcome.errors.insert(0, f"check {check.check_name} failed: {detail}")
            outcome.videos = close_partition(ledger, key, outcome.errors)
            outcomes.append(outcome)
            for line in partition_lines(outcome, n, len(keys)):
                progress(line)
            if on_partition is not None:
                on_partition(outcome)
    everyone = registry.all()
    return RunSummary(
        outcomes,
        home,
        settings_path,
        failed_videos=[v for v in everyone if v.status == "failed"],
        pending_videos=[v for v in everyone if v.status == "pending" and v.partition_key],
        skipped_inputs=result.skipped,
        other_extensions=result.other_extensions,
        missing=[v for v in everyone if v.status == "missing"],
        registered={status: sum(v.status == status for v in everyone) for status in STATUSES},
        input_dir=settings.input_dir,
    )


def start_engine(resolved: Resolved) -> None:
    """Before any partition: connect to the engine and start its model workers, so an unreachable
    cluster or a request it can never meet refuses the run once, naming the cause."""
    settings = resolved.settings
    try:
        engine = engine_for(settings.execution)
        engine.prepare(list(resolved.models), ModelHub(settings.paths.model_dir), settings.device, settings.dtype)
    except (EngineError, ImportError) as err:
        raise RunRefused(str(err)) from err


def _error_text(error: object) -> str:
    # A dg.Failure keeps its description in the message; the cause chain carries library errors.
    message = getattr(error, "message", str(error)).strip()
    cause = getattr(error, "cause", None)
    while cause is not None:
        message = getattr(cause, "message", str(cause)).strip()
        cause = getattr(cause, "cause", None)
    last = message.splitlines()[-1] if message else "unknown error"
    # "dagster._core.definitions.events.Failure: <what went wrong>" -> "<what went wrong>"
    return re.sub(r"^[\w.]+(Error|Failure|Exception): ", "", last)
