"""The curation columns beside index rows: duplicates and filter decisions, joined on clip_id.

Readers (`clips --where`, `export`) see one set of columns per clip:
dup_group, dup_keep, sim_to_kept, group_size, cluster_id (from `<model>_duplicates.parquet`) and
filter_keep, filter_reasons, motion (from the `<model>_clip_filters` partitions). The
"duplicate" reason follows the duplicates file as it is now, not as it was when a
partition's filters ran: a duplicates run between the two would otherwise leave a clip
dropped as a duplicate that is now its group's kept clip (or the reverse) until the
curation sensor reruns that partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from video_assets.curation.clip_filters import REASONS
from video_assets.curation.duplicates import output_path, read_output
from video_assets.settings.data_paths import DataPaths

# Name -> type of every curation column, as joined beside index rows (null where unknown).
DUP_TYPES = {
    "dup_group": pa.string(),
    "dup_keep": pa.bool_(),
    "sim_to_kept": pa.float64(),
    "group_size": pa.int64(),
    "cluster_id": pa.int64(),
}
FILTER_TYPES = {"filter_keep": pa.bool_(), "filter_reasons": pa.list_(pa.string()), "motion": pa.float64()}
CURATION_TYPES = {**DUP_TYPES, **FILTER_TYPES}
# The names `where_eval.curation_names` gives a filter's terms on these columns ("reason": reason(...)).
FILTER_TERMS = frozenset({*FILTER_TYPES, "reason"})


@dataclass(frozen=True)
class CurationInfo:
    duplicates: bool  # a duplicates file exists
    filters: bool  # at least one clip_filters partition exists
    without_dup_info: int  # clips the duplicates file does not know
    without_filters: int  # clips no filters partition decided on


def filters_dir(assets_dir: Path, model: str) -> Path:
    return Path(assets_dir) / f"{model}_clip_filters"


def read_filters(assets_dir: Path, model: str, columns: list[str] | None = None) -> pa.Table | None:
    """Every stored `<model>_clip_filters` partition in one table; None when there is none."""
    parts = sorted(filters_dir(assets_dir, model).glob("*.parquet"))
    tables = [pq.read_table(p, columns=columns) for p in parts if not p.name.startswith(".")]
    return pa.concat_tables(tables) if tables else None


def unfiltered_clips(assets_dir: Path, model: str, clips: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """{partition: its clips (of `clips`, the table's clips per partition) that the partition's stored filters
    file does not decide on}, for the partitions with any: no file, or one written before some of its clips.

    Read from the data directory, not from Dagster's materialization records: an instance shared with
    another data directory records filters runs whose files are not here."""
    out: dict[str, list[str]] = {}
    folder = filters_dir(assets_dir, model)
    for partition, ids in clips.items():
        path = folder / f"{partition}.parquet"
        stored = set(pq.read_table(path, columns=["clip_id"]).column("clip_id").to_pylist()) if path.exists() else set()
        if missing := sorted(c for c in ids if c not in stored):
            out[partition] = missing
    return out


def partition_duplicate_flags(assets_dir: Path, model: str) -> dict[str, dict[str, bool | None]]:
    """{partition key: {clip_id: duplicate flag as that partition's filters stored it}}."""
    out: dict[str, dict[str, bool | None]] = {}
    for path in sorted(filters_dir(assets_dir, model).glob("*.parquet")):
        if not path.name.startswith("."):
            part = pq.read_table(path, columns=["clip_id", "duplicate"])
            out[path.stem] = dict(zip(part.column("clip_id").to_pylist(), part.column("duplicate").to_pylist()))
    return out


def curation_columns(data_dir: Path, model: str, clip_ids: Iterable[str] | pa.Array) -> tuple[pa.Table, CurationInfo]:
    """CURATION_TYPES columns for `clip_ids`, in their order; null where the clip is unknown."""
    ids = clip_ids if isinstance(clip_ids, (pa.Array, pa.ChunkedArray)) else pa.array(list(clip_ids), pa.string())
    data_dir = Path(data_dir)
    paths = DataPaths.under(data_dir)
    dup_path = output_path(paths.curation_dir, model)
    dups = read_output(dup_path, columns=["clip_id", *DUP_TYPES]) if dup_path.exists() else None
    filters = read_filters(paths.assets_dir, model, ["clip_id", "filter_reasons", "motion"])
    columns: dict[str, pa.Array] = {}
    at = _positions(ids, dups)
    for name, type_ in DUP_TYPES.items():
        columns[name] = (
            dups.column(name).combine_chunks().take(at).cast(type_) if dups is not None else pa.nulls(len(ids), type_)
        )
    reasons = _stored_reasons(ids, filters)
    if dups is not None:  # the duplicate reason follows the duplicates file as it is now
        reasons = [_with_duplicate(r, keep) for r, keep in zip(reasons, columns["dup_keep"].to_pylist())]
    columns["filter_reasons"] = pa.array(reasons, FILTER_TYPES["filter_reasons"])
    columns["filter_keep"] = pa.array([None if r is None else not r for r in reasons], pa.bool_())
    f_at = _positions(ids, filters)
    columns["motion"] = (
        filters.column("motion").combine_chunks().take(f_at)
        if filters is not None
        else pa.nulls(len(ids), pa.float64())
    )
    table = pa.table({name: columns[name] for name in CURATION_TYPES})
    info = CurationInfo(
        duplicates=dups is not None,
        filters=filters is not None,
        without_dup_info=table.column("dup_keep").null_count if dups is not None else len(ids),
        without_filters=table.column("filter_keep").null_count,
    )
    return table, info


def _positions(ids: pa.Array, table: pa.Table | None) -> pa.Array:
    if table is None:
        return pa.nulls(len(ids), pa.int32())
    return pc.index_in(ids, value_set=table.column("clip_id").combine_chunks())


def _stored_reasons(ids: pa.Array, filters: pa.Table | None) -> list[list[str] | None]:
    if filters is None:
        return [None] * len(ids)
    return filters.column("filter_reasons").combine_chunks().take(_positions(ids, filters)).to_pylist()


def _with_duplicate(reasons: list[str] | None, keep: bool | None) -> list[str] | None:
    if reasons is None or keep is None:
        return reasons
    found = (set(reasons) - {"duplicate"}) | ({"duplicate"} if not keep else set())
    return [r for r in REASONS if r in found]
