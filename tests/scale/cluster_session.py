"""Everything the Ray tests need from inside one private network namespace, run as
`unshare -n python -m tests.scale.cluster_session OUT_DIR KILL_AFTER` by test_ray_cluster.py.

The `video-assets run` commands (local and `--ray`) and the two Ray nodes all live in the
namespace, so the only interface is loopback. Results go to OUT_DIR/results.json; the test
asserts on them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lancedb

from tests.scale.ray_cluster import RayCluster
from video_assets.index.connection import clip_table_exists, open_clip_table

MODEL = "fingerprint"
CLI = [sys.executable, "-m", "video_assets.cli", "run", "--models", MODEL]
RUN_TIMEOUT_S = 240


def settings_file(path: Path, num_gpus: float, **execution: object) -> Path:
    settings = {"models": {MODEL: {"num_gpus_per_worker": num_gpus}}}
    if execution:
        settings["execution"] = execution
    path.write_text(json.dumps(settings))
    return path


def run_cli(out: Path, name: str, args: list[str], settings: Path | None = None) -> dict:
    """One `video-assets run` with its own data dir and DAGSTER_HOME: exit code, seconds, JSON, stderr."""
    env = {**os.environ, "DAGSTER_HOME": str(out / name / "dagster")}
    if settings is not None:
        env["VIDEO_ASSETS_SETTINGS"] = str(settings)
    started = time.monotonic()
    proc = subprocess.run(
        [*CLI, "--input", str(out / "videos"), "--output", str(out / name / "data"), "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=RUN_TIMEOUT_S,
    )
    return {
        "rc": proc.returncode,
        "seconds": time.monotonic() - started,
        "report": json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None,
        "stderr": proc.stderr[-3000:],
        "clip_ids": clip_ids(out / name / "data" / "lancedb"),
    }


def clip_ids(uri: Path) -> list[str]:
    if not uri.exists():
        return []
    db = lancedb.connect(str(uri))
    if not clip_table_exists(db, MODEL):
        return []
    return sorted(open_clip_table(db, MODEL).to_arrow().column("clip_id").to_pylist())


def done_videos(registry: Path) -> int:
    """Videos the run has finished so far (read-only: the run is writing the registry)."""
    if not registry.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{registry}?mode=ro", uri=True, timeout=1.0) as db:
            return db.execute("SELECT count(*) FROM videos WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # locked or not created yet
        return 0


def killed_node_run(out: Path, cluster: RayCluster, settings: Path, kill_after: int) -> dict:
    """`run --ray --json` over every video, with the worker node killed once `kill_after` videos are
    done (at 4, each of the 4 actors has embedded one, on both nodes); then a plain rerun if
    the first run left anything undone."""
    name = "ray"
    env = {**os.environ, "DAGSTER_HOME": str(out / name / "dagster"), "VIDEO_ASSETS_SETTINGS": str(settings)}
    data = out / name / "data"
    args = [*CLI, "--input", str(out / "videos"), "--output", str(data), "--json", "--ray", cluster.address]
    started = time.monotonic()
    with (out / "ray-run.out").open("w+") as stdout, (out / "ray-run.err").open("w+") as stderr:
        proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, text=True, env=env)
        killed_after = None
        while proc.poll() is None and time.monotonic() - started < RUN_TIMEOUT_S:
            if killed_after is None and (done := done_videos(data / "registry.sqlite")) >= kill_after:
                cluster.kill_worker()
                killed_after = done
            time.sleep(0.2)
        proc.wait(timeout=10)
        stdout.seek(0), stderr.seek(0)
        text = stdout.read()
        first = {
            "rc": proc.returncode,
            "seconds": time.monotonic() - started,
            "report": json.loads(text) if text.strip().startswith("{") else None,
            "stderr": stderr.read()[-3000:],
            "clip_ids": clip_ids(data / "lancedb"),
            "killed_after": killed_after,
        }
    # What the engine could not retry, the next plain run does.
    rerun = run_cli(out, name, ["--ray", cluster.address], settings) if proc.returncode != 0 else None
    return {"first": first, "rerun": rerun}


def main(out: Path, kill_after: int) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    results: dict = {}
    started = time.monotonic()

    def record(name: str, value: dict) -> None:  # written after each step: a timeout keeps what ran
        results[name] = value
        print(f"{time.monotonic() - started:6.1f} s: {name} done", file=sys.stderr, flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=2))

    half = settings_file(out / "half_gpu.json", 0.5)
    too_many = settings_file(out / "four_gpus.json", 4)
    record("local", run_cli(out, "local", []))
    # Short paths: Ray's socket names must fit in 107 characters.
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as temp, RayCluster(Path(temp), out) as cluster:
        record("cluster", {"seconds": time.monotonic() - started})
        record("impossible", run_cli(out, "impossible", ["--ray", cluster.address], too_many))
        record("ray", killed_node_run(out, cluster, half, kill_after))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
