"""What the benchmarks share: inputs made once with the ffmpeg CLI and kept under /tmp between runs,
synthetic clip rows, and the JSON-lines file that collects results across runs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from video_assets.index.schema import clip_schema

BENCH_DIR = Path("/tmp/video_assets_bench")


def make_720p(name: str, duration_s: int, preset: str, *, video_filter: str = "", crf: int | None = None) -> Path:
    """A 1280x720 30 fps H.264 test-pattern video ``<BENCH_DIR>/<name>``, encoded once.

    `video_filter` is appended to the test source (e.g. ``noise=alls=12:allf=t`` for camera-like
    grain); `crf` overrides x264's default quality.
    """
    path = BENCH_DIR / name
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size=1280x720:rate=30:duration={duration_s}" + (f",{video_filter}" if video_filter else ""),
                "-c:v",
                "libx264",
                "-preset",
                preset,
                *(["-crf", str(crf)] if crf is not None else []),
                "-pix_fmt",
                "yuv420p",
                str(tmp),
            ],
            check=True,
        )
        tmp.rename(path)
    return path


def clip_batch(
    clip_ids: Sequence[str],
    video_ids: Sequence[str],
    partition_keys: Sequence[str],
    starts: np.ndarray,
    vectors: np.ndarray,
    *,
    model_id: str,
    created: datetime,
) -> pa.RecordBatch:
    """Synthetic rows of the clip table (8 s clips from `starts`, no clip files or text scores)."""
    n, dim = vectors.shape
    cols = {
        "clip_id": pa.array(clip_ids),
        "video_id": pa.array(video_ids),
        "partition_key": pa.array(partition_keys),
        "source_path": pa.array([f"/videos/{v}.mp4" for v in video_ids]),
        "span_start_s": pa.array(starts),
        "span_end_s": pa.array(starts + 8.0),
        "duration_s": pa.array(np.full(n, 8.0)),
        "clip_path": pa.nulls(n, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
        "model_id": pa.array([model_id] * n),
        "model_revision": pa.array(["0"] * n),
        "text_match": pa.nulls(n, pa.string()),
        "text_match_prob": pa.nulls(n, pa.float32()),
        "text_scores": pa.nulls(n, pa.string()),
        "created_at": pa.array([created] * n, pa.timestamp("us", tz="UTC")),
    }
    schema = clip_schema(dim)
    return pa.record_batch([cols[name] for name in schema.names], schema=schema)


def append_json_lines(path: str | None, rows: Iterable[dict]) -> None:
    """Append one JSON line per row to `path` (the scripts' ``--out``; None: nothing), so runs accumulate."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps(row) + "\n")
