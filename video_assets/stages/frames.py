"""frames: decode each video once and keep the frames every clip asks for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from video_assets.media.decode import DecodeOptions
from video_assets.media.errors import VideoReadError
from video_assets.media.frame_codec import decode_jpeg, encode_jpeg
from video_assets.media.frames import ClipExtraction, ClipFrames, FramePolicy, FrameSignature, iter_extract_frames
from video_assets.settings.config import FrameSettings
from video_assets.stages.clips import span_of
from video_assets.stages.parquet_parts import ARRAY_FIELDS, StreamingParquetWriter, array_to_fields, fields_to_array
from video_assets.stages.thumbnails import ThumbnailStrips

FRAMES_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("video_id", pa.string()),
        ("signature", pa.string()),
        ("timestamps", pa.list_(pa.float64())),
        # The frames, (N, H, W, 3) uint8 RGB: storage "raw" fills shape/dtype/data,
        # "jpeg" fills shape/dtype and `jpeg` (one JPEG per frame) and leaves data null.
        *ARRAY_FIELDS,
        ("jpeg", pa.list_(pa.binary())),
    ]
)


def signatures(settings: FrameSettings) -> list[FrameSignature]:
    return [FrameSignature(FramePolicy(p), fps) for p in settings.policies for fps in settings.target_fps]


@dataclass
class FramesSummary:
    clips: int = 0
    frames: int = 0
    storage: str = "raw"
    payload_bytes: int = 0  # frame bytes handed to Parquet (raw arrays or JPEGs), before zstd
    dropped: dict[str, str] = field(default_factory=dict)  # clip_id -> reason
    failed_videos: dict[str, str] = field(default_factory=dict)  # video_id -> reason
    # Samples shown with a neighbouring frame's picture because their own frame gave none
    # (MPEG-4 "not coded" frames, corrupt packets): the total, and per clip / video when > 0.
    repeated_samples: int = 0
    repeated_by_clip: dict[str, int] = field(default_factory=dict)  # clip_id -> samples
    repeated_by_video: dict[str, int] = field(default_factory=dict)  # video_id -> samples
    # Clips whose native frames exceeded frames.max_pixels and were scaled down at decode.
    scaled_from: dict[str, tuple[int, int]] = field(default_factory=dict)  # clip_id -> native (H, W)
    # Videos whose picture size changes midway: every picture was scaled to the first one's (H, W).
    picture_size: dict[str, tuple[int, int]] = field(default_factory=dict)  # video_id -> (H, W) of its frames


def extract_partition_frames(
    clips: pa.Table,
    settings: FrameSettings,
    writer: StreamingParquetWriter,
    frame_signatures: Sequence[FrameSignature] | None = None,
    thumbnails: ThumbnailStrips | None = None,
) -> FramesSummary:
    """Write one row group per clip (a row per signature). Clips that do not decode are
    dropped and named in the summary; the others are kept. `frame_signatures`: what to
    extract (resolved.py adds the models' rates); default frames.policies x target_fps.
    `thumbnails` gets each kept clip's frames while they are in memory (no second decode)."""
    sigs = list(frame_signatures) if frame_signatures is not None else signatures(settings)
    by_video: dict[str, list[dict]] = defaultdict(list)
    for clip in clips.to_pylist():
        by_video[clip["video_id"]].append(clip)
    summary = FramesSummary(storage=settings.storage)
    for video_id, video_clips in by_video.items():
        path = video_clips[0]["source_path"]
        try:
            # Streamed: a clip is written as soon as the decoder has passed it.
            for position, result in iter_extract_frames(
                path,
                [span_of(c) for c in video_clips],
                sigs,
                options=DecodeOptions(
                    backend=settings.backend,
                    num_threads=settings.num_threads,
                    target_res=settings.target_res,
                    max_pixels=settings.max_pixels,
                ),
            ):
                _write_clip(video_clips[position], result, settings, writer, summary, thumbnails)
        except VideoReadError as err:
            summary.failed_videos[video_id] = err.reason
            for clip in video_clips:
                summary.dropped.setdefault(clip["clip_id"], err.reason)
    return summary


def _frame_fields(frames: np.ndarray, settings: FrameSettings) -> dict:
    """The stored columns of one (N, H, W, 3) uint8 array under ``settings.storage``."""
    if settings.storage == "raw":
        return {**array_to_fields(frames), "jpeg": None}
    return {
        "shape": list(frames.shape),
        "dtype": frames.dtype.str,
        "data": None,
        "jpeg": encode_jpeg(frames, quality=settings.jpeg_quality),
    }


def _write_clip(
    clip: dict,
    result: ClipExtraction,
    settings: FrameSettings,
    writer: StreamingParquetWriter,
    summary: FramesSummary,
    thumbnails: ThumbnailStrips | None,
) -> None:
    if result.error is not None or not result.frames:
        summary.dropped[clip["clip_id"]] = result.error or "no frames decoded"
        return
    rows = []
    for key, frames in result.frames.items():
        fields = _frame_fields(frames.frames, settings)
        summary.payload_bytes += len(fields["data"]) if fields["data"] is not None else sum(map(len, fields["jpeg"]))
        rows.append(
            {
                "clip_id": clip["clip_id"],
                "video_id": clip["video_id"],
                "signature": key,
                "timestamps": frames.timestamps.tolist(),
                **fields,
            }
        )
    writer.write(pa.Table.from_pylist(rows, schema=FRAMES_SCHEMA))
    if thumbnails is not None:
        thumbnails.add(clip["clip_id"], result.frames)
    if result.repeated:
        summary.repeated_samples += result.repeated
        summary.repeated_by_clip[clip["clip_id"]] = result.repeated
        video = clip["video_id"]
        summary.repeated_by_video[video] = summary.repeated_by_video.get(video, 0) + result.repeated
    if result.scaled_from is not None:
        summary.scaled_from[clip["clip_id"]] = result.scaled_from
    if result.resized_from and result.frames:
        first = next(iter(result.frames.values())).frames
        summary.picture_size[clip["video_id"]] = (int(first.shape[1]), int(first.shape[2]))
    summary.clips += 1
    summary.frames += sum(len(f.frames) for f in result.frames.values())


def resized_metadata(summary: FramesSummary) -> dict[str, dict[str, str]]:
    """`resized_to_first_picture`: video -> "WxH" its pictures were scaled to (its size changes midway)."""
    if not summary.picture_size:
        return {}
    return {"resized_to_first_picture": {v: f"{w}x{h}" for v, (h, w) in summary.picture_size.items()}}


def row_frames(row: dict) -> np.ndarray:
    """The (N, H, W, 3) uint8 frames of one stored row, whichever storage wrote it."""
    blobs = row["jpeg"]  # null when stored raw
    if blobs is None:
        return fields_to_array(row)
    if np.dtype(row["dtype"]) != np.uint8:
        raise ValueError(f"clip {row['clip_id']}: JPEG frames must be uint8, the row says dtype {row['dtype']}")
    return decode_jpeg(blobs, row["shape"])


def rows_to_clip_frames(group: pa.Table) -> dict[str, dict[str, ClipFrames]]:
    """A row group read back: clip_id -> signature -> frames (JPEG rows decoded)."""
    out: dict[str, dict[str, ClipFrames]] = defaultdict(dict)
    for row in group.to_pylist():
        out[row["clip_id"]][row["signature"]] = ClipFrames(
            frames=row_frames(row), timestamps=np.asarray(row["timestamps"], dtype=np.float64)
        )
    return out
