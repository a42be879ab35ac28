"""`video-assets run --workers N`: N partitions at once in worker processes, the same index as one worker,
each video's worker reported, and a kill -9 or SIGTERM of `run` leaves what a plain rerun finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.processes import descendants
from video_assets.catalog.registry import VideoRegistry
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video
from video_assets.stages.workers import WorkerSlots

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def four_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parallel_videos")
    for seed in (21, 22, 23, 24):
        make_video(folder / f"v{seed}.mp4", duration_s=4.0, fps=12, size=(96, 64), seed=seed)
    return folder


@pytest.fixture(scope="module")
def eight_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough partitions that a run stopped after its first video still has work it never started."""
    folder = tmp_path_factory.mktemp("parallel_stop_videos")
    for seed in range(31, 39):
        make_video(folder / f"v{seed}.mp4", duration_s=4.0, fps=12, size=(96, 64), seed=seed)
    return folder


def _run(folder: Path, root: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "video_assets.cli", "run", "--input", str(folder)]
    command += ["--output", str(root / "data"), "--models", "fingerprint", "--json", *extra]
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("VIDEO_ASSETS_SETTINGS", None)
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _index(root: Path) -> dict[str, np.ndarray]:
    rows = open_clip_table(connect(str(root / "data" / "lancedb")), "fingerprint").to_arrow()
    ids = rows.column("clip_id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicate clip ids in the index"
    return dict(zip(ids, np.asarray(rows.column("vector").to_pylist(), dtype=np.float32)))


@pytest.mark.slow
def test_two_workers_index_what_one_worker_does_and_say_where(four_videos: Path, tmp_path: Path) -> None:
    one = _run(four_videos, tmp_path / "one", "--workers", "1")
    two = _run(four_videos, tmp_path / "two", "--workers", "2")
    reference, parallel = _index(tmp_path / "one"), _index(tmp_path / "two")
    assert sorted(parallel) == sorted(reference) and len(reference) == 4
    for clip_id, vector in reference.items():
        np.testing.assert_allclose(parallel[clip_id], vector, atol=1e-6)
    report = json.loads(two.stdout)
    assert report["complete"] and len(report["videos"]) == 4
    places = [v["worker"] for v in report["videos"]]
    assert all(p["gpu_ids"] == [] and p["node"] for p in places)  # fingerprint asks for no GPU
    assert len({p["pid"] for p in places}) == 2  # both workers took partitions
    assert os.getpid() not in {p["pid"] for p in places}
    assert sum(report["videos_per_node"].values()) == 4
    single = json.loads(one.stdout)
    assert len({v["worker"]["pid"] for v in single["videos"]}) == 1


def _wait_for_done(root: Path, count: int, deadline_s: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        registry = root / "data" / "registry.sqlite"
        if registry.exists() and sum(v.status == "done" for v in VideoRegistry(registry).all()) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {count} video(s) done after {deadline_s} s")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_a_stopped_parallel_run_is_finished_by_a_plain_rerun(stop: int, eight_videos: Path, tmp_path: Path) -> None:
    root = tmp_path / "stopped"
    command = [sys.executable, "-m", "video_assets.cli", "run", "--input", str(eight_videos)]
    command += ["--output", str(root / "data"), "--models", "fingerprint", "--workers", "2", "--quiet"]
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("VIDEO_ASSETS_SETTINGS", None)
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_done(root, 1, 300)
        workers = descendants(run.pid)  # the forkserver and the workers it forked
        assert len(workers) >= 3, workers
        run.send_signal(stop)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    if stop == signal.SIGTERM:
        assert run.returncode == 143, err[-3000:]
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "a worker outlived `run`"
    if stop == signal.SIGKILL:  # the workers stopped with `run`: they did not go on with the queue
        statuses = [v.status for v in VideoRegistry(root / "data" / "registry.sqlite").all()]
        assert statuses.count("done") < len(statuses), statuses
    rerun = _run(eight_videos, root)
    assert json.loads(rerun.stdout)["complete"]
    assert len(_index(root)) == 8
    assert all(v.status == "done" for v in VideoRegistry(root / "data" / "registry.sqlite").all())


def test_worker_slots_bind_gpus() -> None:
    assert WorkerSlots(2, 0, 0.0).gpu_ids(1) == []
    half = WorkerSlots(4, 2, 0.5)
    assert [half.gpu_ids(i) for i in range(4)] == [[0], [1], [0], [1]]  # two workers per card
    pairs = WorkerSlots(2, 4, 2.0)
    assert [pairs.gpu_ids(i) for i in range(2)] == [[0, 1], [2, 3]]


def test_machine_slots_follow_gpu_shares_and_cpus() -> None:
    from types import SimpleNamespace

    from video_assets.stages.workers import machine_slots

    gpu_model = SimpleNamespace(num_gpus_per_worker=0.5, num_cpus=3)
    cpu_model = SimpleNamespace(num_gpus_per_worker=0.0, num_cpus=2)
    assert machine_slots([gpu_model], cores=16, gpus=8).workers == 16
    assert machine_slots([gpu_model], cores=16, gpus=0).workers == 5  # no CUDA: cores // num_cpus
    assert machine_slots([cpu_model], cores=2, gpus=0).workers == 1
    assert machine_slots([], cores=2, gpus=0).workers == 2


def test_the_gpu_pool_widens_to_one_slot_per_gpu_worker_and_never_narrows() -> None:
    import dagster as dg

    from video_assets.app.local_workers import widen_gpu_pool

    with dg.DagsterInstance.ephemeral() as instance:
        assert widen_gpu_pool(instance, 4, uses_gpu=False) is None  # CPU-only models: untouched
        assert widen_gpu_pool(instance, 4, uses_gpu=True) == 4
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 4
        assert widen_gpu_pool(instance, 2, uses_gpu=True) is None  # never lowers a limit set by hand
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 4
