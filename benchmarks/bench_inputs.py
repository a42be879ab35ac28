"""Benchmark inputs made once with the ffmpeg CLI and kept under /tmp between runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

BENCH_DIR = Path("/tmp/video_assets_bench")


def make_720p(name: str, duration_s: int, preset: str, *, video_filter: str = "", crf: int | None = None) -> Path:
    """A 1280x720 30 fps H.264 test-pattern video ``<BENCH_DIR>/<name>``, encoded once.

    `video_filter` is appended to the test source (e.g. ``noise=alls=12:allf=t`` for camera-like
    grain); `crf` overrides x264's default quality.
    """
    path = BENCH_DIR / name
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=1280x720:rate=30:duration={duration_s}" + (f",{video_filter}" if video_filter else ""),
             "-c:v", "libx264", "-preset", preset, *(["-crf", str(crf)] if crf is not None else []),
             "-pix_fmt", "yuv420p", str(tmp)],
            check=True,
        )  # fmt: skip
        tmp.rename(path)
    return path
