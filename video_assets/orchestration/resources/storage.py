"""Where intermediates live, and the IO manager that stores one Parquet file per partition."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import get_origin

import dagster as dg
import pyarrow as pa

from video_assets.catalog.registry import VideoRegistry
from video_assets.settings.data_paths import DataPaths
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter, write_table_atomic


def part_path(base_dir: str | Path, asset_key: dg.AssetKey, partition_key: str | None) -> Path:
    """``<base>/<asset>/<partition>.parquet``; ``<base>/<asset>.parquet`` for an unpartitioned asset."""
    if partition_key is None:
        return Path(base_dir).joinpath(*asset_key.path).with_suffix(".parquet")
    return Path(base_dir).joinpath(*asset_key.path) / f"{partition_key}.parquet"


def _expects_mapping(context: dg.InputContext) -> bool:
    """Whether the input is annotated as a dict: then it is one even for a single partition."""
    try:
        typing_type = context.dagster_type.typing_type
    except dg.DagsterInvariantViolationError:  # a context built by hand, without a type
        return False
    return typing_type in (dict, Mapping) or get_origin(typing_type) in (dict, Mapping)


def stored_part(base_dir: str | Path, asset_key: dg.AssetKey, partition_key: str | None) -> ParquetPart:
    """The stored file of one partition (or of an unpartitioned asset); a clear error if absent."""
    path = part_path(base_dir, asset_key, partition_key)
    if not path.exists():
        which = f"partition {partition_key!r}" if partition_key is not None else "output"
        raise FileNotFoundError(
            f"{asset_key.to_user_string()} {which} has no stored data at {path}: materialize it first"
        )
    return ParquetPart(path, partition_key)


class StorageResource(dg.ConfigurableResource):
    """The data directory: registry, per-partition intermediates, clip files, staged index rows."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def paths(self) -> DataPaths:
        return DataPaths.under(self.data_dir)

    @property
    def assets_dir(self) -> Path:
        return self.paths.assets_dir

    @property
    def clips_dir(self) -> Path:
        return self.paths.clips_dir

    def registry(self) -> VideoRegistry:
        return VideoRegistry(self.paths.registry)

    def upstream(self, context: dg.AssetExecutionContext, asset: str) -> ParquetPart:
        """This partition of an upstream asset the step names in ``deps`` (the IO manager's file).

        Reading through ``deps`` rather than an IO-manager input keeps the same lineage,
        ordering and data-version provenance, without the two input events per input that
        each cost a write to the instance (benchmarks/RESULTS.md "Dagster scale").
        """
        return stored_part(self.assets_dir, dg.AssetKey(asset), context.partition_key)

    def writer(self, context: dg.AssetExecutionContext, schema: pa.Schema) -> StreamingParquetWriter:
        """A streaming writer for this asset's partition file (the IO manager's path)."""
        return StreamingParquetWriter(part_path(self.assets_dir, context.asset_key, context.partition_key), schema)


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores a partition as ``<base_dir>/<asset>/<partition>.parquet``, written atomically.

    Assets return a `pyarrow.Table` (written here) or a `ParquetPart` they streamed
    to the same path themselves. Inputs load lazily as `ParquetPart`, or as
    ``{partition_key: ParquetPart}`` when a step reads several partitions or the
    input is annotated as a dict. An unpartitioned asset is ``<base_dir>/<asset>.parquet``.
    """

    base_dir: str

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | ParquetPart) -> None:
        if context.has_asset_partitions and len(context.asset_partition_keys) != 1:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: one output for {len(context.asset_partition_keys)} "
                "partitions; each video partition is its own file, so backfill with one run per partition"
            )
        key = context.asset_partition_key if context.has_asset_partitions else None
        path = part_path(self.base_dir, context.asset_key, key)
        if isinstance(obj, pa.Table):
            write_table_atomic(obj, path)
        elif isinstance(obj, ParquetPart):
            if obj.path.resolve() != path.resolve():
                raise ValueError(f"{context.asset_key.to_user_string()}: part written to {obj.path}, expected {path}")
        else:
            raise TypeError(f"expected a pyarrow.Table or ParquetPart, got {type(obj).__name__}")
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> ParquetPart | dict[str, ParquetPart]:
        if not context.has_asset_partitions:
            return self._part(context, None)
        keys = context.asset_partition_keys
        parts = {key: self._part(context, key) for key in keys}
        # A step reading several partitions gets them all at once (single-run backfill,
        # or an unpartitioned consumer); the type follows the annotation, not the count.
        if len(keys) == 1 and not _expects_mapping(context):
            return parts[keys[0]]
        return parts

    def _part(self, context: dg.InputContext, key: str | None) -> ParquetPart:
        return stored_part(self.base_dir, context.asset_key, key)
