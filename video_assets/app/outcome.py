"""What a run did: one outcome per partition, and the run's summary over the whole registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from video_assets.catalog.discovery import ScanResult
from video_assets.catalog.input_walk import SkippedInput
from video_assets.catalog.ledger import VideoAccount
from video_assets.catalog.registry import SETTLED, STATUSES, VideoRecord, VideoRegistry
from video_assets.orchestration.errors import step_error_text
from video_assets.stages.removal import is_removed


def registry_counts(videos: list[VideoRecord]) -> dict[str, int]:
    """Videos per status, those `remove` dropped counted as "removed" rather than "missing"."""
    counts = {status: sum(v.status == status and not is_removed(v) for v in videos) for status in STATUSES}
    return {**counts, "removed": sum(is_removed(v) for v in videos)}


@dataclass
class PartitionOutcome:
    key: str
    success: bool
    seconds: float
    metadata: dict[str, dict] = field(default_factory=dict)  # asset -> metadata values
    errors: list[str] = field(default_factory=list)
    videos: list[VideoAccount] = field(default_factory=list)  # the ledger after the run
    worker: dict | None = None  # where it ran: {"node", "gpu_ids", "pid"} (run --json)


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
    settled: list[VideoRecord] = field(default_factory=list)  # failed, settled by the user: not retried
    input_dir: Path | None = None

    @classmethod
    def after(
        cls,
        partitions: list[PartitionOutcome],
        dagster_home: Path,
        settings_path: Path,
        registry: VideoRegistry,
        scan: ScanResult,
        input_dir: Path,
    ) -> RunSummary:
        """The summary of a run that ran these partitions: the registry as it is now, and what the scan found."""
        everyone = registry.all()
        return cls(
            partitions,
            dagster_home,
            settings_path,
            failed_videos=[v for v in everyone if v.status == "failed"],
            pending_videos=[v for v in everyone if v.status == "pending" and v.partition_key],
            skipped_inputs=scan.skipped,
            other_extensions=scan.other_extensions,
            # A video `remove` dropped is settled: no MISSING line for it in every later run.
            missing=[v for v in everyone if v.status == "missing" and not is_removed(v)],
            settled=[v for v in everyone if v.status == SETTLED],
            registered=registry_counts(everyone),
            input_dir=input_dir,
        )

    @property
    def no_videos(self) -> bool:
        """The input folder holds no video file (every registered one, if any, is missing)."""
        return not any(n for status, n in self.registered.items() if status not in ("missing", "removed"))

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

    @property
    def workers(self) -> dict[str, dict]:
        """video id -> where its partition ran this time ({"node", "gpu_ids", "pid"})."""
        return {v.video_id: p.worker for p in self.partitions if p.worker for v in p.videos}

    @property
    def videos_per_node(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for place in self.workers.values():
            counts[place["node"]] = counts.get(place["node"], 0) + 1
        return counts

    def total(self, asset: str, key: str) -> int:
        return sum(int(p.metadata.get(asset, {}).get(key, 0) or 0) for p in self.partitions)


def partition_outcome(run: dg.ExecuteInProcessResult, key: str, seconds: float) -> PartitionOutcome:
    """What one partition's run did: each asset's metadata, and its errors (failed checks first)."""
    outcome = PartitionOutcome(key, run.success, seconds)
    for event in run.all_events:
        if event.is_step_materialization:
            mat = event.step_materialization_data.materialization
            outcome.metadata[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
        elif event.is_step_failure:
            outcome.errors.append(f"{event.step_key}: {step_error_text(event.step_failure_data.error)}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            if not check.passed:  # its problems, ahead of the bare "check failed"
                problems = check.metadata.get("problems")
                detail = "; ".join(problems.value[:3]) if problems is not None else "see the UI"
                outcome.errors.insert(0, f"check {check.check_name} failed: {detail}")
    return outcome
