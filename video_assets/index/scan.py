"""Every row of a clip table, read in batches at one pinned version (for whole-table passes such as dedup)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lancedb
import numpy as np
import pyarrow as pa

from video_assets.index.connection import open_clip_table
from video_assets.index.schema import vector_dim

DEFAULT_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class TableScan:
    """The table's rows at `version`: `columns` (no vector) and the vectors as one (N, dim) float32 matrix."""

    model: str
    version: int
    columns: pa.Table
    vectors: np.ndarray


def scan_clip_table(
    db: lancedb.DBConnection, model: str, columns: Sequence[str], *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> TableScan:
    """Read `columns` and the vectors of every row of the model's table at its latest version.

    The vectors go straight into one preallocated matrix batch by batch, so a 1M x 768 table
    costs its 3 GB once instead of twice (Arrow copy + numpy copy). Row order is the scan's.
    """
    table = open_clip_table(db, model)
    table.checkout(table.version)  # the count and the scan below see one version, even while a commit lands
    dim = vector_dim(table.schema)
    total = table.count_rows()
    vectors = np.empty((total, dim), dtype=np.float32)
    wanted = [c for c in columns if c != "vector"]
    parts: list[pa.RecordBatch] = []
    filled = 0
    reader = table.search().select([*wanted, "vector"]).limit(None).to_batches(batch_rows)
    for batch in reader:
        n = batch.num_rows
        if filled + n > total:
            raise RuntimeError(f"{table.name} v{table.version} returned more rows than its count {total}")
        flat = batch.column("vector").flatten().to_numpy(zero_copy_only=False)
        vectors[filled : filled + n] = flat.reshape(n, dim)
        parts.append(batch.drop_columns(["vector"]))
        filled += n
    if filled != total:
        raise RuntimeError(f"{table.name} v{table.version}: scanned {filled} rows, counted {total}")
    cols = pa.Table.from_batches(parts) if parts else pa.schema([table.schema.field(c) for c in wanted]).empty_table()
    return TableScan(model, table.version, cols, vectors)
