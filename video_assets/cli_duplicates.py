"""`video-assets duplicates` (bring a model's duplicate groups up to date and print them) and
`video-assets filters` (materialize its clip filters per video through Dagster and count the reasons)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from video_assets.cli_options import add_output_and_json, add_quiet

# The console shows the summary; every event is still in the instance (UI), as with `run`.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# What each phase of `update_duplicates` counts, for its bar.
DUPLICATES_UNITS = {"assign": "clip", "compare": "pair"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `duplicates` and `filters` subcommands to the `video-assets` parser."""
    p = sub.add_parser("duplicates", help="near-duplicate clip groups of a model's index (kept clip first)")
    p.add_argument("--model", help="embedder whose table to deduplicate (default: the first enabled one)")
    p.add_argument(
        "--threshold",
        type=float,
        help="cosine at or above which two clips are duplicates (default: fingerprint 0.85, others 0.99)",
    )
    p.add_argument("--full", action="store_true", help="retrain the clusters and compare every clip, not only new ones")
    p.add_argument(
        "--limit", type=int, default=100, help="groups printed, largest first (default 100; --json prints all)"
    )
    add_quiet(p)
    add_output_and_json(p, "print the groups as JSON")
    p.set_defaults(func=cmd_duplicates)

    p = sub.add_parser("filters", help="keep/drop each clip with its reasons (<model>_clip_filters, per video)")
    p.add_argument("--model", help="embedder whose clips to filter (default: the first enabled one)")
    p.add_argument(
        "--all",
        action="store_true",
        help="every video (default: videos indexed since their last filters run, and videos whose "
        "duplicate flags changed with the last `duplicates`)",
    )
    add_quiet(p)
    add_output_and_json(p, "print the filter run as JSON")
    p.set_defaults(func=cmd_filters)


def cmd_duplicates(args: argparse.Namespace) -> int:
    from video_assets.cli import _settings
    from video_assets.curation.dup_read import groups, read_duplicates
    from video_assets.curation.duplicates import update_duplicates
    from video_assets.curation.sources import read_source_facts
    from video_assets.index.connection import connect
    from video_assets.query import default_model, existing_index
    from video_assets.run_progress import phase_bars

    settings = _settings(args)
    model = args.model or default_model(settings, needs_text=False)
    curation_dir = settings.data_dir / "curation"
    with phase_bars(quiet=args.quiet or args.json, units=DUPLICATES_UNITS) as bars:
        result = update_duplicates(
            connect(existing_index(settings)),
            model,
            curation_dir,
            threshold=args.threshold,
            sources=read_source_facts(settings.data_dir),
            full=args.full,
            on_progress=bars,
        )
    found = groups(read_duplicates(curation_dir, model))
    if args.json:
        stats = {k: v for k, v in asdict(result).items() if k != "histogram"}
        print(json.dumps({**stats, "groups": [asdict(g) for g in found]}, indent=2, default=str, ensure_ascii=False))
        return 0
    print(
        f"{model} (table v{result.table_version}, cosine >= {result.threshold}): {result.groups} group(s), "
        f"{result.clips_marked} of {result.clips} clips marked as duplicates; {result.mode} run, "
        f"{result.new_clips} clip(s) compared, {result.seconds:.2f} s; {result.path}"
    )
    for n, group in enumerate(found[: max(args.limit, 0)], 1):
        print(f"group {n} ({len(group.clips)} clips):")
        for clip in group.clips:
            where = f"{clip['source_path']}  [{clip['span_start_s']:.2f}s-{clip['span_end_s']:.2f}s]"
            print(f"  {'keep' if clip['keep'] else 'dup '}  {clip['sim_to_kept']:.4f}  {clip['clip_id']}  {where}")
    if len(found) > args.limit:
        print(f"... {len(found) - args.limit} more group(s): --limit, --json, or the Parquet file above")
    return 0


def cmd_filters(args: argparse.Namespace) -> int:
    import dagster as dg

    from video_assets.assets.clip_filters import clip_filters_assets
    from video_assets.assets.curation_sensor import flags_changed, newly_indexed
    from video_assets.assets.partitions import videos_partitions
    from video_assets.cli import _settings
    from video_assets.curation.filter_read import read_filters
    from video_assets.curation.progress import no_progress
    from video_assets.index.connection import connect, open_clip_table
    from video_assets.query import default_model, existing_index
    from video_assets.resources.lancedb import LanceDBResource
    from video_assets.resources.storage import PartitionedParquetIOManager, StorageResource
    from video_assets.run_progress import phase_bars
    from video_assets.runner import dagster_home

    settings = _settings(args)
    model = args.model or default_model(settings, needs_text=False)
    uri = existing_index(settings)
    rows = open_clip_table(connect(uri), model).search().select(["partition_key"]).limit(None).to_arrow()
    indexed = set(rows.column("partition_key").to_pylist())
    data = settings.data_dir.resolve()
    storage = StorageResource(data_dir=str(data))
    resources = {
        "storage": storage,
        "lancedb": LanceDBResource(uri=uri),
        "io_manager": PartitionedParquetIOManager(base_dir=str(data / "assets")),
    }
    (asset,) = clip_filters_assets([model], settings.filters)
    dagster_home()  # the instance `run` and the UI use
    failed: dict[str, str] = {}
    with dg.DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions(videos_partitions.name))
        if indexed - known:
            instance.add_dynamic_partitions(videos_partitions.name, sorted(indexed - known))
        due = indexed if args.all else newly_indexed(instance, model, indexed) | flags_changed(storage, model, indexed)
        # One Dagster run per partition: the bar counts them (filter_partition's own work is a video's clips).
        with phase_bars(quiet=args.quiet or args.json, units={"filter": "partition"}) as bars:
            report = no_progress if bars is None else bars
            for done, key in enumerate(sorted(due)):
                report("filter", done, len(due))
                run = dg.materialize(
                    [asset],
                    instance=instance,
                    resources=resources,
                    partition_key=key,
                    raise_on_error=False,
                    run_config=QUIET,
                )
                if not run.success:
                    errors = [_root_message(e.event_specific_data.error) for e in run.get_step_failure_events()]
                    failed[key] = "; ".join(errors)
            report("filter", len(due), len(due))
    table = read_filters(data / "assets", model, ["clip_id", "filter_reasons"])
    reasons = table.column("filter_reasons").to_pylist() if table is not None else []
    counts = {r: sum(r in rs for rs in reasons) for r in dict.fromkeys(x for rs in reasons for x in rs)}
    summary = {
        "model": model,
        "videos_run": len(due),
        "failed": failed,
        "clips": len(reasons),
        "kept": sum(not rs for rs in reasons),
        "reasons": counts,
    }
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(
            f"{model}: filters run for {len(due)} of {len(indexed)} partition(s); {summary['kept']} of "
            f"{len(reasons)} clips kept" + "".join(f"; {r} {n}" for r, n in counts.items())
        )
        for key, error in failed.items():
            print(f"failed: partition {key}: {error}")
    return 1 if failed else 0


def _root_message(error: object) -> str:
    """The innermost cause's first line: the user error, not Dagster's "error occurred while executing"."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    return str(getattr(error, "message", error)).strip().splitlines()[0]
