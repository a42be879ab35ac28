"""<model>_duplicates: near-duplicate groups over a model's whole clip table (thin: calls curation/).

Unpartitioned and downstream of the partitioned `<model>_clip_index` through `deps=`
only, so a run never loads a partition; it reads the table at one version. Each run
compares only the clips added or changed since the last one (curation/duplicates.py).
"""

# No `from __future__ import annotations`: Dagster resolves Config and resource types from real annotations.

import dagster as dg
from pydantic import Field

from video_assets.curation.clustering import DEFAULT_MAX_PROBES
from video_assets.curation.duplicates import default_threshold, threshold_in_force, update_duplicates
from video_assets.curation.sources import read_source_facts
from video_assets.orchestration.assets.metadata import seconds
from video_assets.orchestration.assets.model_table import model_table_asset
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource


class DuplicatesConfig(dg.Config):
    # Cosine at or above which two clips are duplicates; None = the model's default
    # (calibrated per model revision: models/thresholds.py; learned models 0.99).
    threshold: float | None = Field(None, ge=-1.0, le=1.0)
    # Retrain the k-means centroids and compare every clip (else only new and changed clips).
    full: bool = False
    # k-means clusters; None = about sqrt(clips).
    n_clusters: int | None = Field(None, ge=1)
    # Neighbouring clusters a clip is compared with at most (clustering.py); more = exact on unclustered data.
    max_probes: int = Field(DEFAULT_MAX_PROBES, ge=0)


def duplicates_asset(name: str) -> dg.AssetsDefinition:
    """The `<model>_duplicates` asset for model `name`."""

    @model_table_asset(
        name,
        "duplicates",
        kinds={"parquet"},
        code_version="1",
        description=f"Near-duplicate groups of {name}'s clips (cosine >= {default_threshold(name)} by default), "
        "the clip each group keeps, and a k-means cluster id per clip: "
        f"`<data>/curation/{name}_duplicates.parquet`.",
    )
    def duplicates(
        context: dg.AssetExecutionContext, config: DuplicatesConfig, lancedb: LanceDBResource, storage: StorageResource
    ) -> dg.MaterializeResult:
        choice = threshold_in_force(name, given=config.threshold, given_by="run config: threshold")
        result = update_duplicates(
            lancedb.connect(),
            name,
            storage.paths.curation_dir,
            threshold=choice.value,
            sources=read_source_facts(storage.root),
            full=config.full,
            max_probes=config.max_probes,
            n_clusters=config.n_clusters,
        )
        context.log.info(
            f"{name}: {result.mode} run over {result.clips} clips ({result.new_clips} compared, "
            f"{result.removed_clips} gone or changed): {result.groups} groups, {result.clips_marked} clips marked"
        )
        if result.capped_clips:
            context.log.warning(
                f"{result.capped_clips} clips lie near more than max_probes={config.max_probes} "
                "cluster boundaries: their pairs across the farther ones may be missed"
            )
        meta = result.metadata()
        meta["histogram"] = dg.MetadataValue.md(meta["histogram"])
        meta["path"] = dg.MetadataValue.path(result.path)
        meta["seconds"] = seconds(result.seconds)
        meta["threshold"] = dg.MetadataValue.float(round(result.threshold, 4))
        meta["threshold_origin"] = dg.MetadataValue.text(choice.origin)
        meta["dagster/row_count"] = dg.MetadataValue.int(result.clips)
        return dg.MaterializeResult(metadata=meta)

    return duplicates
