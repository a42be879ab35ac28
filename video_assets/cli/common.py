"""What the `video-assets` command groups share: the settings a command works with, common options (each added
by one function so their help reads the same), the version and the unknown-model message."""

from __future__ import annotations

import argparse

from video_assets.catalog.registry import VideoRegistry
from video_assets.settings.config import Settings
from video_assets.settings.options import settings_from_options

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
    """The settings a command works with (settings.options: the environment's, the data dir's saved ones
    except for `run`, then its options); `browse` resolves its own the same way."""
    return settings_from_options(
        args.command,
        output=getattr(args, "output", None),
        input_dir=getattr(args, "input", None),
        models=getattr(args, "models", None),
        videos_per_partition=getattr(args, "videos_per_partition", None),
        ray=getattr(args, "ray", None),
    )


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("video-assets")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def existing_registry(settings: Settings) -> VideoRegistry:
    """The data directory's video registry; a clear error when the directory holds none (a wrong --output)."""
    if not settings.paths.registry.is_file():
        raise FileNotFoundError(f"no video registry at {settings.paths.registry}: give the data directory (--output)")
    return VideoRegistry(settings.paths.registry)
