"""`video-assets`: run the graph, search the index, manage model weights."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path

from video_assets import cli_duplicates, cli_export, cli_query
from video_assets.cli_options import add_output, add_output_and_json, picked
from video_assets.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    saved = Path(args.output) / "settings.json" if getattr(args, "output", None) else None
    if saved and saved.exists() and args.command != "run" and "VIDEO_ASSETS_SETTINGS" not in os.environ:
        # The settings the data dir was built with (written by `run`): a query file is then
        # cut into clips and framed exactly as the indexed videos were.
        settings = Settings.load(saved)
    update = {}
    if getattr(args, "input", None):
        update["input_dir"] = Path(args.input)
    if getattr(args, "output", None):
        update["data_dir"] = Path(args.output)
    if getattr(args, "models", None):
        update["enabled_models"] = tuple(args.models.split(","))
    if getattr(args, "videos_per_partition", None):
        update["videos_per_partition"] = args.videos_per_partition
    if getattr(args, "ray", None):  # run --ray ADDRESS: the settings' execution, on that cluster
        update["execution"] = {**settings.execution.model_dump(), "engine": "ray", "address": args.ray}
    return Settings.model_validate({**settings.model_dump(), **update}) if update else settings


def cmd_run(args: argparse.Namespace) -> int:
    from video_assets.run_guard import PoolSlotTimeout, RunInterrupted
    from video_assets.run_progress import progress_printer
    from video_assets.runner import run_folder
    from video_assets.summary import print_summary, summary_dict

    # With --json, stdout is the JSON alone: whatever else prints meanwhile (Ray's driver prints
    # cluster events such as a lost node to stdout) goes to stderr.
    quiet_stdout = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        with quiet_stdout, progress_printer(quiet=args.quiet or args.json) as progress:
            summary = run_folder(
                _settings(args),
                rerun_all=args.all,
                rehash=args.rehash,
                pool_wait_s=args.pool_wait,
                models_option="--models" if args.models else None,
                progress=progress,
                on_start=progress.start,
                on_partition=progress.partition_done,
            )
    except RunInterrupted as err:
        # Ctrl-C / SIGTERM: the run is marked failed in the instance, its videos stay not done.
        print(f"video-assets run: {err}", file=sys.stderr)
        return err.exit_code
    except PoolSlotTimeout as err:
        print(f"video-assets run: error: {err}", file=sys.stderr)
        return 1
    except sqlite3.OperationalError as err:
        if "locked" not in str(err):
            raise
        home = os.environ.get("DAGSTER_HOME", ".dagster")
        print(
            f"video-assets run: error: the Dagster instance {home} (or the registry in the data dir) is locked by "
            f"another process ({err}): wait for the other `run` or `dagster dev` run to finish, run one `run` per "
            "DAGSTER_HOME, or use PostgreSQL (examples/postgres/dagster.yaml)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(summary_dict(summary), indent=2))
    else:
        print_summary(summary)
    # Non-zero while any video is failed or not done: a zero exit means all are indexed.
    return 0 if summary.complete else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from video_assets.demo import run_demo

    return run_demo(Path(args.dir))


def cmd_remove(args: argparse.Namespace) -> int:
    from video_assets.remove import MAX_REMOVE_SHARE, remove_videos

    share = MAX_REMOVE_SHARE if args.max_share is None else args.max_share
    # A refused plan raises RemovalRefused (a ValueError): main prints it, exit 2.
    errors: list[str] = []
    progress = errors.append if args.json else print
    ok, plan = remove_videos(
        _settings(args), args.video_ids, force=args.force, max_share=share, dry_run=args.dry_run, progress=progress
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


def cmd_ui(args: argparse.Namespace) -> int:
    from video_assets.runner import dagster_home, write_settings
    from video_assets.ui_process import run_process_group

    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home()),
        "VIDEO_ASSETS_SETTINGS": str(write_settings(_settings(args))),
    }
    # This interpreter's Dagster, whatever is on PATH (a bare `dagster` fails unless the venv's bin
    # is on it): `dg dev` from the same environment when dagster-dg-cli is installed, else `dagster dev`.
    dg = Path(sys.executable).parent / "dg"
    launcher = [str(dg)] if dg.is_file() else [sys.executable, "-m", "dagster"]
    command = [*launcher, "dev", "-m", "video_assets.definitions", "-p", str(args.port)]
    print(
        f"DAGSTER_HOME={env['DAGSTER_HOME']} VIDEO_ASSETS_SETTINGS={env['VIDEO_ASSETS_SETTINGS']} {' '.join(command)}"
    )
    print(f"Dagster UI at http://127.0.0.1:{args.port} (press Ctrl-C to stop it)", flush=True)
    # A child, not exec: `dg dev` alone ignores SIGINT/SIGTERM without a terminal and leaves its
    # webserver, daemon and code servers running; ui_process stops the whole group.
    return run_process_group(command, env)


def cmd_probe(args: argparse.Namespace) -> int:
    from video_assets.media.probe import probe

    info = probe(args.file)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        for key, value in info.to_dict().items():
            print(f"{key:>12}: {value}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from video_assets.index.search import SearchRequest
    from video_assets.query import explain, search

    knobs = picked(args, "k", "where", "nprobes", "ef", "refine_factor", "exact", "offset")
    request = SearchRequest(**knobs, sidecar=not args.no_sidecar)
    query = picked(args, "text", "like_clip", "like_file", "model")
    if args.explain:
        print(explain(_settings(args), request=request, **query))
        return 0
    hits = search(_settings(args), request=request, **query)
    if args.json:
        print(json.dumps([asdict(h) for h in hits], indent=2))
        return 0
    if not hits:
        print("no results")
    for rank, hit in enumerate(hits, 1):
        where = hit.clip_path or hit.source_path
        print(
            f"{rank:>3}. {hit.score:.4f}  {hit.clip_id}  {hit.video_id}  "
            f"[{hit.span_start_s:.2f}s-{hit.span_end_s:.2f}s]  {where}"
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from video_assets.models.embedder_registry import get, registered
    from video_assets.models.hub import ModelHub, status_rows

    settings = _settings(args)
    hub = ModelHub(settings.paths.model_dir)
    if args.action == "download":
        entry = get(args.name)
        if entry.weights is None:
            print(f"{args.name} needs no weights")
            return 0
        for repo_id, path in hub.download(entry.weights).items():
            print(f"{repo_id}: {path}")
        return 0
    specs = [e.weights for e in registered().values() if e.weights is not None]
    rows = status_rows(hub.list(specs))
    if args.json:
        print(json.dumps({"model_dir": str(hub.model_dir), "models": rows}, indent=2))
        return 0
    if rows:
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]}
        print("  ".join(k.ljust(w) for k, w in widths.items()))
        for row in rows:
            print("  ".join(str(row[k]).ljust(w) for k, w in widths.items()))
    print(f"model dir: {hub.model_dir}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from video_assets.doctor import diagnose

    report = diagnose(_settings(args))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.can_run else 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("video-assets")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="video-assets", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="materialize the whole graph for a folder of videos")
    p.add_argument("--input", required=True, help="folder of videos (searched recursively)")
    add_output(p)
    p.add_argument("--models", help="comma-separated embedders (default: those with weights + fingerprint)")
    p.add_argument("--videos-per-partition", type=int, help="videos per partition (default 1)")
    p.add_argument("--all", action="store_true", help="rerun every partition, also those whose videos are done")
    p.add_argument(
        "--rehash",
        action="store_true",
        help="re-read every video's sha256 (finds content changed under the same size and mtime)",
    )
    p.add_argument(
        "--pool-wait",
        type=float,
        metavar="SECONDS",
        help="give up when a step waits longer than this for a pool slot held by another run (default 300)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="decode and embed on the Ray cluster at ADDRESS (host:port, or 'auto'); needs the [ray] extra",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-video lines; the summary only")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the summary as JSON: the videos this run processed plus every failed or not-done one, each with "
        "its status and reason; skipped inputs; missing files; 'registered': done/failed/pending/missing counts over "
        "the whole registry; implies --quiet",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="make sample videos, run the graph, search the index")
    p.add_argument("--dir", default="demo", help="where the demo's videos and data go (default ./demo)")
    p.set_defaults(func=cmd_demo)

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
        "(default: MAX_REMOVE_SHARE in video_assets/remove.py, a half)",
    )
    p.add_argument("--json", action="store_true", help="print the plan (and whether it ran) as JSON")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("ui", help="open the Dagster UI on this data directory (dagster dev)")
    p.add_argument("--input", help="folder of videos the sensor watches")
    add_output(p)
    p.add_argument("--port", type=int, default=3000, help="port of the web UI (default 3000)")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("probe", help="probe one video file")
    p.add_argument("file", help="a video file")
    p.add_argument("--json", action="store_true", help="print the probe as JSON")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("search", help="search the clip index")
    p.add_argument("text", nargs="?", help="a text query (models with a text tower)")
    p.add_argument("--like-clip", help="an indexed clip id")
    p.add_argument("--like-file", help="a video file, embedded on the fly")
    p.add_argument("--model", help="embedder (default: the first enabled one that fits the query)")
    p.add_argument("-k", type=int, default=10, help="hits to return (default 10)")
    p.add_argument("--where", help="filter, e.g. \"duration_s > 3 AND video_id = 'abc'\"")
    p.add_argument("--nprobes", type=int, help="IVF partitions to probe (ANN index only)")
    p.add_argument("--refine-factor", type=int, help="re-rank k*F candidates with exact cosine")
    p.add_argument("--exact", action="store_true", help="brute force, ignore any ANN index")
    p.add_argument("--ef", type=int, help="HNSW candidate list size (HNSW index only; larger: better recall, slower)")
    p.add_argument("--no-sidecar", action="store_true", help="ask LanceDB even when a current faiss sidecar exists")
    p.add_argument("--offset", type=int, default=0, help="skip this many results (paging)")
    p.add_argument("--explain", action="store_true", help="print the query plan instead of results")
    add_output_and_json(p, "print the hits as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("models", help="list or download model weights")
    p.add_argument("action", choices=["list", "download"], help="list the weights, or download one model's")
    p.add_argument("name", nargs="?", help="the model to download (see `models list`)")
    p.add_argument("--output", help="data directory (weights go to <data>/models)")
    p.add_argument("--json", action="store_true", help="list as JSON (status, sizes, revisions, where each lives)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "doctor",
        help="check this machine: Python, torch/CUDA, PyAV/FFmpeg codecs, "
        "LanceDB, Dagster, weights, disk; exit 1 when the main job cannot run",
    )
    add_output(p)
    p.add_argument("--models", help="comma-separated embedders to require (default: the enabled ones)")
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.set_defaults(func=cmd_doctor)
    # Curation commands (issue 13) live in their own modules: one `register(sub)` line each.
    cli_duplicates.register(sub)  # duplicates
    cli_query.register(sub)  # clips, ask
    cli_export.register(sub)  # export
    return parser


def _unknown_model_message(err: Exception) -> str | None:
    """For a missing clip table of a model that is not registered (a typo in --model): say so and list the
    registered ones, instead of advising to materialize a model that does not exist."""
    from video_assets.index.errors import ClipTableNotFoundError
    from video_assets.models.embedder_registry import registered

    if not isinstance(err, ClipTableNotFoundError):
        return None
    names = registered()
    if err.model in names:
        return None
    known = ", ".join(sorted(names))
    return f"unknown embedder {err.model!r} (no clip table {err.table!r} in the index); registered: {known}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "models" and args.action == "download" and not args.name:
        print("video-assets models download NAME: name a model (see `video-assets models list`)", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (ValueError, KeyError, OSError, LookupError) as err:
        # Bad input and missing weights/tables: one clear line, no traceback.
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        message = _unknown_model_message(err) or message
        print(f"video-assets {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
