"""Frames asset storage: raw RGB arrays (zstd Parquet) against one JPEG per frame.

    .venv/bin/python benchmarks/frame_storage.py [--video PATH ...] [--quality 95] [--repeats 3]

Without --video it uses two 60 s 1280x720 30 fps H.264 inputs, made once under
/tmp/video_assets_bench: the flat testsrc2 file of benchmarks/frame_extraction.py, where
zstd alone already shrinks raw frames ~15x, and the same pattern with temporal film grain
(ffmpeg ``noise=alls=12:allf=t``, encoded at CRF 18), closer to camera footage, where it
cannot. The frames stage runs as the asset
runs it (10 s clips, ``sequence`` at 2 fps, native resolution), once per storage, in turn
for ``--repeats`` rounds; medians are reported. Figures:
- bytes on disk per minute of video (the Parquet file);
- write: the whole stage (video decode + storing) and read: every row group back to
  (N, H, W, 3) uint8 arrays, as ratios jpeg / raw (> 1: JPEG is slower);
- what JPEG changes for the models: mean |difference| of the frames, and of
  InternVideo2's 224x224 input and the fingerprint's 64x64 luma made from them, in grey
  levels (both preprocessors need no weights).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from bench_inputs import make_720p

from video_assets.media.probe import probe
from video_assets.models.builtin_embedders import INTERNVIDEO2_SPEC
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.models.internvideo2 import IMAGENET_STD, prepare_frames
from video_assets.settings.config import ClippingSettings, FrameSettings
from video_assets.stages.clips import plan_clips
from video_assets.stages.frames import FRAMES_SCHEMA, extract_partition_frames, rows_to_clip_frames
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter


def make_grainy_720p(duration_s: int = 60) -> Path:
    """testsrc2 with temporal grain, encoded once (same pattern and size as make_720p)."""
    return make_720p(
        f"frame_storage_720p_{duration_s}s_grain12.mp4",
        duration_s,
        "veryfast",
        video_filter="noise=alls=12:allf=t",
        crf=18,
    )


def clips_table(video: Path) -> tuple[pa.Table, float]:
    """The video's clips as the clips asset plans them (default settings: 10 s clips)."""
    duration = probe(video).duration_s
    source = pa.Table.from_pylist(
        [{"video_id": "bench", "partition_key": "bench", "path": str(video), "duration_s": duration}]
    )
    return plan_clips(source, ClippingSettings(), video.parent), duration


def write_frames(clips: pa.Table, settings: FrameSettings, path: Path) -> float:
    started = time.perf_counter()
    with StreamingParquetWriter(path, FRAMES_SCHEMA) as writer:
        extract_partition_frames(clips, settings, writer)
        writer.commit()
    return time.perf_counter() - started


def read_frames(path: Path) -> tuple[float, dict[str, np.ndarray]]:
    started = time.perf_counter()
    frames = {}
    for group in ParquetPart(path, "bench").iter_row_groups():
        for cid, per_sig in rows_to_clip_frames(group).items():
            frames[cid] = per_sig["sequence-2.0"].frames
    return time.perf_counter() - started, frames


def compare(video: Path, quality: int, repeats: int) -> None:
    clips, duration = clips_table(video)
    storages = {"raw": FrameSettings(), "jpeg": FrameSettings(storage="jpeg", jpeg_quality=quality)}
    writes: dict[str, list[float]] = {k: [] for k in storages}
    reads: dict[str, list[float]] = {k: [] for k in storages}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: Path(tmp) / f"{k}.parquet" for k in storages}
        for _ in range(repeats):
            for name, settings in storages.items():  # in turn, so background load hits both alike
                writes[name].append(write_frames(clips, settings, paths[name]))
                reads[name].append(read_frames(paths[name])[0])
        sizes = {k: p.stat().st_size for k, p in paths.items()}
        raw, jpeg = read_frames(paths["raw"])[1], read_frames(paths["jpeg"])[1]

    count = sum(len(f) for f in raw.values())
    shape = next(iter(raw.values())).shape[1:]
    print(f"video: {video.name}, {duration:.1f} s, {len(raw)} clips, {count} frames {shape} at 2 fps")
    print(f"jpeg quality {quality}")
    for name in storages:
        per_min = sizes[name] / (duration / 60)
        print(
            f"{name:>4}: {per_min / 1e6:8.2f} MB per minute of video ({sizes[name] / count / 1e3:7.1f} KB/frame), "
            f"write {statistics.median(writes[name]):6.2f} s, read {statistics.median(reads[name]):6.2f} s"
        )
    print(f"size raw / jpeg: {sizes['raw'] / sizes['jpeg']:.1f}x")
    write_ratio = statistics.median(writes["jpeg"]) / statistics.median(writes["raw"])
    read_ratio = statistics.median(reads["jpeg"]) / statistics.median(reads["raw"])
    print(f"write time jpeg / raw: {write_ratio:.2f}x (whole stage, video decode included)")
    print(f"read time jpeg / raw: {read_ratio:.2f}x")

    frame_diff = np.mean([np.abs(jpeg[c].astype(np.int16) - raw[c]).mean() for c in raw])
    levels = 255 * np.asarray(IMAGENET_STD).reshape(1, 3, 1, 1)

    def internvideo2(frames: np.ndarray) -> np.ndarray:
        return prepare_frames(frames, INTERNVIDEO2_SPEC.frames_per_clip, INTERNVIDEO2_SPEC.resolution).numpy()

    iv2 = [np.abs((internvideo2(jpeg[c]) - internvideo2(raw[c])) * levels).mean() for c in raw]
    fingerprint = FingerprintEmbedder()
    fp = [255 * (fingerprint.prepare(jpeg[c]) - fingerprint.prepare(raw[c])).abs().mean().item() for c in raw]
    print(
        f"mean |jpeg - raw| in grey levels: frames {frame_diff:.2f}, "
        f"InternVideo2 input {np.mean(iv2):.2f}, fingerprint input {np.mean(fp):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, nargs="*", default=None)
    parser.add_argument("--quality", type=int, default=95)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    videos = args.video or [make_720p("bench_720p_60s_veryfast.mp4", 60, "veryfast"), make_grainy_720p()]
    for video in videos:
        compare(video, args.quality, args.repeats)
        print()


if __name__ == "__main__":
    main()
