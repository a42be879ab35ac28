"""The settings a command runs with, from its options: the CLI's commands and `browse` resolve them alike."""

from __future__ import annotations

import os
from pathlib import Path

from video_assets.settings.config import Settings
from video_assets.settings.data_paths import DataPaths


def settings_from_options(
    command: str,
    *,
    output: str | Path | None = None,
    input_dir: str | Path | None = None,
    models: str | None = None,
    videos_per_partition: int | None = None,
    ray: str | None = None,
) -> Settings:
    """The environment's settings, or those the data dir `output` was built with, with the options on top.

    Every command but `run` reads `<output>/settings.json` (written by `run`) unless
    VIDEO_ASSETS_SETTINGS names a file: a query file is then cut into clips and framed
    exactly as the indexed videos were."""
    settings = Settings.from_env()
    saved = DataPaths.under(output).settings_file if output else None
    if saved and saved.exists() and command != "run" and "VIDEO_ASSETS_SETTINGS" not in os.environ:
        settings = Settings.load(saved)
    update: dict[str, object] = {}
    if input_dir:
        update["input_dir"] = Path(input_dir)
    if output:
        update["data_dir"] = Path(output)
    if models:
        update["enabled_models"] = tuple(models.split(","))
    if videos_per_partition:
        update["videos_per_partition"] = videos_per_partition
    if ray:  # run --ray ADDRESS: the settings' execution, on that cluster
        update["execution"] = {**settings.execution.model_dump(), "engine": "ray", "address": ray}
    return Settings.model_validate({**settings.model_dump(), **update}) if update else settings
