"""Huge frames: native frames above frames.max_pixels are scaled down at decode, so an
8000x8000 video stays far below 2 GB of memory; explicit target_res still wins."""

from __future__ import annotations

import subprocess
import sys

import pytest

from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions, fit_pixels
from video_assets.media.frames import FrameSignature, extract_frames
from video_assets.media.synthetic import make_video, read_frame_index
from video_assets.settings.config import FrameSettings

SIG = FrameSignature("sequence", 2.0)
# The issue asks for < 2 GB; we measure ~0.45 GB, and unscaled frames peak at ~1.7 GB.
RSS_BUDGET_MB = 1024

# Peak memory of the child's own address space: ru_maxrss would carry the parent's peak
# over fork + exec on Linux (and pytest just encoded 8000x8000 frames).
_CHILD = r"""
import re, resource, sys
from pathlib import Path
from video_assets.settings.config import FrameSettings
from video_assets.media.clipping import ClipSpan
from video_assets.media.decode import DecodeOptions
from video_assets.media.frames import FrameSignature, extract_frames
(clip,) = extract_frames(sys.argv[1], [ClipSpan(0.0, 3.0)], [FrameSignature("sequence", 2.0)],
                         options=DecodeOptions(max_pixels=FrameSettings().max_pixels))
frames = clip.frames["sequence-2.0"].frames
status = Path("/proc/self/status")
if status.exists():
    peak_mb = int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1)) // 1024
else:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(clip.error, *frames.shape, *clip.scaled_from, peak_mb)
"""


def test_fit_pixels_keeps_the_aspect_ratio_within_the_budget():
    assert fit_pixels(8000, 8000, 8_294_400) == (2880, 2880)
    assert fit_pixels(200, 16000, 8_294_400) is None  # 3.2 Mpx fits
    h, w = fit_pixels(200, 16000, 1_000_000)
    assert h * w <= 1_000_000 and abs(w / h - 80) < 1
    assert fit_pixels(13, 17, None) is None


@pytest.mark.parametrize("rotation", [0, 90])
def test_frames_over_max_pixels_are_scaled_at_decode_and_target_res_wins(synthetic_video, rotation):
    path = synthetic_video(duration_s=1.0, size=(320, 160), pattern="index", rotation=rotation)
    native = (320, 160) if rotation else (160, 320)  # upright (H, W)
    (scaled,) = extract_frames(path, [ClipSpan(0.0, 1.0)], [SIG], options=DecodeOptions(max_pixels=12_800))
    frames = scaled.frames[SIG.key].frames
    assert frames.shape[1:3] == fit_pixels(*native, 12_800) and scaled.scaled_from == native
    if not rotation:
        assert [read_frame_index(f) for f in frames] == [0, 15, 29]
    (explicit,) = extract_frames(
        path, [ClipSpan(0.0, 1.0)], [SIG], options=DecodeOptions(max_pixels=12_800, target_res=(120, 200))
    )
    assert explicit.frames[SIG.key].frames.shape[1:3] == (120, 200) and explicit.scaled_from is None


def test_very_wide_frames_fit_the_default_budget_natively(tmp_path):
    path = make_video(tmp_path / "wide.avi", codec="mjpeg", size=(16000, 200), fps=2.0, duration_s=1.0)
    (clip,) = extract_frames(
        path, [ClipSpan(0.0, 1.0)], [SIG], options=DecodeOptions(max_pixels=FrameSettings().max_pixels)
    )
    assert clip.frames[SIG.key].frames.shape == (2, 200, 16000, 3) and clip.scaled_from is None


def test_an_8000x8000_video_decodes_within_the_memory_budget(tmp_path):
    """Before max_pixels, 3 s of 8000x8000 held 192 MB per RGB frame (and frame threads
    held 96 MB pictures each): 16 GB peaks through the pipeline. Measured in a child process."""
    path = make_video(tmp_path / "huge.avi", codec="mjpeg", size=(8000, 8000), fps=1.0, duration_s=3.0)
    run = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    error, n, h, w, c, native_h, native_w, peak_mb = run.stdout.split()
    assert error == "None" and (int(n), int(h), int(w), int(c)) == (5, 2880, 2880, 3)
    assert (int(native_h), int(native_w)) == (8000, 8000)
    assert int(peak_mb) < RSS_BUDGET_MB, f"peak RSS {peak_mb} MB"
