"""Frame extraction speed: ours (PyAV, decord) against the ffmpeg CLI.

    .venv/bin/python benchmarks/frame_extraction.py [--video PATH] [--repeats 3]

Without --video it generates (once, under /tmp/video_assets_bench) a 60 s 1280x720 30 fps
H.264 file with B-frames (ffmpeg testsrc2, preset veryfast), like typical uploads.

Cases (each timed `--repeats` times, median reported, wall clock):
- dense: 2 fps over the whole video in 10 s clips, ours vs
  ``ffmpeg -threads N -i V -vf fps=2 -f rawvideo -pix_fmt rgb24 -`` read from a pipe,
  with one decoder thread each and with all threads (0 = auto). Ratio = ffmpeg time /
  our time, so > 1 means we are faster.
- sparse: 2 s clips every 15 s at 2 fps (seeks matter), PyAV vs decord.
- middle: one middle frame per 10 s clip, PyAV vs decord.
- scene analysis: every frame at 27x48 (what scene-cut detection decodes), PyAV vs decord.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from video_assets.media.clipping import ClipSpan, fixed_stride_spans
from video_assets.media.decode import available_backends, open_decoder
from video_assets.media.frames import FramePolicy, FrameSignature, iter_extract_frames
from video_assets.media.probe import probe

BENCH_DIR = Path("/tmp/video_assets_bench")
SEQ2 = FrameSignature(FramePolicy.SEQUENCE, 2.0)
MIDDLE = FrameSignature(FramePolicy.MIDDLE, 1.0)


def make_input(duration_s: int = 60) -> Path:
    path = BENCH_DIR / f"bench_720p_{duration_s}s_veryfast.mp4"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=1280x720:rate=30:duration={duration_s}",
             "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(tmp)],
            check=True,
        )  # fmt: skip
        tmp.rename(path)
    return path


def timed(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Median wall time of ``fn`` and the frame count it returned."""
    times, count = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def ours(path: Path, spans: list[ClipSpan], sig: FrameSignature, threads: int, backend: str = "pyav",
         target_res: tuple[int, int] = (-1, -1)) -> int:  # fmt: skip
    frames = 0
    for _, clip in iter_extract_frames(path, spans, [sig], target_res=target_res, backend=backend, num_threads=threads):
        if clip.error:
            raise RuntimeError(clip.error)
        frames += len(clip.frames[sig.key].frames)
    return frames


def ffmpeg_fps(path: Path, fps: float, threads: int, frame_bytes: int) -> int:
    cmd = ["ffmpeg", "-v", "error", "-threads", str(threads), "-i", str(path),
           "-vf", f"fps={fps}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    total = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        while chunk := proc.stdout.read(1 << 22):
            total += len(chunk)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed with {proc.returncode}")
    return total // frame_bytes


def all_frames_small(path: Path, backend: str, threads: int) -> int:
    with open_decoder(path, backend=backend, num_threads=threads) as decoder:
        return sum(1 for _ in decoder.read(np.arange(len(decoder.index)), size=(27, 48)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="input video (default: generated 720p, 60 s)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("the ffmpeg CLI is needed (baseline and input generation)")
    path = args.video or make_input()
    info = probe(path)
    print(f"input: {path} {info.codec} {info.width}x{info.height} {info.avg_fps} fps {info.duration_s:.1f} s")
    backends = available_backends()
    print(f"backends: {backends}; repeats: {args.repeats} (median)\n")
    dense = fixed_stride_spans(info.duration_s)
    frame_bytes = info.width * info.height * 3

    print("dense 2 fps, 10 s clips      time s   frames  ffmpeg/ours")
    for threads in (1, 0):
        label = "1 thread" if threads == 1 else "all threads"
        base, base_n = timed(lambda: ffmpeg_fps(path, 2.0, threads, frame_bytes), args.repeats)
        print(f"  ffmpeg -vf fps=2 ({label:11s}) {base:7.2f} {base_n:8d}")
        for backend in backends:
            t, n = timed(lambda: ours(path, dense, SEQ2, threads, backend), args.repeats)
            print(f"  ours {backend:6s} ({label:11s})    {t:7.2f} {n:8d}  {base / t:6.2f}x")

    sparse = [ClipSpan(s, s + 2.0) for s in np.arange(0.0, info.duration_s - 2.0, 15.0)]
    middle = fixed_stride_spans(info.duration_s)
    cases = [
        (f"sparse: {len(sparse)} x 2 s clips at 2 fps", lambda b: ours(path, sparse, SEQ2, 0, b)),
        (f"middle frame of {len(middle)} clips", lambda b: ours(path, middle, MIDDLE, 0, b)),
        ("every frame at 27x48 (scene cuts)", lambda b: all_frames_small(path, b, 0)),
    ]
    print("\nPyAV vs decord (all threads)    pyav s  decord s  decord/pyav")
    for name, run in cases:
        t_pyav, n = timed(lambda: run("pyav"), args.repeats)
        line = f"  {name:32s} {t_pyav:6.2f}"
        if "decord" in backends:
            t_decord, n_decord = timed(lambda: run("decord"), args.repeats)
            assert n == n_decord, (n, n_decord)
            line += f"  {t_decord:8.2f}  {t_decord / t_pyav:8.2f}x"
        print(f"{line}   ({n} frames)")


if __name__ == "__main__":
    main()
