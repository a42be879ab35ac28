"""`run`, `demo` and `ui`: the graph over a folder, the newcomer's sample, the Dagster UI."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from pathlib import Path

from video_assets.cli.common import add_output, settings_from_args


def cmd_run(args: argparse.Namespace) -> int:
    quiet = args.quiet or args.json
    if not quiet:  # importing Dagster and the model registry takes seconds: say so at once
        print("loading Dagster and the model registry...", flush=True)
    from video_assets.app.guard import PoolSlotTimeout, RunInterrupted
    from video_assets.app.progress import progress_printer
    from video_assets.app.runner import run_folder
    from video_assets.app.summary import print_summary, summary_dict
    from video_assets.app.summary_hints import next_step_lines, skipped_model_lines, skipped_models

    settings = settings_from_args(args)
    # With --json, stdout is the JSON alone: whatever else prints meanwhile (Ray's driver prints
    # cluster events such as a lost node to stdout) goes to stderr.
    quiet_stdout = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        with quiet_stdout, progress_printer(quiet=quiet) as progress:
            summary = run_folder(
                settings,
                rerun_all=args.all,
                rehash=args.rehash,
                workers=args.workers or env_workers(),
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
    skipped = skipped_models(settings)
    if args.json:
        report = summary_dict(summary)
        report["skipped_models"] = [
            {"name": e.spec.name, "weights": f"{e.spec.model_id}@{e.spec.revision}"} for e in skipped
        ]
        print(json.dumps(report, indent=2))
    else:
        data_dir = summary.settings_path.parent
        print_summary(summary, extra=skipped_model_lines(skipped, data_dir) + next_step_lines(data_dir))
    # Non-zero while any video is failed or not done: a zero exit means all are indexed.
    return 0 if summary.complete else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from video_assets.app.demo import run_demo

    return run_demo(Path(args.dir))


def cmd_ui(args: argparse.Namespace) -> int:
    from video_assets.app.instance_home import PROJECT_DAGSTER_YAML, dagster_home, missing_ui_sections
    from video_assets.app.runner import write_settings
    from video_assets.app.ui_process import run_process_group

    settings = settings_from_args(args).anchored()  # Dagster runs in its home (below), not here
    home = dagster_home()
    env = {**os.environ, "DAGSTER_HOME": str(home), "VIDEO_ASSETS_SETTINGS": str(write_settings(settings))}
    # This interpreter's Dagster, whatever is on PATH (a bare `dagster` fails unless the venv's bin
    # is on it): `dg dev` from the same environment when dagster-dg-cli is installed, else `dagster dev`.
    dg = Path(sys.executable).parent / "dg"
    launcher = [str(dg)] if dg.is_file() else [sys.executable, "-m", "dagster"]
    command = [*launcher, "dev", "-m", "video_assets.definitions", "-p", str(args.port)]
    print(
        f"DAGSTER_HOME={env['DAGSTER_HOME']} VIDEO_ASSETS_SETTINGS={env['VIDEO_ASSETS_SETTINGS']} {' '.join(command)}"
    )
    if missing := missing_ui_sections(home):
        print(
            f"note: {home / 'dagster.yaml'} (edited) has no {' or '.join(missing)} section: runs launched from "
            f"the UI start a fresh interpreter each and backfills wait on Dagster's slow queue; copy "
            f"{' and '.join(missing)} from {PROJECT_DAGSTER_YAML} to make them as fast as `run`"
        )
    print(f"Dagster UI at http://127.0.0.1:{args.port} (press Ctrl-C to stop it)", flush=True)
    # A child, not exec: `dg dev` alone ignores SIGINT/SIGTERM without a terminal and leaves its
    # webserver, daemon and code servers running; ui_process stops the whole group.
    # In its home: `dg dev` in a folder holding a dagster.yaml other than the home's (this
    # repository's root) warns that the file "will not be used"; the home's copy is the same file.
    return run_process_group(command, env, cwd=str(home))


def env_workers() -> int | None:
    """$VIDEO_ASSETS_WORKERS, the default of `run --workers` where it is set (None: the machine decides)."""
    value = os.environ.get("VIDEO_ASSETS_WORKERS")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"VIDEO_ASSETS_WORKERS must be a whole number >= 1, got {value!r}")
    return int(value)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="materialize the whole graph for a folder of videos")
    p.add_argument("--input", required=True, help="folder of videos (searched recursively)")
    add_output(p)
    p.add_argument("--models", help="comma-separated embedders (default: those with weights + fingerprint)")
    p.add_argument("--videos-per-partition", type=int, help="videos per partition (default 1)")
    p.add_argument("--all", action="store_true", help="rerun every partition, also those whose videos are done")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="partitions at once, each in a worker process bound to its own GPU share (default: $VIDEO_ASSETS_WORKERS, "
        "else one per GPU share with CUDA, one per num_cpus of the cores without)",
    )
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

    p = sub.add_parser("ui", help="open the Dagster UI on this data directory (dagster dev)")
    p.add_argument("--input", help="folder of videos the sensor watches")
    add_output(p)
    p.add_argument("--port", type=int, default=3000, help="port of the web UI (default 3000)")
    p.set_defaults(func=cmd_ui)
