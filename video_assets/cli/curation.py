"""`video-assets duplicates` (bring a model's duplicate groups up to date and print them) and
`video-assets filters` (materialize its clip filters per video through Dagster and count the reasons)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from video_assets.catalog.shown_names import escape_name
from video_assets.cli.common import add_output_and_json, add_quiet, settings_from_args
from video_assets.settings.data_paths import DataPaths

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
        help="cosine at or above which two clips are duplicates (default: models.<model>.duplicates_threshold in "
        "the settings, else the model's calibrated default: models/thresholds.py, printed with the result)",
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
        help="every video (default: videos indexed since their last filters run, videos with clips that "
        "have no filter result in this data directory, and videos whose duplicate flags changed with the "
        "last `duplicates`)",
    )
    add_quiet(p)
    add_output_and_json(p, "print the filter run as JSON")
    p.set_defaults(func=cmd_filters)


def cmd_duplicates(args: argparse.Namespace) -> int:
    from video_assets.app.progress import phase_bars
    from video_assets.curation.dup_read import groups, read_duplicates
    from video_assets.curation.duplicates import threshold_in_force, update_duplicates
    from video_assets.curation.query import default_model, existing_index
    from video_assets.curation.sources import read_source_facts
    from video_assets.index.connection import connect

    settings = settings_from_args(args)
    model = args.model or default_model(settings, needs_text=False)
    curation_dir = settings.paths.curation_dir
    options = settings.models.get(model)
    choice = threshold_in_force(
        model, given=args.threshold, configured=options.duplicates_threshold if options else None
    )
    with phase_bars(quiet=args.quiet or args.json, units=DUPLICATES_UNITS) as bars:
        result = update_duplicates(
            connect(existing_index(settings)),
            model,
            curation_dir,
            threshold=choice.value,
            sources=read_source_facts(settings.data_dir),
            full=args.full,
            on_progress=bars,
        )
    found = groups(read_duplicates(curation_dir, model))
    if args.json:
        stats = {k: v for k, v in asdict(result).items() if k != "histogram"}
        stats["threshold_origin"] = choice.origin
        print(json.dumps({**stats, "groups": [asdict(g) for g in found]}, indent=2, default=str, ensure_ascii=False))
        return 0
    print(
        f"{model} (table v{result.table_version}, cosine >= {result.threshold}): {result.groups} group(s), "
        f"{result.clips_marked} of {result.clips} clips marked as duplicates; {result.mode} run, "
        f"{result.new_clips} clip(s) compared, {result.seconds:.2f} s; {result.path}"
    )
    print(choice.describe())
    shown = found[: max(args.limit, 0)]  # a negative --limit shows none (was "2 more" of one group at -1)
    for n, group in enumerate(shown, 1):
        print(f"group {n} ({len(group.clips)} clips):")
        for clip in group.clips:
            where = f"{escape_name(clip['source_path'])}  [{clip['span_start_s']:.2f}s-{clip['span_end_s']:.2f}s]"
            print(f"  {'keep' if clip['dup_keep'] else 'dup '}  {clip['sim_to_kept']:.4f}  {clip['clip_id']}  {where}")
    if len(found) > len(shown):
        print(f"... {len(found) - len(shown)} more group(s): --limit, --json, or the Parquet file above")
    return 0


def cmd_filters(args: argparse.Namespace) -> int:
    import dagster as dg

    from video_assets.app.instance_home import dagster_home
    from video_assets.curation.filter_run import indexed_clips
    from video_assets.curation.query import default_model, existing_index
    from video_assets.index.connection import connect
    from video_assets.orchestration.assets.clip_filters import clip_filters_assets, clip_filters_job, clip_filters_key
    from video_assets.orchestration.assets.curation_sensor import flags_changed, newly_indexed
    from video_assets.orchestration.assets.partitions import videos_partitions
    from video_assets.orchestration.resources.lancedb import LanceDBResource
    from video_assets.orchestration.resources.storage import PartitionedParquetIOManager, StorageResource

    settings = settings_from_args(args)
    model = args.model or default_model(settings, needs_text=False)
    uri = existing_index(settings)
    clips = indexed_clips(connect(uri), model)
    indexed = set(clips)
    data = settings.data_dir.resolve()
    storage = StorageResource(data_dir=str(data))
    resources = {
        "storage": storage,
        "lancedb": LanceDBResource(uri=uri),
        "io_manager": PartitionedParquetIOManager(base_dir=str(DataPaths.under(data).assets_dir)),
    }
    (asset,) = clip_filters_assets([model], settings.filters)
    home = dagster_home()  # the instance `run` and the UI use
    with dg.DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions(videos_partitions.name))
        if indexed - known:
            instance.add_dynamic_partitions(videos_partitions.name, sorted(indexed - known))
        # Due from this data directory's files too: the instance may record filters runs of another one.
        due = (
            indexed
            if args.all
            else newly_indexed(instance, model, indexed, storage=storage, clips=clips)
            | flags_changed(storage, model, indexed)
        )
        _warn_foreign_records(instance, home, data, model, clip_filters_key(model), clips)
        job = clip_filters_job(asset, model, resources)
        failed = _materialize_partitions(instance, job, sorted(due), quiet=args.quiet or args.json)
    summary = _filters_summary(data, model, clips, len(due), failed)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(
            f"{model}: filters run for {len(due)} of {len(indexed)} partition(s); {summary['kept']} of "
            f"{summary['clips']} clips kept"
            + "".join(f"; {r} {n}" for r, n in summary["reasons"].items())
            + _gap_note(summary["without_filter_result"], failed)
        )
        for key, error in failed.items():
            print(f"failed: partition {key}: {error}")
    return 1 if failed else 0


def _materialize_partitions(instance: Any, job: Any, keys: list[str], *, quiet: bool) -> dict[str, str]:
    """Run `job` (the named clip filters job) for each partition in `keys`, one Dagster run each, under a progress bar;
    returns {partition: root error} of the runs that failed (the others' results are in the instance)."""
    from video_assets.app.progress import phase_bars

    failed: dict[str, str] = {}
    # One Dagster run per partition: the bar counts them (filter_partition's own work is a video's clips).
    with phase_bars(quiet=quiet, units={"filter": "partition"}) as report:
        for done, key in enumerate(keys):
            report("filter", done, len(keys))
            run = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False, run_config=QUIET)
            if not run.success:
                errors = [_root_message(e.event_specific_data.error) for e in run.get_step_failure_events()]
                failed[key] = "; ".join(errors)
        report("filter", len(keys), len(keys))
    return failed


def _filters_summary(data: Path, model: str, clips: dict, videos_run: int, failed: dict[str, str]) -> dict[str, Any]:
    """What `filters` prints (or prints as JSON): the table's clips (`clips`: {partition: clip ids}) as
    `clips --where` reads them, kept and per reason, and those with no filter result yet."""
    from video_assets.curation.filter_read import curation_columns

    # The duplicate reason as the duplicates file is now.
    ids = sorted(c for ids in clips.values() for c in ids)
    reasons = curation_columns(data, model, ids)[0].column("filter_reasons").to_pylist()
    decided = [rs for rs in reasons if rs is not None]
    counts = {r: sum(r in rs for rs in decided) for r in dict.fromkeys(x for rs in decided for x in rs)}
    return {
        "model": model,
        "videos_run": videos_run,
        "failed": failed,
        "clips": len(ids),
        "kept": sum(not rs for rs in decided),
        "reasons": counts,
        "without_filter_result": [c for c, rs in zip(ids, reasons) if rs is None],
    }


def _warn_foreign_records(instance: Any, home: Path, data: Path, model: str, key: Any, clips: dict) -> None:
    """Say on stderr when the instance records filters runs whose files are not in this data directory:
    one instance used for two data directories (DAGSTER_HOME defaults to ./.dagster of the current folder)."""
    import dagster as dg

    from video_assets.curation.filter_read import filters_dir

    recorded = instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION)
    folder = filters_dir(DataPaths.under(data).assets_dir, model)
    foreign = sorted(p for p in clips if p in recorded and not (folder / f"{p}.parquet").exists())
    if foreign:
        print(
            f"note: the Dagster instance {home} records {model}_clip_filters runs for {len(foreign)} partition(s) "
            f"with no filters file in {data} (e.g. {foreign[0]}): is it used for another data directory too? "
            "DAGSTER_HOME defaults to ./.dagster of the current folder; set it per data directory. "
            "Those partitions are filtered here anyway.",
            file=sys.stderr,
        )


def _gap_note(missing: list[str], failed: dict[str, str]) -> str:
    """'; N clip(s) have no filter result yet ...' for the summary line (named when few); '' when none.
    After failed partitions the advice is theirs (below), not `filters` again, which fails the same way."""
    if not missing:
        return ""
    named = f" ({', '.join(missing)})" if len(missing) <= 3 else ""
    advice = "see the failed partition(s) below" if failed else "run `video-assets filters` (--all to redo all)"
    return f"; {len(missing)} clip(s) have no filter result yet{named}: {advice}"


def _root_message(error: object) -> str:
    """The innermost cause's first line: the user error, not Dagster's "error occurred while executing"."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    return str(getattr(error, "message", error)).strip().splitlines()[0]
