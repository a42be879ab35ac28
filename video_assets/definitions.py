"""The one Definitions object: every asset, check, resource, sensor and job is found here."""

from __future__ import annotations

import dagster as dg

from video_assets.assets.clip_filters import clip_filters_assets
from video_assets.assets.curation_sensor import build_curation_sensor
from video_assets.assets.duplicates import duplicates_asset
from video_assets.assets.embeddings import model_assets
from video_assets.assets.export import export_asset
from video_assets.assets.index_maintenance import optimize_index_sensor, optimized_index_asset
from video_assets.assets.ledger_sensor import build_failed_run_sensor
from video_assets.assets.media import media_assets
from video_assets.assets.qa_job import build_ask_job
from video_assets.assets.removal import build_removal_job
from video_assets.assets.sensors import build_video_sensor
from video_assets.config import Settings
from video_assets.resolved import Resolved, resolve
from video_assets.resources.execution import ExecutionResource
from video_assets.resources.gpu import GpuResource
from video_assets.resources.lancedb import LanceDBResource
from video_assets.resources.model_hub import ModelHubResource
from video_assets.resources.storage import PartitionedParquetIOManager, StorageResource

EMBED_JOB = "embed_videos"


def build_definitions(settings: Settings | Resolved) -> dg.Definitions:
    """Every definition, from settings resolved once (`resolved.resolve`): the assets, their
    code versions and the resources all read the same values, and nothing is re-read at run
    time (the launchpad has no pipeline settings to edit; see resolved.py)."""
    resolved = settings if isinstance(settings, Resolved) else resolve(settings)
    settings = resolved.settings
    paths = resolved.paths
    required = resolved.required_index_versions
    media = media_assets(resolved)
    model_defs = [asset for plan in resolved.models for asset in model_assets(plan, required, settings.tensor_dtype)]
    names = resolved.model_names
    embed_job = dg.define_asset_job(
        EMBED_JOB,
        selection=dg.AssetSelection.assets(*media, *model_defs),
        description="Probe, clip, extract frames, embed and index the videos of one partition.",
        # One process per run: models load once and stay cached; the multiprocess executor
        # starts a process per step that re-imports torch and reloads the model
        # (about 50 s vs 7 s per queued run, benchmarks/RESULTS.md "Dagster scale").
        executor_def=dg.in_process_executor,
    )
    # Curation assets (issue 13) downstream of the index: one factory call per module.
    curation: list[dg.AssetsDefinition] = [
        *map(duplicates_asset, names),
        *clip_filters_assets(names, settings.filters),
        *map(export_asset, names),
    ]
    return dg.Definitions(
        assets=[*media, *model_defs, *map(optimized_index_asset, names), *curation],
        jobs=[embed_job, build_removal_job(names), build_ask_job(settings)],
        sensors=[
            build_video_sensor(embed_job, settings),
            optimize_index_sensor(names),
            build_failed_run_sensor(embed_job),
            build_curation_sensor(names),
        ],
        resources={
            "io_manager": PartitionedParquetIOManager(base_dir=str(paths.assets_dir)),
            "storage": StorageResource(data_dir=str(paths.data_dir)),
            "lancedb": LanceDBResource(uri=paths.lancedb_uri),
            "model_hub": ModelHubResource(model_dir=str(paths.model_dir)),
            "gpu": GpuResource(device=settings.device, dtype=settings.dtype),
            "execution": ExecutionResource.of(settings.execution),
        },
    )


defs = build_definitions(Settings.from_env())
