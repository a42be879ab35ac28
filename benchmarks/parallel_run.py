"""The Ray engine's cost per partition against the local engine, on the same partitions.

Both engines run the heavy steps (frames: decode; a model's tensors: prepare; embeddings)
for every partition, from clips planned once beforehand by the stage functions, so the
difference is what the Ray path adds: task and actor calls, moving rows through the
object store. Dagster's own cost is the same on both paths and is left out (see
dagster_scale.py). Also checked: each actor loads the model once, however many partitions
it embeds. The Ray side is a one-node cluster started by this script (logical GPUs);
as root the script re-runs itself in a private network namespace (`unshare -n`).

    PYTHONPATH=$PWD python benchmarks/parallel_run.py --videos 12 --seconds 30

Both sides run torch with one thread by default (`--threads`): Ray sets OMP_NUM_THREADS to a
task's num_cpus, and comparing against torch's default threads on a busy machine measures
oversubscription, not Ray.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from video_assets.catalog.discovery import scan
from video_assets.catalog.registry import VideoRegistry
from video_assets.media.synthetic import make_video
from video_assets.models.hub import ModelHub
from video_assets.settings.config import Settings
from video_assets.settings.execution import ExecutionSettings
from video_assets.stages.clips import plan_clips
from video_assets.stages.engines.base import EmbedJob, FramesJob, LocalEngine, TensorsJob
from video_assets.stages.frames import FRAMES_SCHEMA
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter
from video_assets.stages.resolved import ModelPlan, resolve
from video_assets.stages.sources import probe_partition
from video_assets.stages.tensors import TENSOR_SCHEMA
from video_assets.stages.thumbnails import ThumbnailStrips

MODEL = "fingerprint"


def make_inputs(work: Path, videos: int, seconds: float) -> tuple[Settings, list[tuple]]:
    """Videos, then per partition its clips table (what the clips asset makes)."""
    for i in range(videos):
        make_video(work / "videos" / f"v{i}.mp4", duration_s=seconds, fps=12, size=(160, 120), seed=i + 1)
    settings = Settings.model_validate(
        {
            "input_dir": str(work / "videos"),
            "data_dir": str(work / "data"),
            "enabled_models": [MODEL],
            "models": {MODEL: {"num_gpus_per_worker": 0.5}},
        }
    )
    registry = VideoRegistry(settings.paths.registry)
    scan(settings, registry, seal_partial=True)
    parts = []
    for key in registry.partition_keys():
        probed = probe_partition(registry.videos_in(key), registry)
        clips = plan_clips(probed.table, settings.clipping, work / "data" / "clips")
        parts.append((key, clips))
    return settings, parts


def run_engine(
    engine, settings: Settings, plan: ModelPlan, hub: ModelHub, parts: list[tuple], out: Path
) -> list[tuple[float, float, float]]:
    """(frames, tensors, embeddings) seconds per partition through `engine`."""
    signatures = list(resolve(settings).frame_signatures)
    times = []
    for key, clips in parts:
        started = time.perf_counter()
        with StreamingParquetWriter(out / f"{engine.name}-frames-{key}.parquet", FRAMES_SCHEMA) as writer:
            engine.extract_frames(FramesJob(clips, settings.frames, signatures, writer, ThumbnailStrips()))
            frames = ParquetPart(writer.commit(), key)
        decoded = time.perf_counter()
        with StreamingParquetWriter(out / f"{engine.name}-{key}.parquet", TENSOR_SCHEMA) as writer:
            engine.build_tensors(TensorsJob(plan, hub, clips, frames, "float16", writer))
            tensors = ParquetPart(writer.commit(), key)
        middle = time.perf_counter()
        made = engine.embed(EmbedJob(plan, hub, "cpu", "fp32", tensors, clips))
        assert made.table.num_rows == clips.num_rows, (key, made.table.num_rows, clips.num_rows)
        times.append((decoded - started, middle - decoded, time.perf_counter() - middle))
    return times


def describe(name: str, times: list[tuple[float, float, float]]) -> tuple[float, str]:
    """Mean seconds per partition over all but the first (warm-up), and a line saying so."""
    warm = times[1:] or times
    frames, tensors, embed = (sum(t[i] for t in warm) / len(warm) for i in (0, 1, 2))
    total = frames + tensors + embed
    line = f"{name}: {total:.3f} s per partition (frames {frames:.3f}, tensors {tensors:.3f}, embeddings {embed:.3f})"
    return total, f"{line}; first partition {sum(times[0]):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8, help="partitions (one video each)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each video")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the one-node Ray cluster")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the local engine (0: torch's default); Ray gives a 1-CPU task 1 thread",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if os.geteuid() == 0 and not os.environ.get("PARALLEL_RUN_NETNS") and shutil.which("unshare"):
        env = {**os.environ, "PARALLEL_RUN_NETNS": "1"}
        command = f"ip link set lo up && exec {sys.executable} {' '.join(sys.argv)}"
        sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", command], env=env))
    # A throwaway cluster in a private namespace: no auth token written to ~/.ray for it.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from video_assets.stages.engines.ray_engine import RayEngine

    with tempfile.TemporaryDirectory(prefix="parallel_run") as tmp:
        work = Path(tmp)
        settings, parts = make_inputs(work, args.videos, args.seconds)
        plan = resolve(settings).model(MODEL)
        hub = ModelHub(settings.paths.model_dir)
        local = run_engine(LocalEngine(), settings, plan, hub, parts, work)
        started = time.perf_counter()
        ray.init(
            address="local", num_cpus=args.cpus, num_gpus=1, include_dashboard=False, object_store_memory=200 * 2**20
        )
        engine = RayEngine(ExecutionSettings(engine="ray", address="auto"))
        engine.prepare([plan], hub, "cpu", "fp32")
        startup = time.perf_counter() - started
        remote = run_engine(engine, settings, plan, hub, parts, work)
        pool = engine.pools[MODEL]
        loads = pool.load_counts()
        ray.shutdown()
        # Again after Ray, so machine load that drifts during the run shows in the local figures too.
        local_after = run_engine(LocalEngine(), settings, plan, hub, parts, work)
    n = len(parts)
    local_mean, local_line = describe("local engine", local)
    ray_mean, ray_line = describe("ray engine  ", remote)
    print(f"partitions: {n} x 1 video of {args.seconds:g} s, 160x120, {MODEL} at num_gpus_per_worker 0.5")
    print(local_line)
    print(describe("local again ", local_after)[1])
    print(ray_line)
    print(f"ray / local: {ray_mean / local_mean:.2f}x; overhead per partition {ray_mean - local_mean:+.3f} s")
    print(f"cluster start + actor pool ({len(loads)} actors): {startup:.1f} s, once per process")
    print(f"model loads per actor after {n} partitions: {loads} (started {pool.started})")
    assert all(count == 1 for count in loads), "an actor loaded the model more than once"


if __name__ == "__main__":
    main()
