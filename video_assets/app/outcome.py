"""What a run did: one outcome per partition, and the run's summary over the whole registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from video_assets.catalog.discovery import ScanResult
from video_assets.catalog.input_walk import SkippedInput
from video_assets.catalog.ledger import VideoAccount
from video_assets.catalog.registry import STATUSES, VideoRecord, VideoRegistry


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
            missing=[v for v in everyone if v.status == "missing"],
            registered={status: sum(v.status == status for v in everyone) for status in STATUSES},
            input_dir=input_dir,
        )

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
