"""The one Definitions object: every asset, check, resource, sensor and job is found here.

Importing this module builds nothing: `video_assets.definitions` (the code location) calls
`build_definitions` once with the settings of the environment."""

from __future__ import annotations

import dagster as dg

from video_assets.orchestration.assets.clip_filters import clip_filters_assets
from video_assets.orchestration.assets.curation_sensor import build_curation_sensor
from video_assets.orchestration.assets.duplicates import duplicates_asset
from video_assets.orchestration.assets.embeddings import model_assets
from video_assets.orchestration.assets.export import export_asset
from video_assets.orchestration.assets.index_maintenance import optimize_index_sensor, optimized_index_asset
from video_assets.orchestration.assets.ledger_sensor import build_failed_run_sensor
from video_assets.orchestration.assets.media import media_assets
from video_assets.orchestration.assets.qa_job import build_ask_job
from video_assets.orchestration.assets.removal import build_removal_job
from video_assets.orchestration.assets.sensors import build_video_sensor
from video_assets.orchestration.resources.execution import ExecutionResource
from video_assets.orchestration.resources.gpu import GpuResource
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.model_hub import ModelHubResource
from video_assets.orchestration.resources.storage import PartitionedParquetIOManager, StorageResource
from video_assets.settings.config import Settings
from video_assets.stages.resolved import Resolved, resolve

EMBED_JOB = "embed_videos"


def build_definitions(settings: Settings | Resolved) -> dg.Definitions:
    """Every definition, from settings resolved once (`resolved.resolve`): the assets, their
    code versions and the resources all read the same values, and nothing is re-read at run
    time (the launchpad has no pipeline settings to edit; see stages/resolved.py)."""
    resolved = settings if isinstance(settings, Resolved) else resolve(settings)
    settings = resolved.settings
    paths = resolved.paths
    required = resolved.required_index_versions
    media = media_assets(resolved)
    model_defs = [asset for plan in resolved.models for asset in model_assets(plan, required, settings.tensor_dtype)]
    names = resolved.model_names
    embed_job = dg.define_asset_job(
        EMBED_JOB,
        # The checks are not planned: a partition whose asset step fails must record no check
        # evaluation; the steps record them when their asset materializes (check_evaluations.py).
        selection=dg.AssetSelection.assets(*media, *model_defs).without_checks(),
        description="Probe, clip, extract frames, embed and index the videos of one partition.",
    )
    # Curation assets (issue 13) downstream of the index: one factory call per module.
    curation: list[dg.AssetsDefinition] = [
        *map(duplicates_asset, names),
        *clip_filters_assets(names, settings.filters),
        *map(export_asset, names),
    ]
    return dg.Definitions(
        # Every job's default, the UI's asset materializations and backfills (`__ASSET_JOB`) included:
        # one process per run, so models load once and stay cached. The multiprocess executor starts
        # a process per step that re-imports torch and reloads the model (about 50 s vs 7 s per queued
        # run, benchmarks/RESULTS.md "Dagster scale"; a UI backfill cost 13x `run --all` with it).
        executor=dg.in_process_executor,
        assets=[*media, *model_defs, *map(optimized_index_asset, names), *curation],
        jobs=[embed_job, build_removal_job(names), build_ask_job(settings)],
        sensors=[
            build_video_sensor(embed_job, settings),
            optimize_index_sensor(names),
            build_failed_run_sensor([*media, *model_defs], EMBED_JOB),
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
