"""What the `video-assets` command groups share: the settings a command works with, common options (each added
by one function so their help reads the same), the version and the unknown-model message."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from video_assets.settings.config import Settings
from video_assets.settings.data_paths import DataPaths

# `settings_from_args` turns --output into the data directory every command reads (and `run` writes).
DATA_DIR_HELP = "data directory (default: ./data or $VIDEO_ASSETS_DATA_DIR)"


def add_output(parser: argparse.ArgumentParser) -> None:
    """`--output`: the data directory."""
    parser.add_argument("--output", help=DATA_DIR_HELP)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress bar (`app.progress.phase_bars`; `--json` implies it)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr; the summary only")


def add_output_and_json(parser: argparse.ArgumentParser, json_help: str) -> None:
    """`--output`, then `--json` (what it prints is the command's own): the last options of the commands
    that read a data directory and can answer in JSON."""
    add_output(parser)
    parser.add_argument("--json", action="store_true", help=json_help)


def picked(args: argparse.Namespace, *names: str) -> dict[str, object]:
    """`{name: args.name}` for options a command passes on unchanged under their own names."""
    return {name: getattr(args, name) for name in names}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings a command works with: the environment's, the data dir's saved ones (not for `run`), then its options."""
    settings = Settings.from_env()
    saved = DataPaths.under(args.output).settings_file if getattr(args, "output", None) else None
    if saved and saved.exists() and args.command != "run" and "VIDEO_ASSETS_SETTINGS" not in os.environ:
        # The settings the data dir was built with (written by `run`): a query file is then
        # cut into clips and framed exactly as the indexed videos were.
        settings = Settings.load(saved)
    update = {}
    if getattr(args, "input", None):
        update["input_dir"] = Path(args.input)
    if getattr(args, "output", None):
        update["data_dir"] = Path(args.output)
    if getattr(args, "models", None):
        update["enabled_models"] = tuple(args.models.split(","))
    if getattr(args, "videos_per_partition", None):
        update["videos_per_partition"] = args.videos_per_partition
    return Settings.model_validate({**settings.model_dump(), **update}) if update else settings


def unknown_model_message(err: Exception) -> str | None:
    """For a missing clip table of a model that is not registered (a typo in --model): say so and list the
    registered ones, instead of advising to materialize a model that does not exist."""
    from video_assets.index.errors import ClipTableNotFoundError
    from video_assets.models.embedder_registry import registered

    if not isinstance(err, ClipTableNotFoundError):
        return None
    names = registered()
    if err.model in names:
        return None
    known = ", ".join(sorted(names))
    return f"unknown embedder {err.model!r} (no clip table {err.table!r} in the index); registered: {known}"


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("video-assets")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"
