"""Frame extraction speed: ours (PyAV, decord) against the ffmpeg CLI.

    .venv/bin/python benchmarks/frame_extraction.py [--video PATH] [--repeats 3]

Without --video it generates (once, under /tmp/video_assets_bench) a 60 s 1280x720 30 fps
H.264 file with B-frames (ffmpeg testsrc2, preset veryfast), like typical uploads.

Contenders of a case run in turn for `--repeats` rounds (so background load hits them
alike); medians of wall time and of CPU time (user + sys, all threads, the ffmpeg child
and our pipe reading included) are reported. Cases:
- dense: 2 fps over the whole video in 10 s clips, ours vs
  ``ffmpeg -threads N -i V -vf fps=2 -f rawvideo -pix_fmt rgb24 -`` read from a pipe,
  with one decoder thread each and with all threads (0 = auto). Ratios = ffmpeg time /
  our time, so > 1 means we are faster. Ours gives 21 frames per 10 s clip (both ends
  sampled, NeMo's rule), ffmpeg 20: we deliver 5 % more frames.
- sparse: 2 s clips every 15 s at 2 fps (seeks matter), PyAV vs decord.
- middle: one middle frame per 10 s clip, PyAV vs decord.
- scene analysis: every frame at 27x48 (what scene-cut detection decodes), PyAV vs decord.
- short files: 5 s 720p H.264 (B-frames), 2 fps over the whole file, ours vs ffmpeg
  ``-vf fps=2`` and vs a plain in-order decode in Python (open once, demux the timestamps,
  rewind, decode every frame in order, convert the frames nearest the sample times):
  the fixed cost per video (opening, probing the order) shows here.
- ``--classes``: every codec class the decode tests generate (frame_classes.CLASSES: MP4,
  MJPEG/MPEG-4/Xvid/DivX AVIs with B-frames, packed B-frames, dropped frames, H.264 in AVI,
  VP9, 10-bit HEVC/H.264, VFR, rotated, 17x13, one frame, half a second, a 5 s 720p H.264,
  a short low-resolution AVI), each file decoded whole as one clip at 2 fps on 1 thread:
  ours, NeMo Curator's decode path (reimplemented: frame_classes.nemo_extract) and
  ``ffmpeg -threads 1 -vf fps=2``, side by side, wall and CPU ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from bench_inputs import make_720p
from frame_classes import CLASSES, class_input, nemo_extract

from video_assets.media.clipping import ClipSpan, fixed_stride_spans
from video_assets.media.decode import DecodeOptions
from video_assets.media.decoders import available_backends, open_decoder
from video_assets.media.frames import FramePolicy, FrameSignature, iter_extract_frames
from video_assets.media.probe import probe
from video_assets.media.sampling import frames_in_span, sequence_indices

SEQ2 = FrameSignature(FramePolicy.SEQUENCE, 2.0)
MIDDLE = FrameSignature(FramePolicy.MIDDLE, 1.0)


def make_input(duration_s: int = 60) -> Path:
    return make_720p(f"bench_720p_{duration_s}s_veryfast.mp4", duration_s, "veryfast")


@dataclass
class Timing:
    wall_s: float  # median wall clock
    cpu_s: float  # median CPU time (user + sys, all threads, ffmpeg child included)
    frames: int


def measure(contenders: dict[str, Callable[[], int]], repeats: int) -> dict[str, Timing]:
    """Run the contenders in turn, ``repeats`` rounds, so background load hits all alike."""
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    frames: dict[str, int] = {}
    for _ in range(repeats):
        for name, fn in contenders.items():
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu, wall = time.process_time(), time.perf_counter()
            frames[name] = fn()
            walls[name].append(time.perf_counter() - wall)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            child_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
            cpus[name].append(time.process_time() - cpu + child_cpu)
    return {n: Timing(statistics.median(walls[n]), statistics.median(cpus[n]), frames[n]) for n in contenders}


def ours(
    path: Path,
    spans: list[ClipSpan],
    sig: FrameSignature,
    threads: int,
    backend: str = "pyav",
    target_res: tuple[int, int] = (-1, -1),
) -> int:
    frames = 0
    options = DecodeOptions(backend=backend, num_threads=threads, target_res=target_res)
    for _, clip in iter_extract_frames(path, spans, [sig], options=options):
        if clip.error:
            raise RuntimeError(clip.error)
        frames += len(clip.frames[sig.key].frames)
    return frames


def ffmpeg_fps(path: Path, fps: float, threads: int, frame_bytes: int) -> int:
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-threads",
        str(threads),
        "-i",
        str(path),
        "-vf",
        f"fps={fps}",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    total = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        while chunk := proc.stdout.read(1 << 22):
            total += len(chunk)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed with {proc.returncode}")
    return total // frame_bytes


def plain_in_order(path: Path, spans: list[ClipSpan], fps: float, threads: int) -> int:
    """The simplest correct extractor: demux the timestamps, rewind, decode every frame in
    order, convert each frame nearest a sample time (once), hand out one per sample."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = np.unique([p.pts for p in container.demux(stream) if p.pts is not None and p.size])
        times = (pts - pts[0]) * float(stream.time_base)
        samples = []
        for span in spans:
            lo, hi = frames_in_span(times, span.start_s, span.end_s)
            if hi > lo:
                samples.extend(sequence_indices(times, lo, hi, fps).tolist())
        wanted = {int(pts[i]) for i in samples}
        container.seek(0, stream=stream, backward=True)
        stream.thread_type, stream.codec_context.thread_count = "AUTO", threads
        rgb = {frame.pts: frame.to_ndarray(format="rgb24") for frame in container.decode(stream) if frame.pts in wanted}
    return sum(1 for i in samples if int(pts[i]) in rgb)


def all_frames_small(path: Path, backend: str, threads: int) -> int:
    with open_decoder(path, backend=backend, num_threads=threads) as decoder:
        return sum(1 for _ in decoder.read(np.arange(len(decoder.index)), size=(27, 48)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="input video (default: generated 720p, 60 s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--short-files", type=int, default=5, help="how many 5 s 720p files (seeds) to time")
    parser.add_argument(
        "--classes", action="store_true", help="only the per-codec-class table: ours vs ffmpeg vs NeMo, 1 thread"
    )
    parser.add_argument("--class", dest="only", action="append", help="with --classes: just this class (repeatable)")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("the ffmpeg CLI is needed (baseline and input generation)")
    if args.classes:
        codec_classes(args.only or list(CLASSES), args.repeats)
        return
    path = args.video or make_input()
    info = probe(path)
    backends = available_backends()
    print(f"input: {path} {info.codec} {info.width}x{info.height} {info.avg_fps} fps {info.duration_s:.1f} s")
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    print(f"backends: {backends}; {args.repeats} interleaved rounds, medians\n")
    dense = fixed_stride_spans(info.duration_s)
    frame_bytes = info.width * info.height * 3

    print("dense 2 fps, 10 s clips          wall s   cpu s  frames  ffmpeg/ours (wall, cpu)")
    for threads in (1, 0):
        label = "1 thread" if threads == 1 else "all threads"
        contenders = {"ffmpeg -vf fps=2": lambda n=threads: ffmpeg_fps(path, 2.0, n, frame_bytes)}
        for backend in backends:
            contenders[f"ours {backend}"] = lambda b=backend, n=threads: ours(path, dense, SEQ2, n, b)
        got = measure(contenders, args.repeats)
        base = got["ffmpeg -vf fps=2"]
        for name, t in got.items():
            ratio = "" if t is base else f"  {base.wall_s / t.wall_s:5.2f}x {base.cpu_s / t.cpu_s:5.2f}x"
            print(f"  {name:16s} ({label:11s}) {t.wall_s:6.2f} {t.cpu_s:7.2f} {t.frames:7d}{ratio}")

    sparse = [ClipSpan(s, s + 2.0) for s in np.arange(0.0, info.duration_s - 2.0, 15.0)]
    cases = {
        f"sparse: {len(sparse)} x 2 s clips at 2 fps": lambda b: ours(path, sparse, SEQ2, 0, b),
        f"middle frame of {len(dense)} clips": lambda b: ours(path, dense, MIDDLE, 0, b),
        "every frame at 27x48 (scene cuts)": lambda b: all_frames_small(path, b, 0),
    }
    print("\nPyAV vs decord (all threads)       pyav wall s  decord wall s  decord/pyav  frames")
    for name, run in cases.items():
        got = measure({b: (lambda b=b, run=run: run(b)) for b in backends}, args.repeats)
        line = f"  {name:34s} {got['pyav'].wall_s:8.2f}"
        if "decord" in got:
            assert got["decord"].frames == got["pyav"].frames, got
            line += f"  {got['decord'].wall_s:12.2f}  {got['decord'].wall_s / got['pyav'].wall_s:10.2f}x"
        print(f"{line}  {got['pyav'].frames:6d}")

    short_files(args.short_files, args.repeats)


def short_files(count: int, repeats: int) -> None:
    """5 s 720p files: the per-video fixed cost against ffmpeg and a plain in-order decode."""
    paths = [
        make_720p(f"bench_720p_5s_seed{k}.mp4", 5, "veryfast", video_filter=f"hue=h={40 * k}") for k in range(count)
    ]
    spans = {p: fixed_stride_spans(probe(p).duration_s) for p in paths}
    frame_bytes = 1280 * 720 * 3
    contenders = {
        "ffmpeg -vf fps=2": lambda: sum(ffmpeg_fps(p, 2.0, 0, frame_bytes) for p in paths),
        "plain in-order decode": lambda: sum(plain_in_order(p, spans[p], 2.0, 0) for p in paths),
        "ours pyav": lambda: sum(ours(p, spans[p], SEQ2, 0) for p in paths),
    }
    got = measure(contenders, repeats)
    print(f"\n{count} short files (5 s 720p), 2 fps, all threads   wall s   cpu s  frames  ours faster by (wall, cpu)")
    mine = got["ours pyav"]
    for name, t in got.items():
        ratio = "" if t is mine else f"  {t.wall_s / mine.wall_s:5.2f}x {t.cpu_s / mine.cpu_s:5.2f}x"
        print(f"  {name:42s} {t.wall_s:6.2f} {t.cpu_s:7.2f} {t.frames:7d}{ratio}")


def codec_classes(names: list[str], repeats: int) -> None:
    """Per codec class, one file decoded whole as one clip at 2 fps on 1 thread: ours, NeMo
    Curator's path (frame_classes.nemo_extract) and ``ffmpeg -threads 1 -vf fps=2``; per-file
    times (medians of ``repeats`` interleaved rounds); ratios > 1 = we are faster."""
    print(
        "codec class, 1 thread, 2 fps     ours ms  nemo ms  ffmpeg ms  frames   nemo/ours  ffmpeg/ours"
        "  (wall; then CPU)"
    )
    for name in names:
        got = time_class(class_input(name), repeats)
        ms = {k: 1000 * t.wall_s for k, t in got.items()}
        cpu = {k: t.cpu_s for k, t in got.items()}
        print(
            f"  {name:28s} {ms['ours']:8.1f} {ms['nemo']:8.1f} {ms['ffmpeg']:10.1f} {got['ours'].frames:7d}"
            f"  {ms['nemo'] / ms['ours']:8.2f}x {ms['ffmpeg'] / ms['ours']:10.2f}x"
            f"   cpu {cpu['nemo'] / cpu['ours']:5.2f}x {cpu['ffmpeg'] / cpu['ours']:6.2f}x"
        )


def time_class(path: Path, repeats: int, budget_s: float = 0.25) -> dict[str, Timing]:
    """The three contenders on one file, per-file medians. Each runs enough times a round to
    take about ``budget_s`` (its own count, from one untimed run), so short files time well."""
    info = probe(path)
    spans = [ClipSpan(0.0, max(info.duration_s, 1e-3) + 1.0)]  # the whole file, as NeMo's clip buffer
    frame_bytes = info.width * info.height * 3
    once = {
        "ours": lambda: ours(path, spans, SEQ2, 1),
        "nemo": lambda: nemo_extract(path, 2.0, 1),
        "ffmpeg": lambda: ffmpeg_fps(path, 2.0, 1, frame_bytes),
    }
    loops = {}
    for name, fn in once.items():
        fn()  # page cache and first-call costs out of the timings
        start = time.perf_counter()
        fn()
        loops[name] = max(1, int(budget_s / max(time.perf_counter() - start, 1e-4)))
    contenders = {name: _repeat(fn, loops[name]) for name, fn in once.items()}
    got = measure(contenders, repeats)
    return {k: Timing(t.wall_s / loops[k], t.cpu_s / loops[k], t.frames // loops[k]) for k, t in got.items()}


def _repeat(fn: Callable[[], int], times: int) -> Callable[[], int]:
    return lambda: sum(fn() for _ in range(times))


if __name__ == "__main__":
    main()
