"""Per-partition Parquet files: atomic writes, streamed row groups, lazy reads.

Every intermediate (probes, clips, frames, model tensors, embeddings) is one
Parquet file per asset and partition. Big payloads (frames, tensors) are written
one row group per clip, so neither writer nor reader ever holds a whole video.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"


class RowGroups(Protocol):
    """What the stage functions read a partition through: a `ParquetPart` on disk, or row
    groups held in memory inside a Ray worker (`engines.work.TableRows`)."""

    def iter_row_groups(self, columns: list[str] | None = None) -> Iterator[pa.Table]: ...


class TableSink(Protocol):
    """Where a stage writes its rows: a `StreamingParquetWriter`, or a collector in a Ray worker."""

    def write(self, table: pa.Table) -> None: ...


@dataclass(frozen=True)
class ParquetPart:
    """A stored partition of an asset, read on demand."""

    path: Path
    partition_key: str | None  # None: an unpartitioned asset

    def read(self, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.path, columns=columns)

    def iter_row_groups(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        with pq.ParquetFile(self.path) as f:
            for i in range(f.num_row_groups):
                yield f.read_row_group(i, columns=columns)

    @property
    def num_rows(self) -> int:
        with pq.ParquetFile(self.path) as f:
            return f.metadata.num_rows


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def write_table_atomic(table: pa.Table, path: Path) -> Path:
    """Write to a temp file beside ``path`` then rename: a crash leaves the old file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        pq.write_table(table, tmp, compression=COMPRESSION)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class StreamingParquetWriter:
    """Append row groups to a temp file; `commit()` renames it into place.

    Used as a context manager: leaving the block without `commit()` (an error)
    deletes the temp file, so the last good partition file stays.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.schema = schema
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _temp_beside(self.path)
        try:
            self._writer = pq.ParquetWriter(self._tmp, schema, compression=COMPRESSION)
        except BaseException:
            self._tmp.unlink(missing_ok=True)  # a writer that never opened leaves nothing behind
            raise
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.cast(self.schema))
        self.rows += table.num_rows

    def commit(self) -> Path:
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def __enter__(self) -> StreamingParquetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp.exists():
            self._writer.close()
            self._tmp.unlink(missing_ok=True)


ARRAY_FIELDS = [
    pa.field("shape", pa.list_(pa.int64())),
    pa.field("dtype", pa.string()),
    pa.field("data", pa.large_binary()),
]


def array_to_fields(array: np.ndarray) -> dict:
    """An ndarray as the (shape, dtype, data) columns of one row."""
    array = np.ascontiguousarray(array)
    return {"shape": list(array.shape), "dtype": array.dtype.str, "data": array.tobytes()}


def fields_to_array(row: dict) -> np.ndarray:
    return np.frombuffer(row["data"], dtype=np.dtype(row["dtype"])).reshape(row["shape"])
