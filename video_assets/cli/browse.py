"""`video-assets browse --output DATA [--port 8765] [--host 127.0.0.1]`: the curator's web page (app/browse)."""

from __future__ import annotations

import argparse

from video_assets.app.browse.serve import DEFAULT_HOST, DEFAULT_PORT, serve
from video_assets.cli.common import add_output, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `browse` subcommand to the `video-assets` parser."""
    p = sub.add_parser("browse", help="a local web page over a data directory: clips, search, duplicates, videos")
    add_output(p)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port of the page (default {DEFAULT_PORT})")
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; the page has no login, so "
        "another address serves every indexed video to whoever reaches it)",
    )
    p.set_defaults(func=cmd_browse)


def cmd_browse(args: argparse.Namespace) -> int:
    return serve(settings_from_args(args), host=args.host, port=args.port)
