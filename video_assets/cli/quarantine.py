"""`video-assets quarantine`: settle failed videos that can never decode, so runs stop retrying them.

A file that can never decode failed every plain `run`, which then exited 1 forever. A settled
video is left out of `run` (not retried, not counted as failed: a nightly job exits 0 once every
video is done or settled) and listed apart in the summary, until its file changes (size, mtime
or, with --rehash, content) or `quarantine --undo` puts it back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from video_assets.catalog.shown_names import escape_name
from video_assets.cli.common import add_output, existing_registry, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `quarantine` subcommand to the `video-assets` parser."""
    p = sub.add_parser("quarantine", help="stop retrying failed videos (settled until the file changes)")
    p.add_argument("videos", nargs="+", help="video ids or file paths (as `run` lists them)")
    add_output(p)
    p.add_argument("--undo", action="store_true", help="retry these settled videos again on the next run")
    p.set_defaults(func=cmd_quarantine)


def cmd_quarantine(args: argparse.Namespace) -> int:

    registry = existing_registry(settings_from_args(args))
    everyone = registry.all()
    by_id = {v.video_id: v for v in everyone}
    by_path = {**{v.rel_path: v for v in everyone}, **{v.abs_path: v for v in everyone}}
    chosen = []
    for name in args.videos:
        video = by_id.get(name) or by_path.get(name) or by_path.get(str(Path(name).resolve()))
        if video is None:
            raise KeyError(f"{escape_name(name)} is neither a video id nor a file in the registry {registry.path}")
        chosen.append(video)
    for video in chosen:  # every name checked before any change
        registry.settle(video.video_id, settled=not args.undo)
        what = "retried by the next run" if args.undo else "settled: not retried until the file changes"
        print(escape_name(f"{video.rel_path} ({video.video_id}): {what}"))
    return 0
