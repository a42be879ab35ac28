"""Export a model's clips (rows, embeddings, duplicate columns) as Parquet, WebDataset shards or JSON Lines.

`export_clips` reads the model's table at one pinned version (optionally filtered by the
search's `--where` language), joins the duplicate columns of `<model>_duplicates.parquet`
on clip_id when that file exists, orders the rows by source path, span start and clip id,
and writes them into a temporary directory beside `out_dir` that is renamed into place at
the end: a crash leaves the previous export or none, never a half file or a half shard.
Every export holds `export.json`, its manifest (model, table version, filter, rows, files,
whether the duplicate columns are present and which table version they describe).
The formats themselves live in `export_formats.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
import pyarrow.compute as pc

from video_assets.curation import export_formats
from video_assets.curation.dup_read import read_duplicates, result_info
from video_assets.curation.duplicates import output_path
from video_assets.index.connection import open_clip_table
from video_assets.index.filters import parse_where, render_sql

FORMATS = ("parquet", "webdataset", "jsonl")
DEFAULT_SHARD_SIZE = 1000
MANIFEST = "export.json"
SORT_KEYS = ("source_path", "span_start_s", "clip_id")
# dup_read.DUP_COLUMNS as written into an export (null where unknown or when there is no duplicates file).
DUP_TYPES = {
    "dup_group": pa.string(),
    "keep": pa.bool_(),
    "sim_to_kept": pa.float64(),
    "group_size": pa.int64(),
    "cluster_id": pa.int64(),
}


@dataclass(frozen=True)
class ExportResult:
    model: str
    format: str
    path: str  # the export directory
    table_version: int
    rows: int
    files: list[str]  # relative to `path`, manifest excluded
    where: str | None
    kept_only: bool
    duplicates: str  # "joined" or "absent"
    duplicates_path: str
    duplicates_table_version: int | None  # the table version the duplicates file describes
    clips_without_dup_info: int  # exported clips the duplicates file does not know (indexed after it)
    mp4_from_clip_file: int  # webdataset: samples whose .mp4 is the transcoded clip file
    mp4_cut_from_source: int  # webdataset: samples whose span was cut from the source video
    seconds: float

    def note(self) -> str:
        """One line on the duplicate columns, for the CLI and the asset's log."""
        if self.duplicates == "absent":
            return (f"no duplicates file for {self.model} ({self.duplicates_path}): dup_group, keep, sim_to_kept, "
                    f"group_size and cluster_id are null; run `video-assets duplicates --model {self.model}` "
                    "to fill them")  # fmt: skip
        note = f"duplicate columns from {self.duplicates_path} (table v{self.duplicates_table_version})"
        if self.clips_without_dup_info:
            kept = " and were kept" if self.kept_only else ""
            note += (f"; {self.clips_without_dup_info} clip(s) indexed after it have null duplicate columns{kept}: "
                     f"rerun `video-assets duplicates --model {self.model}`")  # fmt: skip
        return note


def check_format(fmt: str, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard size must be a positive integer, got {shard_size!r}")


def export_clips(
    db: lancedb.DBConnection,
    model: str,
    out_dir: str | Path,
    *,
    fmt: str,
    curation_dir: str | Path,
    kept_only: bool = False,
    where: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    crf: int = 23,
) -> ExportResult:
    """Write the model's clips matching `where` (all when None) to `out_dir` in `fmt` (see the module doc).

    `kept_only` drops every clip the duplicates file marks as not kept (a clip newer than the
    file is kept and counted in `clips_without_dup_info`); it refuses when there is no file.
    `out_dir` is replaced when it holds an earlier export; any other non-empty directory is refused.
    """
    started = time.perf_counter()
    check_format(fmt, shard_size)
    sql = render_sql(parse_where(where)) if where is not None else None  # a bad filter fails before any read
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    dup_path = output_path(Path(curation_dir), model)
    if kept_only and not dup_path.exists():
        raise FileNotFoundError(
            f"--kept-only needs {model}'s duplicate groups and there is no {dup_path}: run "
            f"`video-assets duplicates --model {model}` (or materialize {model}_duplicates) first"
        )

    table = open_clip_table(db, model)
    table.checkout(table.version)  # one version for the whole read
    query = table.search().limit(None)
    rows = (query.where(sql) if sql is not None else query).to_arrow()
    rows = rows.take(pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in SORT_KEYS]))
    dup_info: dict[str, Any] = {}
    if dup_path.exists():
        dups = read_duplicates(Path(curation_dir), model)
        rows = _join_duplicates(rows, dups)
        dup_info = result_info(dups)
    else:
        for name, type_ in DUP_TYPES.items():
            rows = rows.append_column(pa.field(name, type_), pa.nulls(rows.num_rows, type_))
    unknown = rows.column("keep").null_count if dup_info else 0
    if kept_only:
        rows = rows.filter(pc.fill_null(rows.column("keep"), True))

    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        written = export_formats.write(fmt, rows, tmp, shard_size=shard_size, crf=crf)
        version = dup_info.get("table_version")
        result = ExportResult(
            model=model, format=fmt, path=str(out_dir), table_version=table.version, rows=rows.num_rows,
            files=written.files, where=where, kept_only=kept_only, duplicates="joined" if dup_info else "absent",
            duplicates_path=str(dup_path), duplicates_table_version=int(version) if version is not None else None,
            clips_without_dup_info=unknown, mp4_from_clip_file=written.mp4_from_clip_file,
            mp4_cut_from_source=written.mp4_cut_from_source, seconds=round(time.perf_counter() - started, 3),
        )  # fmt: skip
        manifest = {**asdict(result), "created_at": datetime.now(timezone.utc).isoformat(), "note": result.note()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        _swap_into_place(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _join_duplicates(rows: pa.Table, dups: pa.Table) -> pa.Table:
    """`rows` with the DUP_COLUMNS of the clip with the same id (null for a clip the file does not know)."""
    at = pc.index_in(rows.column("clip_id"), value_set=dups.column("clip_id").combine_chunks())
    for name, type_ in DUP_TYPES.items():
        values = dups.column(name).combine_chunks().take(at).cast(type_)
        rows = rows.append_column(pa.field(name, type_), values)
    return rows


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"export destination {out_dir} is a file: give a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise FileExistsError(f"export destination {out_dir} is not empty and holds no earlier export "
                              f"({MANIFEST}): give a new or empty directory")  # fmt: skip


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename the finished export to `out_dir`; an earlier export there is moved aside first, then deleted."""
    old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
    if out_dir.exists():
        os.replace(out_dir, old)  # a directory is not replaced by os.replace unless empty: move it aside
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old.exists() and not out_dir.exists():
            os.replace(old, out_dir)  # put the earlier export back
        raise
    shutil.rmtree(old, ignore_errors=True)
