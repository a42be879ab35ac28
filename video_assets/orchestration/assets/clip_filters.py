"""<model>_clip_filters: keep/drop per indexed clip with every reason that applies (thin: calls curation/).

Partitioned by video like the pipeline: a partition reads its own frames (motion, black,
frozen), its clips' index rows (duration, text scores) and the model's duplicates file,
and writes `<data>/assets/<model>_clip_filters/<partition>.parquet` through the IO
manager. Thresholds are the settings' `filters` section, fixed when the definitions load;
their hash is the code version, so changing one marks every partition stale.
"""

# No `from __future__ import annotations`: Dagster resolves resource types from real annotations.
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from video_assets.curation.damaged_part import checked_row_groups, rewrite_command
from video_assets.curation.filter_run import FILTER_SCHEMA, filter_partition, indexed_rows
from video_assets.orchestration.assets.metadata import column_schema
from video_assets.orchestration.assets.partitions import videos_partitions
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource
from video_assets.settings.config import load_settings_file
from video_assets.settings.filters import FilterSettings


def clip_filters_key(model: str) -> dg.AssetKey:
    return dg.AssetKey(f"{model}_clip_filters")


def clip_filters_assets(model_names: Sequence[str], settings: FilterSettings) -> list[dg.AssetsDefinition]:
    """One `<model>_clip_filters` asset per model, all with the same thresholds."""
    version = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:12]
    return [_clip_filters_asset(name, settings, version) for name in model_names]


def _clip_filters_asset(name: str, settings: FilterSettings, version: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{name}_clip_filters",
        partitions_def=videos_partitions,
        group_name=name,
        # frames: pixels; clip_index: the rows decided on (duration, text scores); duplicates: the flag.
        deps=["frames", dg.AssetKey(f"{name}_clip_index"), dg.AssetKey(f"{name}_duplicates")],
        kinds={"parquet"},
        metadata={"dagster/column_schema": column_schema(FILTER_SCHEMA)},
        code_version=version,
        description=f"Keep/drop of each of {name}'s indexed clips with every reason that applies "
        "(duration, frames, duplicate, text score, static, black, frozen) and its motion score.",
    )
    def clip_filters(
        context: dg.AssetExecutionContext, storage: StorageResource, lancedb: LanceDBResource
    ):  # -> MaterializeResult with a value (Dagster rejects that annotation)
        video_ids = [v.video_id for v in storage.registry().videos_in(context.partition_key)]
        rows = indexed_rows(lancedb.connect(), name, video_ids)
        frames = storage.upstream(context, "frames")
        fix = rewrite_command(storage.root, _input_dir(storage))
        row_groups = checked_row_groups(frames.path, frames.iter_row_groups(), what="frames", fix=fix)
        run = filter_partition(rows, row_groups, curation_dir=storage.paths.curation_dir, model=name, settings=settings)
        if run.duplicates == "absent":
            context.log.warning(
                f"no duplicates file for {name} ({run.duplicates_path}): no clip is marked duplicate; "
                f"materialize {name}_duplicates, then this partition again"
            )
        for text in run.texts_not_scored:
            context.log.warning(
                f"filters.min_text_score names {text!r}, which {name} did not score for these clips "
                f"(not in models.{name}.texts_to_verify): that threshold was not applied"
            )
        for clip_id in run.clips_without_frames:
            context.log.warning(f"clip {clip_id}: no frames in the frames partition")
        return dg.MaterializeResult(
            value=run.table,
            metadata={
                "dagster/row_count": run.table.num_rows,
                "kept": run.kept,
                "dropped": run.dropped,
                **{f"reason/{reason}": count for reason, count in run.counts.items()},
                "duplicates": run.duplicates,
                "duplicates_unknown_clips": run.duplicates_unknown,
                "texts_not_scored": run.texts_not_scored,
                "clips_without_frames": len(run.clips_without_frames),
                "settings": dg.MetadataValue.json(settings.model_dump(mode="json")),
            },
        )

    return clip_filters


def _input_dir(storage: StorageResource) -> Path | None:
    """The input folder `run` saved with the data directory's settings, for the advice; None if unknown."""
    try:
        return load_settings_file(storage.paths.settings_file).input_dir
    except Exception:  # noqa: BLE001 - any unreadable settings file only loses the folder in the advice
        return None


def clip_filters_job_name(model: str) -> str:
    """The job `video-assets filters` runs: named, so its runs read as what they are in the UI."""
    return f"filter_clips_{model}"


def clip_filters_job(asset: dg.AssetsDefinition, model: str, resources: Mapping[str, Any]) -> dg.JobDefinition:
    """`asset` (the model's `<model>_clip_filters`) as a job of its own with `resources`, run once per
    partition by the CLI (`dg.materialize` would run it as the anonymous `__ephemeral_asset_job__`)."""
    name = clip_filters_job_name(model)
    job = dg.define_asset_job(
        name, selection=[asset.key], description=f"Keep/drop {model}'s indexed clips of a partition, with every reason."
    )
    return dg.Definitions(assets=[asset], jobs=[job], resources=dict(resources)).resolve_job_def(name)
