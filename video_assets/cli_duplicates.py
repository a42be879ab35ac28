"""`video-assets duplicates`: bring a model's duplicate groups up to date and print them."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `duplicates` subcommand to the `video-assets` parser."""
    p = sub.add_parser("duplicates", help="near-duplicate clip groups of a model's index (kept clip first)")
    p.add_argument("--model", help="embedder whose table to deduplicate (default: the first enabled one)")
    p.add_argument("--threshold", type=float,
                   help="cosine at or above which two clips are duplicates (default: fingerprint 0.85, others 0.99)")
    p.add_argument("--full", action="store_true", help="retrain the clusters and compare every clip, not only new ones")
    p.add_argument("--limit", type=int, default=100,
                   help="groups printed, largest first (default 100; --json prints all)")
    p.add_argument("--output", help="data directory (default: ./data or $VIDEO_ASSETS_DATA_DIR)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_duplicates)


def cmd_duplicates(args: argparse.Namespace) -> int:
    from video_assets.cli import _settings
    from video_assets.curation.dup_read import groups, read_duplicates
    from video_assets.curation.duplicates import update_duplicates
    from video_assets.curation.sources import read_source_facts
    from video_assets.index.connection import connect
    from video_assets.query import default_model, existing_index

    settings = _settings(args)
    model = args.model or default_model(settings, needs_text=False)
    curation_dir = settings.data_dir / "curation"
    result = update_duplicates(connect(existing_index(settings)), model, curation_dir, threshold=args.threshold,
                               sources=read_source_facts(settings.data_dir), full=args.full)  # fmt: skip
    found = groups(read_duplicates(curation_dir, model))
    if args.json:
        stats = {k: v for k, v in asdict(result).items() if k != "histogram"}
        print(json.dumps({**stats, "groups": [asdict(g) for g in found]}, indent=2, default=str, ensure_ascii=False))
        return 0
    print(f"{model} (table v{result.table_version}, cosine >= {result.threshold}): {result.groups} group(s), "
          f"{result.clips_marked} of {result.clips} clips marked as duplicates; {result.mode} run, "
          f"{result.new_clips} clip(s) compared, {result.seconds:.2f} s; {result.path}")  # fmt: skip
    for n, group in enumerate(found[: max(args.limit, 0)], 1):
        print(f"group {n} ({len(group.clips)} clips):")
        for clip in group.clips:
            where = f"{clip['source_path']}  [{clip['span_start_s']:.2f}s-{clip['span_end_s']:.2f}s]"
            print(f"  {'keep' if clip['keep'] else 'dup '}  {clip['sim_to_kept']:.4f}  {clip['clip_id']}  {where}")
    if len(found) > args.limit:
        print(f"... {len(found) - args.limit} more group(s): --limit, --json, or the Parquet file above")
    return 0
