"""Reading `<model>_duplicates.parquet`: the groups, and the dup columns beside index rows.

The columns live in their own Parquet file keyed by clip_id rather than in the
LanceDB table (docs/curation.md says why): a reader joins them on clip_id, and
`table_version` says which table version they describe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from video_assets.curation.duplicates import output_path, read_output

DUP_COLUMNS = ("dup_group", "dup_keep", "sim_to_kept", "group_size", "cluster_id")


@dataclass(frozen=True)
class DupGroup:
    group: str  # the kept clip's id
    clips: list[dict[str, Any]]  # kept clip first, then by similarity to it (highest first)


def read_duplicates(curation_dir: Path, model: str) -> pa.Table:
    """The stored result; FileNotFoundError naming the command that makes it."""
    path = output_path(curation_dir, model)
    if not path.exists():
        raise FileNotFoundError(
            f"no duplicates for {model} at {path}: run `video-assets duplicates --model {model}` "
            f"or materialize {model}_duplicates"
        )
    return read_output(path)


def result_info(table: pa.Table) -> dict[str, str]:
    """model, table_version and threshold the result was computed for."""
    return {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}


def groups(table: pa.Table) -> list[DupGroup]:
    """Every group, largest first (then by kept clip id), each with its kept clip first."""
    grouped = table.filter(pc.is_valid(table.column("dup_group"))).to_pylist()
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in grouped:
        by_group.setdefault(row["dup_group"], []).append(row)
    out = [
        DupGroup(g, sorted(rows, key=lambda r: (not r["dup_keep"], -r["sim_to_kept"], r["clip_id"])))
        for g, rows in by_group.items()
    ]
    return sorted(out, key=lambda g: (-len(g.clips), g.group))


def duplicate_columns(curation_dir: Path, model: str, clip_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{clip_id: {dup_group, dup_keep, sim_to_kept, group_size, cluster_id}} for the given index rows' ids;
    a clip the result does not know (indexed after it was computed) is absent."""
    table = read_duplicates(curation_dir, model)
    wanted = pa.array(list(clip_ids), pa.string())
    rows = table.filter(pc.is_in(table.column("clip_id"), value_set=wanted)).select(["clip_id", *DUP_COLUMNS])
    return {row.pop("clip_id"): row for row in rows.to_pylist()}
