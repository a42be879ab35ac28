"""`video-assets export`: a model's clips, embeddings and curation columns as Parquet, WebDataset or JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from video_assets.cli.common import add_output_and_json, add_quiet, picked, settings_from_args
from video_assets.cli.query import CURATION_HELP, WHERE_HELP


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `export` subcommand to the `video-assets` parser."""
    p = sub.add_parser("export", help="write a model's clips with their embeddings (parquet, webdataset, jsonl)")
    p.add_argument("--model", help="embedder whose table to export (default: the first enabled one)")
    p.add_argument("--out", required=True, help="export directory (replaced when it holds an earlier export)")
    # Not argparse `choices`: a bad format is one error line, exit 2, like every other bad input.
    p.add_argument("--format", default="parquet", help="parquet (default), webdataset or jsonl")
    p.add_argument(
        "--kept-only",
        action="store_true",
        help="drop clips that are not the kept clip of their duplicate group or that the clip filters "
        "drop (needs `duplicates` or the clip filters first)",
    )
    p.add_argument("--where", help="export only matching clips; " + WHERE_HELP + CURATION_HELP)
    p.add_argument("--shard-size", type=int, default=1000, help="samples per webdataset shard (default 1000)")
    p.add_argument("--crf", type=int, default=23, help="x264 CRF of spans cut from sources (webdataset; default 23)")
    add_quiet(p)
    add_output_and_json(p, "print the export's manifest as JSON")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from video_assets.app.progress import phase_bars
    from video_assets.curation.export import check_format, export_clips
    from video_assets.curation.query import default_model, existing_index
    from video_assets.index.connection import connect
    from video_assets.index.filters import parse_where

    check_format(args.format, args.shard_size, args.crf)  # bad arguments are reported before any table is opened
    if args.where is not None:
        parse_where(args.where, curation=True)
    settings = settings_from_args(args)
    model = args.model or default_model(settings, needs_text=False)
    with phase_bars(quiet=args.quiet or args.json, units={"write": "clip"}) as bars:
        result = export_clips(
            connect(existing_index(settings)),
            model,
            args.out,
            fmt=args.format,
            data_dir=settings.data_dir,
            on_progress=bars,
            **picked(args, "kept_only", "where", "shard_size", "crf"),
        )
    if args.json:
        print(json.dumps({**asdict(result), "note": result.note()}, indent=2, ensure_ascii=False))
        return 0
    what = f"{result.rows} clip(s) of {model} (table v{result.table_version})"
    print(f"{what} -> {result.path}: {len(result.files)} {result.format} file(s), {result.seconds:.2f} s")
    if result.format == "webdataset" and result.rows:
        print(f"mp4: {result.mp4_from_clip_file} clip file(s), {result.mp4_cut_from_source} cut from sources")
    if result.kept_only:
        print(f"--kept-only left out {result.dropped_by_kept_only} clip(s)")
    print(result.note(), file=sys.stderr if result.incomplete else sys.stdout)
    return 0
