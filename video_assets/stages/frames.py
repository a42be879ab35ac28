"""frames: decode each video once and keep the frames every clip asks for."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from video_assets.config import FrameSettings
from video_assets.media.errors import VideoReadError
from video_assets.media.frames import ClipExtraction, ClipFrames, FramePolicy, FrameSignature, iter_extract_frames
from video_assets.parquet_parts import ARRAY_FIELDS, StreamingParquetWriter, array_to_fields, fields_to_array
from video_assets.stages.clips import span_of

FRAMES_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("video_id", pa.string()),
        ("signature", pa.string()),
        ("timestamps", pa.list_(pa.float64())),
        *ARRAY_FIELDS,  # the frames, (N, H, W, 3) uint8 RGB
    ]
)


def signatures(settings: FrameSettings) -> list[FrameSignature]:
    return [FrameSignature(FramePolicy(p), fps) for p in settings.policies for fps in settings.target_fps]


@dataclass
class FramesSummary:
    clips: int = 0
    frames: int = 0
    dropped: dict[str, str] = field(default_factory=dict)  # clip_id -> reason
    failed_videos: dict[str, str] = field(default_factory=dict)  # video_id -> reason


def extract_partition_frames(clips: pa.Table, settings: FrameSettings, writer: StreamingParquetWriter) -> FramesSummary:
    """Write one row group per clip (a row per signature). Clips that do not decode are
    dropped and named in the summary; the others are kept."""
    sigs = signatures(settings)
    by_video: dict[str, list[dict]] = defaultdict(list)
    for clip in clips.to_pylist():
        by_video[clip["video_id"]].append(clip)
    summary = FramesSummary()
    for video_id, video_clips in by_video.items():
        path = video_clips[0]["source_path"]
        try:
            # Streamed: a clip is written as soon as the decoder has passed it.
            for position, result in iter_extract_frames(
                path,
                [span_of(c) for c in video_clips],
                sigs,
                target_res=settings.target_res,
                backend=settings.backend,
                num_threads=settings.num_threads,
            ):
                _write_clip(video_clips[position], result, writer, summary)
        except VideoReadError as err:
            summary.failed_videos[video_id] = err.reason
            for clip in video_clips:
                summary.dropped.setdefault(clip["clip_id"], err.reason)
    return summary


def _write_clip(clip: dict, result: ClipExtraction, writer: StreamingParquetWriter, summary: FramesSummary) -> None:
    if result.error is not None or not result.frames:
        summary.dropped[clip["clip_id"]] = result.error or "no frames decoded"
        return
    rows = [
        {
            "clip_id": clip["clip_id"],
            "video_id": clip["video_id"],
            "signature": key,
            "timestamps": frames.timestamps.tolist(),
            **array_to_fields(frames.frames),
        }
        for key, frames in result.frames.items()
    ]
    writer.write(pa.Table.from_pylist(rows, schema=FRAMES_SCHEMA))
    summary.clips += 1
    summary.frames += sum(len(f.frames) for f in result.frames.values())


def rows_to_clip_frames(group: pa.Table) -> dict[str, dict[str, ClipFrames]]:
    """A row group read back: clip_id -> signature -> frames."""
    out: dict[str, dict[str, ClipFrames]] = defaultdict(dict)
    for row in group.to_pylist():
        out[row["clip_id"]][row["signature"]] = ClipFrames(
            frames=fields_to_array(row), timestamps=np.asarray(row["timestamps"], dtype=np.float64)
        )
    return out
