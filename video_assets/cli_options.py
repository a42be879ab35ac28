"""Options several `video-assets` subcommands share, each added by one function so their help reads the same."""

from __future__ import annotations

import argparse

# `cli._settings` turns --output into the data directory every command reads (and `run` writes).
DATA_DIR_HELP = "data directory (default: ./data or $VIDEO_ASSETS_DATA_DIR)"


def add_output(parser: argparse.ArgumentParser) -> None:
    """`--output`: the data directory."""
    parser.add_argument("--output", help=DATA_DIR_HELP)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress bar (`run_progress.phase_bars`; `--json` implies it)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr; the summary only")


def add_output_and_json(parser: argparse.ArgumentParser, json_help: str) -> None:
    """`--output`, then `--json` (what it prints is the command's own): the last options of the commands
    that read a data directory and can answer in JSON."""
    add_output(parser)
    parser.add_argument("--json", action="store_true", help=json_help)


def picked(args: argparse.Namespace, *names: str) -> dict[str, object]:
    """`{name: args.name}` for options a command passes on unchanged under their own names."""
    return {name: getattr(args, name) for name in names}
