"""`remove`: take videos out of the index, after a plan that refuses what looks like a mistake."""

from __future__ import annotations

import argparse
import json

from video_assets.cli.common import add_output, settings_from_args


def cmd_remove(args: argparse.Namespace) -> int:
    from video_assets.app.removal import remove_videos
    from video_assets.stages.removal import MAX_REMOVE_SHARE

    share = MAX_REMOVE_SHARE if args.max_share is None else args.max_share
    # A refused plan raises RemovalRefused (a ValueError): main prints it, exit 2.
    errors: list[str] = []
    progress = errors.append if args.json else print
    ok, plan = remove_videos(
        settings_from_args(args),
        args.video_ids,
        force=args.force,
        max_share=share,
        dry_run=args.dry_run,
        progress=progress,
    )
    if args.json:
        failures = [line for line in errors if line.startswith("remove_videos failed")]
        print(
            json.dumps(
                {**plan.to_dict(), "dry_run": args.dry_run, "removed": ok and not args.dry_run, "errors": failures},
                indent=2,
            )
        )
    elif not args.dry_run:
        print("done" if ok else "nothing removed (see the error above)")
    return 0 if ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("remove", help="drop removed videos from the index (the remove_videos job)")
    p.add_argument("video_ids", nargs="*", help="video ids (default: every video whose file is gone)")
    p.add_argument("--input", help="folder of videos (default: ./videos or $VIDEO_ASSETS_INPUT_DIR)")
    add_output(p)
    p.add_argument("--models", help="comma-separated embedders whose tables to clean (default: the enabled ones)")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be removed (id, path, clip rows); change nothing"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="remove even when the input folder is missing or empty, files still exist, or many videos go",
    )
    p.add_argument(
        "--max-share",
        type=float,
        help="refuse to remove more than this share of the registered videos at once "
        "(default: MAX_REMOVE_SHARE in video_assets/stages/removal.py, a half)",
    )
    p.add_argument("--json", action="store_true", help="print the plan (and whether it ran) as JSON")
    p.set_defaults(func=cmd_remove)
