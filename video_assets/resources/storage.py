"""Where intermediates live, and the IO manager that stores one Parquet file per partition."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa

from video_assets.parquet_parts import ParquetPart, StreamingParquetWriter, write_table_atomic
from video_assets.registry import VideoRegistry


def part_path(base_dir: str | Path, asset_key: dg.AssetKey, partition_key: str) -> Path:
    return Path(base_dir).joinpath(*asset_key.path) / f"{partition_key}.parquet"


class StorageResource(dg.ConfigurableResource):
    """The data directory: registry, per-partition intermediates, clip files, staged index rows."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def assets_dir(self) -> Path:
        return self.root / "assets"

    @property
    def clips_dir(self) -> Path:
        return self.root / "clips"

    def registry(self) -> VideoRegistry:
        return VideoRegistry(self.root / "registry.sqlite")

    def writer(self, context: dg.AssetExecutionContext, schema: pa.Schema) -> StreamingParquetWriter:
        """A streaming writer for this asset's partition file (the IO manager's path)."""
        return StreamingParquetWriter(part_path(self.assets_dir, context.asset_key, context.partition_key), schema)


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores a partition as ``<base_dir>/<asset>/<partition>.parquet``, written atomically.

    Assets return a `pyarrow.Table` (written here) or a `ParquetPart` they streamed
    to the same path themselves. Inputs load lazily as `ParquetPart`, or as
    ``{partition_key: ParquetPart}`` when a step reads several partitions.
    """

    base_dir: str

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | ParquetPart) -> None:
        path = part_path(self.base_dir, context.asset_key, context.partition_key)
        if isinstance(obj, pa.Table):
            write_table_atomic(obj, path)
        elif isinstance(obj, ParquetPart):
            if obj.path.resolve() != path.resolve():
                raise ValueError(f"{context.asset_key.to_user_string()}: part written to {obj.path}, expected {path}")
        else:
            raise TypeError(f"expected a pyarrow.Table or ParquetPart, got {type(obj).__name__}")
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> ParquetPart | dict[str, ParquetPart]:
        keys = context.asset_partition_keys
        parts = {}
        for key in keys:
            path = part_path(self.base_dir, context.asset_key, key)
            if not path.exists():
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} partition {key!r} has no stored data at {path}: "
                    "materialize it first"
                )
            parts[key] = ParquetPart(path, key)
        if len(keys) == 1:
            return parts[keys[0]]
        return parts
