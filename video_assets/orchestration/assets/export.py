"""<model>_export: the model's clips and embeddings as files for training or review (thin: calls curation/).

Unpartitioned and downstream of the partitioned `<model>_clip_index` through `deps=` only,
so a run never loads a partition; it reads the table at one version and writes
`<data>/exports/<model>/<format>/` (replaced atomically on each run; curation/export.py).
"""

# No `from __future__ import annotations`: Dagster resolves Config and resource types from real annotations.

import dagster as dg
from pydantic import Field

from video_assets.curation.export import DEFAULT_SHARD_SIZE, FORMATS, check_format, export_clips
from video_assets.orchestration.assets.metadata import seconds
from video_assets.orchestration.assets.model_table import model_table_asset
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource


class ExportConfig(dg.Config):
    # parquet, webdataset or jsonl (curation/export_formats.py).
    format: str = "parquet"
    # Drop clips that are not the kept clip of their duplicate group or that <model>_clip_filters drop.
    kept_only: bool = False
    # The filter language of `video-assets clips`, e.g. "duration_s > 3 AND dup_keep = true"; None = every clip.
    where: str | None = None
    # Samples per webdataset shard.
    shard_size: int = Field(DEFAULT_SHARD_SIZE, ge=1)


def export_asset(name: str) -> dg.AssetsDefinition:
    """The `<model>_export` asset for model `name`."""

    @model_table_asset(
        name,
        "export",
        also_after=("duplicates", "clip_filters"),
        kinds={"parquet"},
        code_version="1",
        description=f"{name}'s clips with embeddings, text matches, duplicate and filter columns as "
        f"{' / '.join(FORMATS)} files: `<data>/exports/{name}/<format>/` (manifest in `export.json`).",
    )
    def export(
        context: dg.AssetExecutionContext, config: ExportConfig, lancedb: LanceDBResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        check_format(config.format, config.shard_size)
        result = export_clips(
            lancedb.connect(),
            name,
            storage.paths.exports_dir / name / config.format,
            fmt=config.format,
            data_dir=storage.root,
            kept_only=config.kept_only,
            where=config.where,
            shard_size=config.shard_size,
        )
        context.log.info(f"{name}: {result.rows} clips -> {result.path} ({len(result.files)} files)")
        (context.log.warning if result.incomplete else context.log.info)(result.note())
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "rows": result.rows,
                "files": len(result.files),
                "format": result.format,
                "table_version": result.table_version,
                "kept_only": result.kept_only,
                "where": result.where or "",
                "duplicates": result.note(),
                "clips_without_dup_info": result.clips_without_dup_info,
                "filters": result.filters,
                "clips_without_filters": result.clips_without_filters,
                "dropped_by_kept_only": result.dropped_by_kept_only,
                "seconds": seconds(result.seconds),
                "path": dg.MetadataValue.path(result.path),
            }
        )

    return export
