"""source_videos: probe every video of a partition; bad files fail alone."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyarrow as pa

from video_assets.catalog.registry import VideoRecord, VideoRegistry
from video_assets.media.errors import VideoReadError
from video_assets.media.probe import probe

SOURCE_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("partition_key", pa.string()),
        ("rel_path", pa.string()),
        ("path", pa.string()),
        ("container", pa.string()),
        ("codec", pa.string()),
        ("pix_fmt", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("rotation", pa.int32()),
        ("avg_fps", pa.float64()),
        ("real_fps", pa.float64()),
        ("num_frames", pa.int64()),
        ("duration_s", pa.float64()),
        ("bit_rate", pa.int64()),
        ("has_audio", pa.bool_()),
        ("size_bytes", pa.int64()),
        ("sha256", pa.string()),
    ]
)


@dataclass(frozen=True)
class VideoFailure:
    video_id: str
    path: str
    reason: str


@dataclass(frozen=True)
class ProbeOutcome:
    table: pa.Table  # one row per readable video
    failures: list[VideoFailure]

    @property
    def data_version(self) -> str:
        """The content hash of the partition: sha256 for one video, a hash of them for a batch."""
        hashes = sorted(self.table.column("sha256").to_pylist())
        if len(hashes) == 1:
            return hashes[0]
        return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def probe_partition(videos: list[VideoRecord], registry: VideoRegistry) -> ProbeOutcome:
    """Probe each video, record its hash (or its failure) in the registry, return the readable ones."""
    rows, failures = [], []
    for video in videos:
        if video.status == "missing":
            failures.append(VideoFailure(video.video_id, video.abs_path, "file no longer in the input directory"))
            continue
        try:
            info = probe(video.abs_path)
        except VideoReadError as err:
            registry.mark(video.video_id, "failed", error=str(err))
            failures.append(VideoFailure(video.video_id, video.abs_path, err.reason))
            continue
        # Not "done": that is the ledger's word once every model's index rows landed.
        registry.record_probe(video.video_id, info.sha256)
        row = info.to_dict()
        row.update(video_id=video.video_id, partition_key=video.partition_key, rel_path=video.rel_path, path=info.path)
        rows.append({name: row.get(name) for name in SOURCE_SCHEMA.names})
    return ProbeOutcome(pa.Table.from_pylist(rows, schema=SOURCE_SCHEMA), failures)
