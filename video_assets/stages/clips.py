"""clips: split each video into spans, give each a stable id, optionally transcode it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from video_assets.media.clipping import ClipSpan, clip_id, fixed_stride_spans, scene_cut_spans
from video_assets.media.learned_scenes import CutProbabilities
from video_assets.media.transcode import transcode_clip
from video_assets.settings.config import ClippingSettings

CLIP_SCHEMA = pa.schema(
    [
        ("clip_id", pa.string()),
        ("video_id", pa.string()),
        ("partition_key", pa.string()),
        ("source_path", pa.string()),
        ("clip_index", pa.int32()),
        ("span_start_s", pa.float64()),
        ("span_end_s", pa.float64()),
        ("duration_s", pa.float64()),
        ("clip_path", pa.string()),
    ]
)


def spans_for(path: str, duration_s: float, settings: ClippingSettings) -> list[ClipSpan]:
    if settings.method == "scene_cut":
        return scene_cut_spans(
            path,
            threshold=settings.scene_threshold,
            detector=settings.scene_detector,
            min_clip_len_s=settings.min_clip_len_s,
            max_clip_len_s=settings.max_clip_len_s,
            cut_probabilities=learned_cut_probabilities(settings.scene_detector),
        )
    return fixed_stride_spans(
        duration_s,
        clip_len_s=settings.clip_len_s,
        stride_s=settings.stride_s,
        min_clip_len_s=settings.min_clip_len_s,
    )


def learned_cut_probabilities(detector: str) -> CutProbabilities | None:
    """The network a learned scene detector runs, else None. The wiring is here, in stages/,
    because media/ (which decodes and post-processes) may not import models/ (the network):
    media takes the network as a callable. Imported only when asked for, as torch is slow to load."""
    if detector != "transnetv2":
        return None
    from video_assets.models.transnetv2_cuts import cut_probabilities

    return cut_probabilities


def plan_clips(sources: pa.Table, settings: ClippingSettings, clips_dir: Path) -> pa.Table:
    """One row per clip of every readable video in the partition."""
    rows = []
    for video in sources.to_pylist():
        spans = spans_for(video["path"], video["duration_s"], settings)
        for index, span in enumerate(spans):
            cid = clip_id(video["video_id"], span)
            clip_path = None
            if settings.transcode:
                out = clips_dir / video["video_id"] / f"{cid}.mp4"
                clip_path = str(transcode_clip(video["path"], span, out))
            rows.append(clip_row(video["video_id"], video["partition_key"], video["path"], index, span, clip_path))
    return pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)


def clip_row(
    video_id: str, partition_key: str, source_path: str, index: int, span: ClipSpan, clip_path: str | None = None
) -> dict:
    """One row of `CLIP_SCHEMA`: clip `index` of a video, with its stable id."""
    return {
        "clip_id": clip_id(video_id, span),
        "video_id": video_id,
        "partition_key": partition_key,
        "source_path": source_path,
        "clip_index": index,
        "span_start_s": span.start_s,
        "span_end_s": span.end_s,
        "duration_s": span.duration_s,
        "clip_path": clip_path,
    }


def span_of(clip: dict) -> ClipSpan:
    return ClipSpan(clip["span_start_s"], clip["span_end_s"])


def clip_plans(sources: pa.Table, clips: pa.Table, settings: ClippingSettings) -> dict[str, tuple[int, str | None]]:
    """Per readable video: how many clips were planned and, when none, why (for the ledger)."""
    counts: dict[str, int] = {}
    for video_id in clips.column("video_id").to_pylist():
        counts[video_id] = counts.get(video_id, 0) + 1
    plans: dict[str, tuple[int, str | None]] = {}
    for video in sources.to_pylist():
        n = counts.get(video["video_id"], 0)
        reason = None
        if n == 0:
            minimum = settings.min_clip_len_s
            if settings.method == "scene_cut":
                reason = f"no scene of {video['duration_s']:.2f} s of video is at least the {minimum} s minimum clip"
            else:
                reason = f"{video['duration_s']:.2f} s of video, shorter than the {minimum} s minimum clip"
        plans[video["video_id"]] = (n, reason)
    return plans
