"""The three export formats, each written into a fresh directory (export.py renames it into place).

- parquet: `clips.parquet`, every column of the table (vector as a fixed-size float32 list,
  text_scores as its JSON) plus the duplicate columns: loads directly in pandas, polars, DuckDB.
- webdataset: POSIX (pax) tar shards `00000.tar`, `00001.tar`, ... of `shard_size` samples, as
  video2dataset writes them: per clip `<clip_id>.mp4` (the clip file when clips were transcoded,
  else the span cut from the source video), `<clip_id>.json` (the row without the vector) and
  `<clip_id>.npy` (the embedding, float32), the three members of a sample next to each other.
- jsonl: `clips.jsonl`, one JSON object per clip with the vector as a list of floats.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from video_assets.curation.progress import Progress, no_progress
from video_assets.media.clipping import ClipSpan
from video_assets.media.transcode import transcode_clip

PARQUET_FILE = "clips.parquet"
JSONL_FILE = "clips.jsonl"
BATCH_ROWS = 4096
PARQUET_ROWS = 65_536  # per row group: ~200 MB of 768-d float32 vectors
# A WebDataset key is everything before the first dot of a member's name: no dots, no slashes.
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Written:
    files: list[str] = field(default_factory=list)
    mp4_from_clip_file: int = 0
    mp4_cut_from_source: int = 0


def write(
    fmt: str, rows: pa.Table, out: Path, *, shard_size: int, crf: int, on_progress: Progress = no_progress
) -> Written:
    """Write `rows` in `fmt` into `out`; `on_progress("write", rows written, rows)` along the way."""
    on_progress("write", 0, rows.num_rows)
    if fmt == "parquet":
        # Slice by slice (a row group each) rather than one write_table: a bar needs steps.
        with pq.ParquetWriter(out / PARQUET_FILE, rows.schema, compression="zstd") as writer:
            for part in _slices(rows, PARQUET_ROWS, on_progress):
                writer.write_table(part)
        return Written([PARQUET_FILE])
    if fmt == "jsonl":
        with open(out / JSONL_FILE, "w", encoding="utf-8") as f:
            for part in _slices(rows, BATCH_ROWS, on_progress):
                f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in _dict_rows(part))
        return Written([JSONL_FILE])
    if fmt == "webdataset":
        return _write_shards(rows, out, shard_size=shard_size, crf=crf, report=on_progress)
    raise ValueError(f"unknown export format {fmt!r}")


def _slices(rows: pa.Table, size: int, report: Progress) -> Iterator[pa.Table]:
    """`rows` in slices of `size`, each reported written once the caller asks for the next."""
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)
        report("write", min(start + size, rows.num_rows), rows.num_rows)


def _dict_rows(rows: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows as JSON-ready dicts: text_scores parsed, timestamps as ISO 8601, vector as a list."""
    for batch in rows.to_batches(BATCH_ROWS):
        for row in batch.to_pylist():
            if row.get("text_scores") is not None:
                row["text_scores"] = json.loads(row["text_scores"])
            if row.get("created_at") is not None:
                row["created_at"] = row["created_at"].isoformat()
            yield row


def _write_shards(rows: pa.Table, out: Path, *, shard_size: int, crf: int, report: Progress) -> Written:
    """Progress per sample: a span cut from its source (transcoded) takes a second or more."""
    written = Written()
    now = time.time()
    done = 0
    with tempfile.TemporaryDirectory(prefix=".cut-", dir=out) as scratch:
        for start in range(0, rows.num_rows, shard_size):
            name = f"{start // shard_size:05d}.tar"
            part = out / f".{name}.part"
            with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
                for row in _dict_rows(rows.slice(start, shard_size)):
                    key = row["clip_id"]
                    if not _KEY.match(key):
                        raise ValueError(f"clip id {key!r} cannot be a WebDataset key (letters, digits, '-', '_')")
                    vector = np.asarray(row.pop("vector"), dtype=np.float32)  # (dim,)
                    mp4, from_clip_file = _clip_bytes(row, Path(scratch), crf=crf)
                    written.mp4_from_clip_file += from_clip_file
                    written.mp4_cut_from_source += not from_clip_file
                    row["mp4_from"] = "clip_file" if from_clip_file else "source_span"
                    npy = io.BytesIO()
                    np.save(npy, vector)
                    meta = json.dumps(row, ensure_ascii=False).encode()
                    for suffix, data in (("mp4", mp4), ("json", meta), ("npy", npy.getvalue())):
                        _add(tar, f"{key}.{suffix}", data, now)
                    done += 1
                    report("write", done, rows.num_rows)
            part.rename(out / name)
            written.files.append(name)
    return written


def _clip_bytes(row: dict[str, Any], scratch: Path, *, crf: int) -> tuple[bytes, bool]:
    """The clip's MP4 and whether it is the transcoded clip file (else cut from the source now)."""
    clip_path = row.get("clip_path")
    if clip_path and Path(clip_path).is_file():
        return Path(clip_path).read_bytes(), True
    source = Path(row["source_path"])
    if not source.is_file():
        raise FileNotFoundError(
            f"clip {row['clip_id']}: no clip file and its source {source} is gone; "
            "`video-assets remove` drops removed videos, or exclude it with --where"
        )
    cut = scratch / f"{row['clip_id']}.mp4"
    transcode_clip(source, ClipSpan(row["span_start_s"], row["span_end_s"]), cut, crf=crf)
    try:
        return cut.read_bytes(), False
    finally:
        cut.unlink()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
