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

from video_assets.config import Settings
from video_assets.discovery import chunked, scan
from video_assets.registry import VideoRegistry

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


@dataclass
class PartitionOutcome:
    key: str
    success: bool
    seconds: float
    metadata: dict[str, dict] = field(default_factory=dict)  # asset -> metadata values
    errors: list[str] = field(default_factory=list)


@dataclass
class RunSummary:
    partitions: list[PartitionOutcome]
    dagster_home: Path
    settings_path: Path

    @property
    def failed(self) -> list[PartitionOutcome]:
        return [p for p in self.partitions if not p.success]

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
    path = settings.data_dir / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings.model_dump_json(indent=2))
    return path


def run_folder(
    settings: Settings,
    *,
    rerun_all: bool = False,
    log_level: str = "CRITICAL",
    progress: Callable[[str], None] = print,
) -> RunSummary:
    """Register the folder's videos, add their partitions, and materialize each partition."""
    from video_assets.definitions import EMBED_JOB, build_definitions

    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve(), "input_dir": settings.input_dir.resolve()})
    home = dagster_home()
    settings_path = write_settings(settings)
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    result = scan(settings, registry, seal_partial=True)
    for video in result.missing:
        progress(f"missing: {video.rel_path} is gone from the input folder (run the remove_videos job to drop it)")
    videos = [v for v in registry.all() if v.partition_key and v.status != "missing"]
    keys = sorted({v.partition_key for v in videos if rerun_all or v.status in ("pending", "failed")})
    with dg.DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions("videos"))
        for chunk in chunked([k for k in registry.partition_keys() if k not in known]):
            instance.add_dynamic_partitions("videos", chunk)
        job = build_definitions(settings).resolve_job_def(EMBED_JOB)
        outcomes = []
        for n, key in enumerate(keys, 1):
            started = time.perf_counter()
            run = job.execute_in_process(
                partition_key=key,
                instance=instance,
                raise_on_error=False,
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
            outcomes.append(outcome)
            state = "ok" if outcome.success else "FAILED"
            clips = outcome.metadata.get("clips", {}).get("clips", 0)
            note = ""
            if outcome.success and clips == 0:
                seconds = outcome.metadata.get("source_videos", {}).get("duration_s", 0.0)
                note = f"; {seconds:.2f} s of video, shorter than the {settings.clipping.min_clip_len_s} s minimum clip"
            progress(f"[{n}/{len(keys)}] {key}: {state} ({clips} clips, {outcome.seconds:.1f} s{note})")
            for err in outcome.errors:
                progress(f"    {err}")
            for failure in outcome.metadata.get("source_videos", {}).get("failures", []):
                progress(f"    bad video skipped in this batch: {failure}")  # the batch itself went on
    return RunSummary(outcomes, home, settings_path)


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
