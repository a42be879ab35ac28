"""Everything the Ray tests need from inside one private network namespace, run as
`unshare -n python -m tests.scale.cluster_session OUT_DIR` by test_ray_cluster.py.

The `video-assets run` commands (local and `--ray`) and the two Ray nodes all live in the
namespace, so the only interface is loopback. Results go to OUT_DIR/results.json; the test
asserts on them.
"""

from __future__ import annotations

import json
import os
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
RUN_TIMEOUT_S = 150


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


def killed_node_run(out: Path, cluster: RayCluster, settings: Path) -> dict:
    """`run --ray` with the worker node killed once the first partition is done, then a plain rerun."""
    name = "killed"
    env = {**os.environ, "DAGSTER_HOME": str(out / name / "dagster"), "VIDEO_ASSETS_SETTINGS": str(settings)}
    args = [*CLI, "--input", str(out / "videos"), "--output", str(out / name / "data"), "--ray", cluster.address]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    killed_after = None
    for line in proc.stdout:  # progress lines: "[1/N] ..." after each partition
        lines.append(line.rstrip())
        if killed_after is None and line.startswith("[1/"):
            cluster.kill_worker()
            killed_after = line.strip()
    proc.wait(timeout=RUN_TIMEOUT_S)
    first = {"rc": proc.returncode, "lines": lines[-40:], "killed_after": killed_after}
    first["clip_ids"] = clip_ids(out / name / "data" / "lancedb")
    # What the engine could not retry, the next plain run does.
    rerun = run_cli(out, name, ["--ray", cluster.address], settings) if proc.returncode != 0 else None
    return {"first": first, "rerun": rerun}


def main(out: Path) -> None:
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
    record("unreachable", run_cli(out, "unreachable", ["--ray", "127.0.0.1:6390"], half))
    # Short paths: Ray's socket names must fit in 107 characters.
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as temp, RayCluster(Path(temp), out) as cluster:
        record("cluster", {"seconds": time.monotonic() - started})
        record("ray", run_cli(out, "ray", ["--ray", cluster.address], half))
        record("impossible", run_cli(out, "impossible", ["--ray", cluster.address], too_many))
        record("killed", killed_node_run(out, cluster, half))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
