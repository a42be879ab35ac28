"""`video-assets`: run the graph, search the index, curate, manage model weights."""

from __future__ import annotations

import argparse
import os
import sys

from video_assets.app.user_errors import USER_ERRORS, user_message
from video_assets.catalog.shown_names import escape_name
from video_assets.cli import browse, curation, export, inspect, quarantine, query, remove, run, verify
from video_assets.cli.common import version_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="video-assets", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version_text()}")
    sub = parser.add_subparsers(dest="command", required=True)
    # One `register(sub)` per command group, in the order `--help` lists them.
    for group in (run, remove, verify, quarantine, inspect, query, curation, export, browse):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "models" and args.action == "download" and not args.name:
        print("video-assets models download NAME: name a model (see `video-assets models list`)", file=sys.stderr)
        return 2
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return closed_pipe()
    except USER_ERRORS as err:
        # Bad input and missing weights/tables: one clear line, no traceback.
        print(f"video-assets {args.command}: error: {escape_name(user_message(err))}", file=sys.stderr)
        return 2


def closed_pipe() -> int:
    """The reader of stdout went away (`video-assets search ... | head -1`): stop quietly with 141 (128 +
    SIGPIPE, what a shell reports for a command killed by a closed pipe). Stdout points at devnull first,
    so the interpreter's final flush of what is still buffered cannot raise again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    sys.exit(main())
