"""`video-assets verify`: every done video's rows are in each model's table as the ledger recorded them,
and no row belongs to a video the registry does not know (`--drop-orphans` deletes those)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from video_assets.catalog.shown_names import escape_name
from video_assets.cli.common import add_output, existing_registry, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `verify` subcommand to the `video-assets` parser."""
    p = sub.add_parser("verify", help="check that the index holds every done video's rows, and only known videos'")
    add_output(p)
    p.add_argument("--models", help="comma-separated embedders whose tables to check (default: the enabled ones)")
    p.add_argument(
        "--drop-orphans",
        action="store_true",
        help="delete the rows of videos the registry does not know (e.g. after a rebuilt registry)",
    )
    p.add_argument("--json", action="store_true", help="the findings as JSON")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from video_assets.catalog.ledger import VideoLedger
    from video_assets.curation.query import existing_index
    from video_assets.index.connection import connect
    from video_assets.stages.index_audit import audit_index, drop_orphans
    from video_assets.stages.resolved import resolve

    settings = settings_from_args(args)
    ledger = VideoLedger(existing_registry(settings))
    db = connect(existing_index(settings))
    audit = audit_index(db, ledger, resolve(settings).model_names)
    dropped = drop_orphans(db, audit) if args.drop_orphans else {}
    if args.json:
        print(json.dumps({**asdict(audit), "ok": audit.ok, "dropped": dropped}, indent=2, ensure_ascii=False))
        return 0 if audit.ok or (dropped and not audit.short) else 1
    for model, rows in audit.rows.items():
        print(f"clips_{model}: {rows} row(s)")
    for short in audit.short:
        print(short.line().replace("it will be redone", "a plain `video-assets run` redoes it"))
    for model, orphans in audit.orphans.items():
        for video_id, rows in orphans.items():
            done = " (deleted)" if model in dropped else ""
            print(
                escape_name(f"orphan: clips_{model} holds {rows} row(s) of {video_id}, unknown to the registry{done}")
            )
    if any(audit.orphans.values()) and not dropped:
        print("`video-assets verify --drop-orphans` deletes the rows of videos the registry does not know")
    fixed = not audit.short and (dropped or not any(audit.orphans.values()))
    print("the index agrees with the ledger" if audit.ok else "found the problems above")
    return 0 if fixed else 1
