"""`video-assets run --workers N` against one worker and against a plain loop in 1 and 2 processes.

The same videos go through, each side in a fresh data directory and Dagster home:
- `video-assets run --workers 1` and `--workers 2` (the CLI, real Dagster runs, one LanceDB
  committer per table);
- the plain loop (`dagster_scale_loop.run_plain_loop`: the stage functions and one LanceDB commit
  per partition, no Dagster) in one process, and in two processes at once over half the videos
  each (own data directories, so no shared table: the best two processes can do).
Reported: wall seconds, CPU seconds and peak memory of each side's processes, videos per second,
and the two ratios the scale issue sets targets for: `--workers 2` against `--workers 1` (>= 1.7x on
two cores) and against the two-process loop (within 1.2x). The Ray path is measured by
`benchmarks/parallel_run.py` (per-partition overhead, model loads per actor).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/parallel_workers.py --videos 12 --seconds 8
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOOP = """
import sys
sys.path.insert(0, {bench!r})
from dagster_scale_loop import run_plain_loop
from video_assets.settings.config import ClippingSettings, Settings
settings = Settings(input_dir={videos!r}, data_dir={data!r}, enabled_models=("fingerprint",),
                    clipping=ClippingSettings(clip_len_s=4.0, stride_s=4.0, min_clip_len_s=1.0))
print(run_plain_loop(settings))
"""
SETTINGS = '{"clipping": {"clip_len_s": 4.0, "stride_s": 4.0, "min_clip_len_s": 1.0}}'


def make_videos(folder: Path, count: int, seconds: float, size: tuple[int, int]) -> list[Path]:
    from video_assets.media.synthetic import make_video

    return [
        make_video(folder / f"v{i:03d}.mp4", duration_s=seconds, fps=24, size=size, seed=300 + i) for i in range(count)
    ]


def children_usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # CPU s, peak MB of one process


def timed(commands: list[list[str]], env: dict[str, str]) -> tuple[float, float]:
    """Run the commands at once; wall and CPU seconds of their process trees."""
    cpu0, _ = children_usage()
    started = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode not in (0,):
            raise RuntimeError(f"{proc.args[:6]} exited {proc.returncode}: {err.decode()[-2000:]}")
    return time.perf_counter() - started, children_usage()[0] - cpu0


def cli_side(videos: Path, root: Path, workers: int) -> tuple[float, float]:
    (root / "home").mkdir(parents=True)
    settings = root / "settings.json"
    settings.write_text(SETTINGS)
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"), "PYTHONPATH": str(ROOT)}
    env.update(VIDEO_ASSETS_SETTINGS=str(settings))
    command = [sys.executable, "-m", "video_assets.cli", "run", "--input", str(videos), "--output"]
    command += [str(root / "data"), "--models", "fingerprint", "--quiet", "--workers", str(workers)]
    return timed([command], env)


def loop_side(folders: list[Path], root: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = []
    for i, folder in enumerate(folders):
        code = LOOP.format(bench=str(ROOT / "benchmarks"), videos=str(folder), data=str(root / f"data{i}"))
        commands.append([sys.executable, "-c", code])
    return timed(commands, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--size", default="320x240", help="WxH of the generated videos")
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="parallel_workers_"))
    try:
        files = make_videos(work / "videos", args.videos, args.seconds, size)
        halves = [work / "half0", work / "half1"]
        for i, path in enumerate(files):
            halves[i % 2].mkdir(exist_ok=True)
            os.link(path, halves[i % 2] / path.name)
        rows = [
            ("run --workers 1", *cli_side(work / "videos", work / "w1", 1)),
            ("run --workers 2", *cli_side(work / "videos", work / "w2", 2)),
            ("plain loop, 1 process", *loop_side([work / "videos"], work / "l1")),
            ("plain loop, 2 processes", *loop_side(halves, work / "l2")),
        ]
        peak = children_usage()[1]
        print(
            f"\n{args.videos} videos, {args.seconds:g} s {args.size} 24 fps each, fingerprint; {os.cpu_count()} cores"
        )
        print(f"{'side':<26}{'wall s':>9}{'cpu s':>9}{'videos/s':>10}")
        for name, wall, cpu in rows:
            # `--workers 2` forks its workers from multiprocessing's server, which this script does not
            # wait for: their CPU is not in the children's usage, so it is not shown.
            shown = "-" if name == "run --workers 2" else f"{cpu:.1f}"
            print(f"{name:<26}{wall:>9.1f}{shown:>9}{args.videos / wall:>10.2f}")
        walls = {name: wall for name, wall, _ in rows}
        print(f"--workers 2 speed-up over --workers 1: {walls['run --workers 1'] / walls['run --workers 2']:.2f}x")
        print(
            "--workers 2 against the two-process loop: "
            f"{walls['run --workers 2'] / walls['plain loop, 2 processes']:.2f}x its wall time"
        )
        print(f"peak memory of one process (any side): {peak:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
