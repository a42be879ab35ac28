"""Staged rows: what a partition run hands to the single committer.

A partition run writes only its own file, one per (model, partition), so runs
never contend on the shared table. Files are written to a temp name and
renamed into place: a reader sees the old file or the new one, never half of
one, and a rerun replaces the file wholesale.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from video_assets.index.errors import InvalidRowsError
from video_assets.index.schema import table_name, validate_clip_table

# Partition keys become file names: no separators, no leading dot.
_PARTITION_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def staged_path(staging_dir: Path, model: str, partition_key: str) -> Path:
    """Where the staged rows of one model and partition live."""
    if not isinstance(partition_key, str) or not _PARTITION_KEY.match(partition_key):
        raise ValueError(
            f"partition key {partition_key!r} cannot name a staging file: "
            "use letters, digits, '.', '_' and '-' (not leading '.')"
        )
    return Path(staging_dir) / table_name(model) / f"{partition_key}.parquet"


def stage_rows(staging_dir: Path, model: str, partition_key: str, table: pa.Table) -> Path:
    """Validate `table` and write it as the partition's staged file, atomically; returns its path.

    Every row must carry this `partition_key`; an empty table is valid (the
    partition's videos have no clips left, so the commit deletes their rows).
    """
    table = validate_clip_table(table)
    keys = set(table.column("partition_key").to_pylist())
    if keys - {partition_key}:
        raise InvalidRowsError(f"staging partition {partition_key!r} got rows of partition(s) {sorted(keys)}")
    path = staged_path(staging_dir, model, partition_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as sink:
            pq.write_table(table, sink, compression="zstd")
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, path)
    finally:
        # Only left behind when writing or renaming failed; the error still propagates.
        tmp.unlink(missing_ok=True)
    return path


def read_staged(path: Path) -> pa.Table:
    """A staged file back as a validated clip table."""
    return validate_clip_table(pq.read_table(Path(path)))
