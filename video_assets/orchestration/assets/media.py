"""source_videos -> clips -> frames: the media half of the graph (thin: calls stages/).

Each asset writes its partition through the IO manager and reads its upstream
partition through ``deps`` + `StorageResource.upstream` (same files, same lineage,
two fewer instance events per input: see `StorageResource.upstream`).
"""

import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from video_assets.catalog.ledger import VideoLedger
from video_assets.media.frames import FrameSignature
from video_assets.orchestration.assets.failure_report import (
    STATUS_COLUMNS,
    failed_videos_table,
    failure_observation,
    partition_failure,
    video_status_rows,
)
from video_assets.orchestration.assets.metadata import (
    checked_result,
    clip_table_entries,
    column_schema,
    megabytes,
    one_or_list,
    rows_table,
    seconds,
)
from video_assets.orchestration.assets.partitions import partitioned_asset
from video_assets.orchestration.resources.execution import ExecutionResource, engine_failure
from video_assets.orchestration.resources.storage import StorageResource
from video_assets.settings.config import FrameSettings
from video_assets.stages.checks import check_clips, check_frame_counts, check_probes, check_unique_ids
from video_assets.stages.clip_report import frames_clip_rows, source_rows, span_label
from video_assets.stages.clips import CLIP_SCHEMA, clip_plans, plan_clips
from video_assets.stages.engines.base import FramesJob
from video_assets.stages.frames import FRAMES_SCHEMA, FramesSummary, resized_metadata
from video_assets.stages.parquet_parts import ParquetPart
from video_assets.stages.resolved import Resolved
from video_assets.stages.sources import SOURCE_SCHEMA, probe_partition
from video_assets.stages.thumbnails import ThumbnailStrips, strips_markdown, write_strips

# Shared by the three media assets: one partition per video (or batch), one group.
media_asset = partial(partitioned_asset, group="media", code_version="1", kinds={"video"})

# Column descriptions of the tables the UI shows per partition.
VIDEO_COLUMNS = {
    "path": "file, relative to the input folder",
    "codec": "video codec",
    "resolution": "width x height (pixels)",
    "fps": "average frame rate",
    "duration_s": "duration (s)",
    "size_mb": "file size (MB)",
}
FRAMES_CLIP_COLUMNS = {
    "clip": "clip number in its video",
    "span": "start-end in the video",
    "duration_s": "clip length (s)",
    "frames": "frames kept, all signatures",
    "status": "kept or dropped",
    "reason": "why the clip was dropped",
    "clip_id": "stable clip id",
}


@media_asset(
    "source_videos",
    check="probe_complete",
    check_description="Every probed video has a duration, a frame rate, a picture size and a content hash.",
    blocking=False,  # one odd probe must not hold back the batch it is in
    description="Probe of each video in the partition (codec, fps, frames, duration, size, sha256).",
    metadata={"dagster/column_schema": column_schema(SOURCE_SCHEMA)},
)
def source_videos(
    context: dg.AssetExecutionContext, storage: StorageResource
):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
    started = time.perf_counter()
    registry = storage.registry()
    videos = registry.videos_in(context.partition_key)
    outcome = probe_partition(videos, registry)
    failures = [f"{f.path}: {f.reason}" for f in outcome.failures]
    relative = {v.video_id: v.rel_path for v in videos}
    if outcome.table.num_rows == 0:
        # Every video of this partition is bad: fail this partition alone, naming each file, in one
        # line (no stack: the file is at fault) and in a table like the one a good partition shows.
        failure = partition_failure(
            f"no video of partition {context.partition_key} could be read",
            failures,
            {"video_table": failed_videos_table(outcome.failures, relative)},
        )
        # The partition's page shows observations, not the failed run's metadata: the reason goes there too.
        context.log_event(failure_observation(context.asset_key, context.partition_key, failure))
        raise failure from None
    for failure in failures:
        context.log.warning(f"skipping bad video {failure}")
    rows = outcome.table.to_pylist()
    problems = check_probes(outcome.table)
    return checked_result(
        outcome.table,
        "probe_complete",
        problems,
        len(rows),
        {
            "videos": len(rows),
            "failed_videos": len(failures),
            "failures": failures,
            # Every video of the partition with its status: the failed ones say why.
            "video_table": rows_table(
                video_status_rows(source_rows(outcome.table), outcome.failures, relative),
                {**VIDEO_COLUMNS, **STATUS_COLUMNS},
            ),
            "duration_s": seconds(sum(r["duration_s"] for r in rows)),
            "size_mb": megabytes(sum(r["size_bytes"] or 0 for r in rows)),
            "codec": one_or_list([r["codec"] for r in rows]),
            "fps": one_or_list([round(r["avg_fps"], 2) for r in rows]),
            "resolution": one_or_list([f"{r['width']}x{r['height']}" for r in rows]),
            "sha256": one_or_list([r["sha256"] for r in rows]),
            "seconds": seconds(time.perf_counter() - started),
        },
        data_version=outcome.data_version,
    )


def media_assets(resolved: Resolved) -> list[dg.AssetsDefinition]:
    """source_videos, clips and frames, with the clipping and frame settings of `resolved`
    (and code versions that follow them)."""
    return [source_videos, clips_asset(resolved), frames_asset(resolved)]


def clips_asset(resolved: Resolved) -> dg.AssetsDefinition:
    """clips, with the clipping settings of `resolved` (`resolved.clips_version` follows them)."""
    clipping = resolved.settings.clipping

    @media_asset(
        "clips",
        check="clip_spans_valid",
        check_description="Clip ids are unique and every span is non-empty and inside its video.",
        blocking=True,
        description="Clip spans (fixed stride or scene cuts) with stable ids; optional H.264 clip files.",
        code_version=resolved.clips_version,
        deps=[source_videos],
        metadata={"dagster/column_schema": column_schema(CLIP_SCHEMA)},
    )
    def clips(
        context: dg.AssetExecutionContext, storage: StorageResource
    ):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
        started = time.perf_counter()
        cfg = clipping
        sources = storage.upstream(context, "source_videos").read()
        table = plan_clips(sources, cfg, storage.clips_dir)
        plans = clip_plans(sources, table, cfg)
        VideoLedger(storage.registry()).record_plan(plans)
        for video_id, (_, reason) in plans.items():
            if reason:
                context.log.warning(f"video {video_id}: {reason}")
        durations = table.column("duration_s").to_pylist()
        video_durations = dict(zip(sources.column("video_id").to_pylist(), sources.column("duration_s").to_pylist()))
        problems = check_clips(table, video_durations)
        return checked_result(
            table,
            "clip_spans_valid",
            problems,
            table.num_rows,
            {
                "clips": table.num_rows,
                "method": cfg.method,
                "clip_len_s": seconds(cfg.clip_len_s),
                "mean_clip_s": seconds(sum(durations) / len(durations) if durations else 0.0),
                "transcoded": cfg.transcode,
                "seconds": seconds(time.perf_counter() - started),
            },
        )

    return clips


def frames_asset(resolved: Resolved) -> dg.AssetsDefinition:
    """frames, with the frame settings and signatures of `resolved` (`resolved.frames_version` follows them)."""
    frame_settings = resolved.settings.frames

    @media_asset(
        "frames",
        check="frames_per_clip",
        check_description="Each clip has its policy's frame count within 1 (middle: 1; sequence: one per "
        "1/fps from its first frame to its last) and no clip id twice per signature.",
        blocking=False,
        description="Frames per clip by policy and fps (keys like 'sequence-2.0'), RGB uint8: "
        "frames.policies x frames.target_fps, plus each model's own sequence rate.",
        code_version=resolved.frames_version,
        deps=["clips"],
        metadata={"dagster/column_schema": column_schema(FRAMES_SCHEMA)},
    )
    def frames(
        context: dg.AssetExecutionContext, storage: StorageResource, execution: ExecutionResource
    ):  # -> MaterializeResult with a value and check results (Dagster rejects that annotation)
        started = time.perf_counter()
        cfg = frame_settings
        clip_table: pa.Table = storage.upstream(context, "clips").read()
        summary, strips, path = _write_frames(context, storage, execution, clip_table, cfg, resolved.frame_signatures)
        _log_clip_notes(context, summary)
        stored = ParquetPart(path, context.partition_key)
        counts = stored.read(columns=["clip_id", "signature", "timestamps"])
        problems = _frame_problems(context, storage, counts, clip_table)
        thumbs = write_strips(strips.jpegs, storage.paths.thumbs_dir / context.partition_key)
        span_of = {c["clip_id"]: span_label(c["span_start_s"], c["span_end_s"]) for c in clip_table.to_pylist()}
        sheet = strips_markdown([(span_of[c], j) for c, j in strips.jpegs.items()], folder=thumbs)
        elapsed = time.perf_counter() - started
        return checked_result(
            stored,
            "frames_per_clip",
            problems,
            counts.num_rows,  # a row per clip and signature
            {
                "thumbnails": dg.MetadataValue.md(sheet.text),
                **clip_table_entries(
                    "clip_table",
                    frames_clip_rows(clip_table, counts, summary.dropped),
                    clip_table.num_rows,
                    FRAMES_CLIP_COLUMNS,
                ),
                "clips": summary.clips,
                "frames": summary.frames,
                "dropped_clips": len(summary.dropped),
                # The clip table names each drop; this list stays for readers of the run's metadata.
                **({"dropped": [f"{k}: {v}" for k, v in summary.dropped.items()]} if summary.dropped else {}),
                # Samples whose packet gave no picture (not-coded / dropped AVI frames), served
                # by the nearest decoded one, as ffmpeg's fps filter does.
                "repeated_samples": summary.repeated_samples,
                "scaled_down_clips": len(summary.scaled_from),
                **resized_metadata(summary),  # streams whose resolution changes midway
                **_frame_settings_entries(cfg, resolved.frame_signatures),
                "payload_bytes": summary.payload_bytes,  # frame bytes before zstd
                "file_bytes": path.stat().st_size,
                "file_mb": megabytes(path.stat().st_size),
                "thumbnails_dir": dg.MetadataValue.path(thumbs),
                "thumbnails_shown": dg.MetadataValue.text(f"{sheet.shown} of {sheet.total} clips"),
                "clips_per_s": dg.MetadataValue.float(round(summary.clips / elapsed, 1) if elapsed > 0 else 0.0),
                "seconds": seconds(elapsed),
            },
        )

    return frames


def _write_frames(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    execution: ExecutionResource,
    clip_table: pa.Table,
    cfg: FrameSettings,
    frame_signatures: Sequence[FrameSignature],
) -> tuple[FramesSummary, ThumbnailStrips, Path]:
    """Extract and commit the partition's frames file, with a thumbnail strip per clip; the dropped clips
    go to the ledger first. Fails, keeping the last good file, when no clip of the partition decoded."""
    video_of = dict(zip(clip_table.column("clip_id").to_pylist(), clip_table.column("video_id").to_pylist()))
    with storage.writer(context, FRAMES_SCHEMA) as writer:
        strips = ThumbnailStrips()
        with engine_failure():  # in this process, or decode tasks on Ray (the execution settings)
            job = FramesJob(clip_table, cfg, list(frame_signatures), writer, strips)
            summary = execution.engine().extract_frames(job)
        # Drops land in the ledger before anything can fail, so a video's reason survives.
        video_ids = set(clip_table.column("video_id").to_pylist())
        VideoLedger(storage.registry()).record_drops(
            "frames", video_ids, {c: (video_of[c], r) for c, r in summary.dropped.items()}
        )
        if clip_table.num_rows and summary.clips == 0:
            # Before commit(): a failed rerun keeps the last good frames file.
            paths = sorted(set(clip_table.column("source_path").to_pylist()))
            reasons = sorted(set(summary.dropped.values()))
            raise partition_failure(f"no clip of {', '.join(paths)} decoded", reasons) from None
        path = writer.commit()
    return summary, strips, path


def _log_clip_notes(context: dg.AssetExecutionContext, summary: FramesSummary) -> None:
    """One log line per clip dropped (a warning), or served repeated or scaled-down pictures."""
    for clip_id, reason in summary.dropped.items():
        context.log.warning(f"clip {clip_id} dropped: {reason}")
    for clip_id, count in summary.repeated_by_clip.items():
        context.log.info(f"clip {clip_id}: {count} sample(s) took the nearest decoded picture (none of their own)")
    for clip_id, (height, width) in summary.scaled_from.items():
        context.log.info(f"clip {clip_id}: native {width}x{height} frames scaled down to frames.max_pixels")


def _frame_problems(
    context: dg.AssetExecutionContext, storage: StorageResource, counts: pa.Table, clip_table: pa.Table
) -> list[str]:
    """The frames_per_clip check on the stored rows (`counts`: clip id, signature, timestamps): each
    clip's frame count against its span and its video's frame rate, and no clip id twice per signature."""
    sources = storage.upstream(context, "source_videos").read(columns=["video_id", "avg_fps"])
    source_fps = dict(zip(sources.column("video_id").to_pylist(), sources.column("avg_fps").to_pylist()))
    signed_ids = [
        f"{c}/{s}" for c, s in zip(counts.column("clip_id").to_pylist(), counts.column("signature").to_pylist())
    ]
    return check_frame_counts(counts, clip_table, source_fps) + check_unique_ids(signed_ids, "the frames")


def _frame_settings_entries(cfg: FrameSettings, frame_signatures: Sequence[FrameSignature]) -> dict[str, Any]:
    """The settings the frames were made with, as metadata: signatures, size, decoder and storage."""
    return {
        "signatures": one_or_list([sig.key for sig in frame_signatures]),
        "target_res": "native" if tuple(cfg.target_res) == (-1, -1) else "x".join(map(str, cfg.target_res[::-1])),
        "backend": cfg.backend,
        "storage": cfg.storage,
        **({"jpeg_quality": cfg.jpeg_quality} if cfg.storage == "jpeg" else {}),
    }
