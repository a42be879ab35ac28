"""Export a model's clips (rows, embeddings, duplicate columns) as Parquet, WebDataset shards or JSON Lines.

`export_clips` reads the model's table at one pinned version (optionally filtered by the
`--where` language of `clips`, curation columns included), joins the curation columns on
clip_id (`filter_read.curation_columns`: the duplicates file's dup_group, dup_keep, ... and the
clip filters' filter_keep, filter_reasons, motion; null where unknown), orders the rows by
source path, span start and clip id,
and writes them into a temporary directory beside `out_dir` that is renamed into place at
the end: a crash leaves the previous export or none, never a half file or a half shard.
The temporary directory (`.<out>.<pid>.tmp`) holds its owner (host, pid, start time) until the rename;
one left by a killed export is removed by the next export to the same `out_dir` on the same host
once that process is gone (`run_owner`, as for runs); one whose owner is alive, or elsewhere, stays.
Every export holds `export.json`, its manifest (format id, model, table version, filter, rows, files,
whether the duplicate and filter columns are present and which table version the duplicates describe).
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

from video_assets.catalog.run_owner import Liveness, owner_from_tags, owner_tags
from video_assets.curation import export_formats
from video_assets.curation.dup_read import read_duplicates, result_info
from video_assets.curation.duplicates import output_path
from video_assets.curation.export_owner import (
    MANIFEST,
    absolute_out_dir,
    check_replaceable,
    manifest_mark,
    move_files_in,
    remove_export,
)
from video_assets.curation.filter_read import DUP_TYPES, FILTER_TERMS, curation_columns, filters_dir
from video_assets.curation.progress import Progress, no_progress
from video_assets.curation.where_eval import curation_names, evaluate, split
from video_assets.index.connection import open_clip_table
from video_assets.index.filters import parse_where, render_sql
from video_assets.settings.data_paths import DataPaths

FORMATS = ("parquet", "webdataset", "jsonl")
DEFAULT_SHARD_SIZE = 1000
DEFAULT_CRF = 23  # x264 CRF of spans cut from sources (webdataset)
MAX_CRF = 51  # the top of libx264's 8-bit scale
OWNER = ".owner.json"  # in the temporary directory only: who is writing it (removed before the rename)
SORT_KEYS = ("source_path", "span_start_s", "clip_id")
__all__ = ["DUP_TYPES", "ExportResult", "check_format", "export_clips"]  # DUP_TYPES: dup_read.DUP_COLUMNS typed


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
    filters: str  # "joined" (some clip_filters partition exists) or "absent"
    clips_without_filters: int  # exported clips no clip_filters partition decided on
    dropped_by_kept_only: int  # clips --kept-only left out (not kept by their duplicate group or by the filters)
    mp4_from_clip_file: int  # webdataset: samples whose .mp4 is the transcoded clip file
    mp4_cut_from_source: int  # webdataset: samples whose span was cut from the source video
    seconds: float
    # clips with no filter result when --where reads filter_keep / motion / reason(...): null there, undecided
    clips_undecided_by_where: int = 0

    @property
    def incomplete(self) -> bool:
        """Some curation column is null for some clip (no file yet, or clips newer than it)."""
        absent = self.duplicates == "absent" or self.filters == "absent"
        return absent or bool(
            self.clips_without_dup_info or self.clips_without_filters or self.clips_undecided_by_where
        )

    def note(self) -> str:
        """One line on the duplicate and filter columns, for the CLI and the asset's log."""
        kept = " and were kept" if self.kept_only else ""
        if self.duplicates == "absent":
            note = (
                f"no duplicates file for {self.model} ({self.duplicates_path}): dup_group, dup_keep, sim_to_kept, "
                f"group_size and cluster_id are null; run `video-assets duplicates --model {self.model}` "
                "to fill them"
            )
        else:
            note = f"duplicate columns from {self.duplicates_path} (table v{self.duplicates_table_version})"
            if self.clips_without_dup_info:
                note += (
                    f"; {self.clips_without_dup_info} clip(s) indexed after it have null duplicate columns"
                    f"{kept}: rerun `video-assets duplicates --model {self.model}`"
                )
        if self.filters == "absent":
            note += (
                f"; no clip filters for {self.model}: filter_keep, filter_reasons and motion are null "
                f"(materialize {self.model}_clip_filters)"
            )
        elif self.clips_without_filters:
            note += (
                f"; {self.clips_without_filters} clip(s) have no filter decision{kept} "
                f"(materialize their {self.model}_clip_filters partitions)"
            )
        if self.clips_undecided_by_where:
            note += (
                f"; {self.clips_undecided_by_where} clip(s) have no filter result, so --where could not decide on "
                f"them (run `video-assets filters --model {self.model}`)"
            )
        return note


def check_format(fmt: str, shard_size: int = DEFAULT_SHARD_SIZE, crf: int = DEFAULT_CRF) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard size must be a positive integer, got {shard_size!r}")
    # libx264 clamps a CRF above 51 silently and fails mid-export on a negative one (av.error.OverflowError).
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= MAX_CRF:
        raise ValueError(f"crf must be an integer in 0..{MAX_CRF} (x264; lower is better quality), got {crf!r}")


def export_clips(
    db: lancedb.DBConnection,
    model: str,
    out_dir: str | Path,
    *,
    fmt: str,
    data_dir: str | Path,
    kept_only: bool = False,
    where: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    crf: int = DEFAULT_CRF,
    on_progress: Progress | None = None,
) -> ExportResult:
    """Write the model's clips matching `where` (all when None) to `out_dir` in `fmt` (see the module doc).

    `data_dir` is where `curation/` (duplicates) and `assets/` (clip filters) are. `kept_only`
    drops every clip the duplicates file marks as not kept or the clip filters drop (a clip
    either does not know is kept, and counted in `clips_without_dup_info` / `clips_without_filters`);
    it refuses when there is neither a duplicates file nor a clip filters partition.
    `out_dir` is replaced only when it holds an earlier export and nothing else (`export_owner`); any
    other non-empty directory is refused with what it holds.
    `on_progress(phase, done, total)`: "read" (the table and curation columns, 0 then 1), then "write"
    (clips written; webdataset cuts spans from sources here, the slow part).
    """
    started = time.perf_counter()
    check_format(fmt, shard_size, crf)
    sql, rest = _where_parts(where)  # a bad filter fails before any read
    out_dir, data_dir = absolute_out_dir(out_dir), Path(data_dir)
    check_replaceable(out_dir)
    dup_path = output_path(DataPaths.under(data_dir).curation_dir, model)
    if kept_only:
        _check_kept_only_source(data_dir, model)
    report = no_progress if on_progress is None else on_progress
    report("read", 0, 1)
    picked = _select(db, model, data_dir, sql, rest, kept_only)
    rows = picked.rows
    report("read", 1, 1)
    remove_dead_temp_dirs(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        (tmp / OWNER).write_text(json.dumps(owner_tags()))  # the tags `video-assets run` puts on its runs
        written = export_formats.write(fmt, rows, tmp, shard_size=shard_size, crf=crf, on_progress=report)
        version = picked.dup_info.get("table_version")
        result = ExportResult(
            model=model,
            format=fmt,
            path=str(out_dir),
            table_version=picked.table_version,
            rows=rows.num_rows,
            files=written.files,
            where=where,
            kept_only=kept_only,
            duplicates="joined" if picked.dup_info else "absent",
            duplicates_path=str(dup_path),
            duplicates_table_version=int(version) if version is not None else None,
            clips_without_dup_info=picked.unknown,
            filters="joined" if picked.filters else "absent",
            clips_without_filters=picked.no_filters,
            dropped_by_kept_only=picked.before - rows.num_rows,
            clips_undecided_by_where=picked.undecided,
            mp4_from_clip_file=written.mp4_from_clip_file,
            mp4_cut_from_source=written.mp4_cut_from_source,
            seconds=round(time.perf_counter() - started, 3),
        )
        manifest = {
            **asdict(result),
            **manifest_mark(written.files),
            "created_at": datetime.now(timezone.utc).isoformat(),
            "note": result.note(),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        (tmp / OWNER).unlink()
        _swap_into_place(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _where_parts(where: str | None) -> tuple[str | None, Any]:
    """The where split into the part LanceDB filters (as SQL) and the curation part evaluated after."""
    node = parse_where(where, curation=True) if where is not None else None
    index_part, rest = split(node) if node is not None else (None, None)
    return (render_sql(index_part) if index_part is not None else None), rest


def _check_kept_only_source(data_dir: Path, model: str) -> None:
    """--kept-only needs something that says which clips are kept: duplicate groups or clip filters."""
    paths = DataPaths.under(data_dir)
    dup_path = output_path(paths.curation_dir, model)
    if not dup_path.exists() and not any(filters_dir(paths.assets_dir, model).glob("*.parquet")):
        raise FileNotFoundError(
            f"--kept-only needs {model}'s duplicate groups or clip filters, and there are neither {dup_path} nor "
            f"{filters_dir(paths.assets_dir, model)}: run `video-assets duplicates --model {model}` "
            f"(or materialize {model}_duplicates / {model}_clip_filters) first"
        )


@dataclass
class _Selection:
    """The clips an export writes, read from one table version, with the counts its result reports."""

    rows: pa.Table
    table_version: int
    dup_info: dict[str, Any]
    filters: bool  # a clip filters result was joined
    unknown: int  # clips without duplicates info
    no_filters: int  # clips without a filter result
    undecided: int  # clips the where's filter terms could not decide on
    before: int  # rows before --kept-only


def _select(
    db: lancedb.DBConnection, model: str, data_dir: Path, sql: str | None, rest: Any, kept_only: bool
) -> _Selection:
    """The table's clips matching the index part of the where (`sql`), sorted, with the curation columns
    joined, then the curation part (`rest`) and --kept-only applied."""
    table = open_clip_table(db, model)
    table.checkout(table.version)  # one version for the whole read
    query = table.search().limit(None)
    rows = (query.where(sql) if sql is not None else query).to_arrow()
    rows = rows.take(pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in SORT_KEYS]))
    extra, info = curation_columns(data_dir, model, rows.column("clip_id").combine_chunks())
    for name in extra.column_names:
        rows = rows.append_column(extra.schema.field(name), extra.column(name))
    # Clips the where's filter terms cannot decide on (null filter columns), before they are left out.
    undecided = info.without_filters if info.filters and curation_names(rest) & FILTER_TERMS else 0
    if rest is not None:
        rows = rows.filter(evaluate(rest, rows))
    dup_info: dict[str, Any] = (
        result_info(read_duplicates(DataPaths.under(data_dir).curation_dir, model)) if info.duplicates else {}
    )
    unknown = rows.column("dup_keep").null_count if info.duplicates else 0
    no_filters = rows.column("filter_keep").null_count if info.filters else 0
    before = rows.num_rows
    if kept_only:
        keep = pc.and_(pc.fill_null(rows.column("dup_keep"), True), pc.fill_null(rows.column("filter_keep"), True))
        rows = rows.filter(keep)
    return _Selection(rows, table.version, dup_info, info.filters, unknown, no_filters, undecided, before)


def remove_dead_temp_dirs(out_dir: Path) -> list[Path]:
    """Delete the `.<out>.<pid>.tmp` directories beside `out_dir` left by exports that are gone; return them.

    Only a directory whose owner file names this host and a process that is gone (or a pid now
    reused by another process) is removed: an export still writing, one on another host sharing
    the folder, and a directory without a readable owner file are left alone.
    """
    removed = []
    for tmp in out_dir.parent.glob(f".{out_dir.name}.*.tmp"):
        pid = tmp.name[len(out_dir.name) + 2 : -len(".tmp")]
        if not pid.isdigit() or not tmp.is_dir():
            continue
        try:
            owner = owner_from_tags(json.loads((tmp / OWNER).read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if owner is not None and owner.pid == int(pid) and owner.liveness() is Liveness.GONE:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename the finished export to `out_dir`; an earlier export there is moved aside first, then deleted.

    The destination is checked again just before (a file added while the export ran is not lost),
    and only the files the earlier manifest lists are deleted.
    """
    earlier = check_replaceable(out_dir)
    if out_dir.is_dir() and _is_cwd(out_dir):
        move_files_in(tmp, out_dir, earlier)  # renaming the shell's current directory away would strand it
        return
    old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
    if out_dir.exists():
        os.replace(out_dir, old)  # a directory is not replaced by os.replace unless empty: move it aside
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old.exists() and not out_dir.exists():
            os.replace(old, out_dir)  # put the earlier export back
        raise
    if old.exists():
        remove_export(old, earlier)


def _is_cwd(path: Path) -> bool:
    try:
        return path.samefile(Path.cwd())
    except OSError:
        return False
