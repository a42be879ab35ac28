"""A backfill launched from the Dagster UI against `video-assets run --all`, on the same videos, in one run.

For each video count: a fresh data dir is indexed once by `run` (registry, partitions, warm files),
then every partition is redone twice, timed:
- `video-assets run --all` (its default workers for the machine, the baseline; and `--workers 1`);
- a backfill of the six pipeline assets over every partition, launched through the webserver's GraphQL
  `launchPartitionBackfill` exactly as the UI's "Launch backfill" button, with `video-assets ui`
  (webserver + daemon) already up and loaded (its start-up is not counted).
`--launchers warm default` times the backfill once per run launcher on the same data: `warm` is the
project's dagster.yaml (the warm run launcher, video_assets/orchestration/warm_launcher.py), `default`
the same file without its `run_launcher` section (Dagster's DefaultRunLauncher: a fresh process per run).
Reported: wall seconds, CPU seconds (the command's process tree; for the UI, the whole session's tree
less the same session idle), runs per second, the ratio against `run --all`, and where a backfill run's
time goes, read from the instance's event log (medians over its runs): queued (created -> dequeued),
start (dequeued -> RUN_START: the run worker's interpreter and code load), steps (sum of step times,
the model load inside the first embedding step), and end (last step -> run end).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ui_backfill.py --videos 4 20 [--launchers warm default]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pipeline.ui_daemon import (  # noqa: E402 (the repository root first)
    BACKFILL_STATUS,
    DONE_BACKFILL,
    PIPELINE,
    launch_backfill,
    running_ui,
    wait_for,
)
from video_assets.catalog.registry import VideoRegistry  # noqa: E402
from video_assets.media.synthetic import make_video  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_run(videos: Path, data: Path, home: Path, *extra: str) -> tuple[float, float]:
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("VIDEO_ASSETS_SETTINGS", None)
    env.pop("VIDEO_ASSETS_WORKERS", None)  # the default worker count, as a user gets it
    command = [sys.executable, "-m", "video_assets.cli", "run", "--input", str(videos), "--output", str(data)]
    command += ["--models", "fingerprint", "--quiet", *extra]
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started, children_cpu() - cpu


def run_phases(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str, float]:
    """Seconds from creation to dequeue, dequeue to run start, in steps, and after the last step."""
    record = instance.get_run_record_by_id(run.run_id)
    events = instance.all_logs(run.run_id)
    stamps: dict[str, float] = {}
    steps = 0.0
    step_started: dict[str, float] = {}
    for e in events:
        kind = e.dagster_event.event_type_value if e.dagster_event else None
        if kind in ("PIPELINE_DEQUEUED", "PIPELINE_START", "PIPELINE_SUCCESS", "PIPELINE_FAILURE"):
            stamps.setdefault(kind, e.timestamp)
        elif kind == "STEP_START":
            step_started[e.step_key] = e.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and e.step_key in step_started:
            steps += e.timestamp - step_started[e.step_key]
            stamps["last_step"] = e.timestamp
    created = record.create_timestamp.timestamp()
    dequeued = stamps.get("PIPELINE_DEQUEUED", created)
    start = stamps.get("PIPELINE_START", dequeued)
    end = stamps.get("PIPELINE_SUCCESS", stamps.get("PIPELINE_FAILURE", start))
    return {
        "queued": dequeued - created,
        "start": start - dequeued,
        "steps": steps,
        "end": end - stamps.get("last_step", end),
    }


def print_timeline(instance: dg.DagsterInstance, runs: list[dg.DagsterRun], t0: float) -> None:
    """Per run, seconds after the launch: created, dequeued, started, ended (where the time goes)."""
    rows = []
    for run in runs:
        record = instance.get_run_record_by_id(run.run_id)
        stamps = {"created": record.create_timestamp.timestamp()}
        for e in instance.all_logs(run.run_id):
            kind = e.dagster_event.event_type_value if e.dagster_event else None
            if kind in (
                "PIPELINE_DEQUEUED",
                "PIPELINE_STARTING",
                "PIPELINE_START",
                "PIPELINE_SUCCESS",
                "PIPELINE_FAILURE",
            ):
                stamps.setdefault(kind, e.timestamp)
        rows.append(stamps)
    print("  timeline (s after launch): created  dequeued  starting  start  end")
    for stamps in sorted(rows, key=lambda r: r["created"]):
        cells = [stamps.get(k) for k in ("created", "PIPELINE_DEQUEUED", "PIPELINE_STARTING", "PIPELINE_START")]
        cells.append(stamps.get("PIPELINE_SUCCESS", stamps.get("PIPELINE_FAILURE")))
        print("   " + "".join(f"{(c - t0) if c else float('nan'):>9.2f}" for c in cells))


def use_launcher(home: Path, launcher: str) -> None:
    """The home's instance settings: the project's file, without its run launcher for `default`."""
    settings = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    if launcher == "default":
        settings.pop("run_launcher", None)
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))


def ui_backfill(videos: Path, data: Path, home: Path, log: Path) -> dict[str, float]:
    cpu_before = children_cpu()
    with running_ui(home, videos, data, log) as base_url:
        idle_started = time.perf_counter()
        time.sleep(5.0)  # the loaded UI idle: its polling CPU is taken off below
        idle_s = time.perf_counter() - idle_started
        keys = VideoRegistry(data / "registry.sqlite").partition_keys()
        started, started_at = time.perf_counter(), time.time()
        backfill_id = launch_backfill(base_url, PIPELINE, keys)
        wait_for(base_url, BACKFILL_STATUS, {"id": backfill_id}, "partitionBackfillOrError", DONE_BACKFILL, 3600)
        wall = time.perf_counter() - started
        os.environ["DAGSTER_HOME"] = str(home)
        with dg.DagsterInstance.get() as instance:
            runs = list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))
            phases = [run_phases(instance, r) for r in runs]
            print_timeline(instance, runs, started_at)
    session_cpu = children_cpu() - cpu_before
    result = {"wall": wall, "runs": len(runs), "session_cpu": session_cpu, "idle_s": idle_s}
    for name in ("queued", "start", "steps", "end"):
        result[name] = statistics.median(p[name] for p in phases) if phases else 0.0
    return result


def bench(count: int, work: Path, launchers: list[str]) -> None:
    videos = work / f"videos_{count}"
    for i in range(count):
        make_video(videos / f"v{i:03d}.mp4", duration_s=3.0, fps=24, size=(160, 120), seed=100 + i)
    data, home = work / f"data_{count}", work / f"home_{count}"
    home.mkdir(parents=True, exist_ok=True)
    cli_run(videos, data, home, "--workers", "1")  # index once: registry, partitions
    # The baseline is `run --all` as a user types it (its default worker count for this machine);
    # one worker is shown too. The CPU of `run`'s workers is not counted: they are its forkserver's
    # children, which RUSAGE_CHILDREN does not reach.
    rows = [("run --all", *cli_run(videos, data, home, "--all"))]
    rows.append(("run --all --workers 1", *cli_run(videos, data, home, "--all", "--workers", "1")))
    uis = {}
    for launcher in launchers:
        use_launcher(home, launcher)
        uis[launcher] = ui_backfill(videos, data, home, work / f"ui_{count}_{launcher}.log")
    base_wall = rows[0][1]
    print(f"\n{count} videos ({count} partitions, fingerprint, 3 s 160x120 each); load {os.getloadavg()}")
    print(f"{'path':<34}{'wall s':>9}{'cpu s':>9}{'runs/s':>9}{'x run --all':>13}")
    for name, wall, cpu in rows:
        print(f"{name:<34}{wall:>9.1f}{cpu:>9.1f}{count / wall:>9.2f}{wall / base_wall:>13.2f}")
    for launcher, ui in uis.items():
        print(
            f"{'UI backfill, ' + launcher + ' launcher':<34}{ui['wall']:>9.1f}{ui['session_cpu']:>9.1f}"
            f"{ui['runs'] / ui['wall']:>9.2f}{ui['wall'] / base_wall:>13.2f}"
        )
        print(
            f"  a backfill run, medians: queued {ui['queued']:.1f} s, start {ui['start']:.1f} s "
            f"(interpreter + code load, or fork), steps {ui['steps']:.1f} s, end {ui['end']:.1f} s; "
            f"UI session CPU includes its start-up and {ui['idle_s']:.0f} s idle"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, nargs="+", default=[4, 20])
    parser.add_argument("--launchers", nargs="+", choices=["warm", "default"], default=["warm"])
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ui_backfill_"))
    try:
        for count in args.videos:
            bench(count, work, args.launchers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
