"""Dagster at scale: partition keys, status cache, run overhead, backfills, DAGSTER_HOME files.

    .venv/bin/python benchmarks/dagster_scale.py [--sections keys,cache,noop,backfill,queued,real]
        [--sizes 1000,10000,100000] [--materialized 1000] [--noop-runs 200] [--queued-noop-runs 20]
        [--videos 200] [--video-duration 1 2] [--video-size 160x120] [--clip-len 2] [--vpp 1,10,50]
        [--queued-vpp 10,50] [--queued-executors in_process,multiprocess] [--max-concurrent-runs 4]
        [--real-videos 3] [--real-duration 30] [--work DIR] [--out FILE.json]

Sections (all on the default SQLite instance storage, CPU only):
- keys: add N dynamic partition keys in chunks of 500 (the sensor's and runner's
  size) and in one call (dagster#16260); load them all back.
- cache: the asset status cache (the UI's partition health) with N keys and
  ``--materialized`` materialized partitions: cold, warm, after one key is added
  (the cache id hashes every key, so it is rebuilt: dagster#29861), after one more
  materialization (incremental).
- noop: a trivial partitioned asset: ``--noop-runs`` runs via execute_in_process
  (median and p90 per run, files per 1000 runs), and ``--queued-noop-runs`` via the
  run queue + daemon + one process per run (runs/s; dagster#26194, #28998).
- backfill: ``--videos`` generated videos (default 1-2 s, 160x120, 2 s clips) through
  the real graph (fingerprint) at each ``--vpp``: the plain Python loop vs the CLI
  runner (execute_in_process).
- queued: the same through the run queue and the daemon (one process per run), for
  each ``--queued-vpp`` and executor (``multiprocess``, Dagster's default for a
  launched run, also starts one process per step).
- real: per-video compute of the same graph on longer, larger videos
  (``--real-videos`` x ``--real-duration`` s at 640x360, the default 10 s clips), to
  size batches for real collections.
The recommendation printed at the end is the smallest ``videos_per_partition``
that keeps the measured per-run overhead at most 3 % of a partition's compute.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
from dagster_scale_backfill import (
    describe,
    make_videos,
    time_inprocess_backfill,
    time_plain_loop,
    time_queued_backfill,
)
from dagster_scale_instance import (
    as_rows,
    measure_inprocess_runs,
    measure_key_adds,
    measure_status_cache,
    video_like_keys,
)
from dagster_scale_queued import run_queued_backfill, write_queued_home, write_workspace

from video_assets.settings.config import ClippingSettings

DEFAULT_CLIP_LEN_S = ClippingSettings().clip_len_s  # the project's default (10 s)
SECTIONS = ("keys", "cache", "noop", "backfill", "queued", "real")
OVERHEAD_TARGET = 0.03  # per-run overhead at most 3 % of a partition's compute
NOOP_DEFS_FILE = Path(__file__).resolve().parent / "dagster_scale_noop.py"
# Both backfill tables carry these, in this order, so their rows compare column for column.
VS_LOOP_COLUMNS = ("wall_s", "runs_per_s", "median_run_s", "loop_wall_s", "ratio", "overhead_per_run_s")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--sizes", type=_ints, default=[1000, 10000, 100000])
    p.add_argument("--materialized", type=int, default=1000)
    p.add_argument("--noop-runs", type=int, default=200)
    p.add_argument("--queued-noop-runs", type=int, default=20)
    p.add_argument("--videos", type=int, default=200)
    p.add_argument("--video-duration", type=float, nargs="+", default=[1.0, 2.0], help="durations, cycled")
    p.add_argument("--video-size", default="160x120", help="WxH of the backfill videos")
    p.add_argument("--clip-len", type=float, default=2.0, help="clip length (and stride) of the backfill, s")
    p.add_argument("--vpp", type=_ints, default=[1, 10, 50])
    p.add_argument("--queued-vpp", type=_ints, default=[10, 50])
    p.add_argument("--queued-executors", default="in_process,multiprocess")
    p.add_argument("--max-concurrent-runs", type=int, default=4)  # the project's dagster.yaml
    p.add_argument("--real-videos", type=int, default=3)
    p.add_argument("--real-duration", type=float, default=30.0)
    p.add_argument("--work", type=Path, default=None, help="scratch dir (default: a new temp dir)")
    p.add_argument("--out", type=Path, default=Path("/tmp/video_assets_bench/dagster_scale.json"))
    args = p.parse_args(argv)
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    return args


def _table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = [f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("| " + " | ".join(cells) + " |")


def min_vpp(overhead_s: float, per_video_s: float) -> int:
    """Smallest batch whose compute makes ``overhead_s`` at most `OVERHEAD_TARGET` of it."""
    return max(1, math.ceil(overhead_s / (OVERHEAD_TARGET * per_video_s)))


def run(args: argparse.Namespace) -> dict:
    sections = args.sections.split(",")
    work = args.work or Path(tempfile.mkdtemp(prefix="dagster_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "dagster": dg.__version__,
        "argv": sys.argv[1:],
        # The VM is shared: the 1/5/15-minute load averages say how busy its 2 cores were.
        "loadavg_start": os.getloadavg(),
    }
    if "keys" in sections:
        out["keys"] = as_rows([measure_key_adds(work, n) for n in args.sizes])
        _table(
            "Adding N keys (SQLite)",
            out["keys"],
            ["keys", "chunk", "add_s", "single_call_s", "single_call_error", "load_all_s"],
        )
    if "cache" in sections:
        out["cache"] = as_rows([measure_status_cache(work, n, min(n, args.materialized)) for n in args.sizes])
        _table(
            "Asset status cache vs key count",
            out["cache"],
            ["keys", "materialized", "cold_s", "warm_s", "after_add_s", "after_materialize_s"],
        )
    if "noop" in sections:
        inproc = measure_inprocess_runs(work, args.noop_runs)
        shutil.rmtree(work / "noop_queued_home", ignore_errors=True)  # its run count must be ours alone
        home = write_queued_home(work / "noop_queued_home", args.max_concurrent_runs)
        keys = video_like_keys(args.queued_noop_runs, prefix="noop")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.add_dynamic_partitions("noop", keys)
        queued = run_queued_backfill(home, write_workspace(work / "noop_ws.yaml", NOOP_DEFS_FILE), "noop_job", keys)
        out["noop"] = {"in_process": as_rows([inproc])[0], "queued": vars(queued)}
        _table("No-op run, execute_in_process", [out["noop"]["in_process"]], list(out["noop"]["in_process"]))
        _table("No-op runs, run queue + daemon", [out["noop"]["queued"]], list(out["noop"]["queued"]))
    videos = None
    if {"backfill", "queued"} & set(sections):
        started = time.perf_counter()
        size = tuple(int(x) for x in args.video_size.split("x"))
        durations = tuple(args.video_duration)
        name = f"videos_{args.video_size}_{'-'.join(f'{d:g}' for d in durations)}s"
        videos = make_videos(work / name, args.videos, duration_s=durations, size=size)
        out["videos"] = {
            "count": args.videos,
            "size": args.video_size,
            "duration_s": durations,
            "generate_s": time.perf_counter() - started,
        }
        loops = {
            vpp: time_plain_loop(videos, work, vpp, args.clip_len)
            for vpp in sorted(set(args.vpp) | set(args.queued_vpp))
        }
        out["plain_loop"] = [describe(t) for t in loops.values()]
        _table(
            "Plain Python loop (same stages, no Dagster)",
            out["plain_loop"],
            ["videos_per_partition", "partitions", "clips", "wall_s", "per_video_s"],
        )
    if "backfill" in sections:
        rows = [describe(time_inprocess_backfill(videos, work, vpp, loops[vpp], args.clip_len)) for vpp in args.vpp]
        out["backfill_in_process"] = rows
        _table(
            f"Backfill of {args.videos} videos, in-process runner",
            rows,
            ["videos_per_partition", "runs", "failed", *VS_LOOP_COLUMNS, "events_per_run"],
        )
    if "queued" in sections:
        rows = [
            describe(
                time_queued_backfill(
                    videos,
                    work,
                    vpp,
                    loops[vpp],
                    args.clip_len,
                    executor=executor,
                    max_concurrent_runs=args.max_concurrent_runs,
                )
            )
            for executor in args.queued_executors.split(",")
            for vpp in args.queued_vpp
        ]
        out["backfill_queued"] = rows
        _table(
            f"Backfill of {args.videos} videos, run queue + daemon",
            rows,
            [
                "executor",
                "videos_per_partition",
                "runs",
                "submit_s",
                "fixed_s",
                "span_s",
                *VS_LOOP_COLUMNS,
                "files_per_1k_runs",
            ],
        )
    if "real" in sections:
        real_videos = make_videos(
            work / "real_videos", args.real_videos, duration_s=(args.real_duration,), size=(640, 360)
        )
        loop = time_plain_loop(real_videos, work / "real", 1, DEFAULT_CLIP_LEN_S)
        out["real"] = {
            "videos": args.real_videos,
            "duration_s": args.real_duration,
            "size": "640x360",
            "clips": loop.clips,
            "wall_s": loop.wall_s,
            "per_video_s": loop.wall_s / args.real_videos,
        }
        _table("Per-video compute, longer videos (plain loop)", [out["real"]], list(out["real"]))
    out["recommendation"] = recommend(out)
    out["loadavg_end"] = os.getloadavg()
    return out


def recommend(out: dict) -> list[dict]:
    """Min videos_per_partition for <= 3 % overhead, per measured overhead and per-video compute."""
    overheads = {}
    for row in out.get("backfill_in_process", []):
        if row["videos_per_partition"] == 1:
            overheads["in-process runner (vpp=1 backfill)"] = row["overhead_per_run_s"]
    for row in out.get("backfill_queued", []):
        name = f"run queue + daemon, {row['executor']} executor (vpp={row['videos_per_partition']} backfill)"
        overheads[name] = row["overhead_per_run_s"]
    computes = {}
    for row in out.get("plain_loop", []):
        if row["videos_per_partition"] == 1:
            video = out["videos"]
            computes[f"{'/'.join(f'{d:g}' for d in video['duration_s'])} s {video['size']} video"] = row["per_video_s"]
    if "real" in out:
        computes[f"{out['real']['duration_s']:.0f} s 640x360 video"] = out["real"]["per_video_s"]
    rows = [
        {"overhead": name, "overhead_s": o, "video": video, "per_video_s": c, "min_vpp": min_vpp(o, c)}
        for name, o in overheads.items()
        for video, c in computes.items()
    ]
    if rows:
        _table(
            "Smallest videos_per_partition for <= 3 % overhead",
            rows,
            ["overhead", "overhead_s", "video", "per_video_s", "min_vpp"],
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
