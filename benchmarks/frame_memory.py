"""Peak memory of frame extraction stays flat as videos get longer.

    .venv/bin/python benchmarks/frame_memory.py [--minutes 1 10]

Generates (once, under /tmp/video_assets_bench) 1280x720 30 fps H.264 videos of each
length (ffmpeg testsrc2, preset ultrafast: cheap to make), then, in a fresh process per
video, streams 2 fps frames of every 10 s clip with `iter_extract_frames`, consuming each
clip as it arrives (as the frames asset does: write it, drop it). It prints the process's
peak RSS before and after extraction and the bytes of frames that went through; a
10x longer video should give about the same peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_inputs import make_720p


def make_input(minutes: int) -> Path:
    return make_720p(f"mem_720p_{minutes}min_ultrafast.mp4", minutes * 60, "ultrafast")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(path: Path) -> None:
    """Runs in its own process so ru_maxrss is this extraction's peak alone."""
    from video_assets.media.clipping import fixed_stride_spans
    from video_assets.media.frames import FrameSignature, iter_extract_frames
    from video_assets.media.probe import probe

    duration = probe(path).duration_s
    spans = fixed_stride_spans(duration)
    sig = FrameSignature("sequence", 2.0)
    before = _peak_rss_mb()
    start = time.perf_counter()
    frames, nbytes = 0, 0
    for _, clip in iter_extract_frames(path, spans, [sig]):
        got = clip.frames[sig.key].frames
        frames += len(got)
        nbytes += got.nbytes
    result = {
        "duration_s": duration,
        "clips": len(spans),
        "frames": frames,
        "frame_mb": nbytes / 2**20,
        "rss_before_mb": before,
        "peak_rss_mb": _peak_rss_mb(),
        "seconds": time.perf_counter() - start,
    }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if shutil.which("ffmpeg") is None:
        sys.exit("the ffmpeg CLI is needed to generate the inputs")
    print("video            clips  frames  frames MB  RSS after imports MB  peak RSS MB  extract s")
    peaks = []
    for minutes in args.minutes:
        path = make_input(minutes)
        cmd = [sys.executable, __file__, "--child", str(path)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(r["peak_rss_mb"])
        print(
            f"{minutes:3d} min 720p     {r['clips']:5d} {r['frames']:7d} {r['frame_mb']:10.0f} "
            f"{r['rss_before_mb']:21.0f} {r['peak_rss_mb']:12.0f} {r['seconds']:10.1f}"
        )
    print(f"peak RSS, longest / shortest: {peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
