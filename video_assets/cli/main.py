"""`video-assets`: run the graph, search the index, curate, manage model weights."""

from __future__ import annotations

import argparse
import sys

from video_assets.app.user_errors import USER_ERRORS, user_message
from video_assets.cli import browse, curation, export, inspect, query, remove, run
from video_assets.cli.common import version_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="video-assets", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version_text()}")
    sub = parser.add_subparsers(dest="command", required=True)
    # One `register(sub)` per command group, in the order `--help` lists them.
    for group in (run, remove, inspect, query, curation, export, browse):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "models" and args.action == "download" and not args.name:
        print("video-assets models download NAME: name a model (see `video-assets models list`)", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except USER_ERRORS as err:
        # Bad input and missing weights/tables: one clear line, no traceback.
        print(f"video-assets {args.command}: error: {user_message(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
