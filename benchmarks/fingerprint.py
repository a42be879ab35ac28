"""Fingerprint quality and speed, the previous version beside the current one, in one run.

    .venv/bin/python benchmarks/fingerprint.py [--seeds 8] [--previous e765037] [--repeats 3]

Quality: the generated near-copy set of tests/models/fingerprint_corpus.py (25 s videos
of scenes, 10 s clips; each copy split on its own grid). Per copy: top-1 (share of copy
clips whose nearest indexed clip is from their original), the worst and mean true score,
the best false score, and the margin (worst true - best false, counting the false pairs
among the originals too). Speed: clips/s on one core (torch threads = 1) for
``prepare`` (20 RGB frames of a 10 s clip at 2 fps, at 1280x720 and at 160x120) and for
``embed_video`` in batches of 64; best of ``--repeats``.

The previous version is read from git (``--previous``, the last v2 commit) into a
throwaway module, so the library keeps one fingerprint.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.models import fingerprint_corpus as corpus  # noqa: E402
from video_assets.models.base import Embedder  # noqa: E402
from video_assets.models.fingerprint import FingerprintEmbedder  # noqa: E402

PREVIOUS = "245e4a3"  # the last commit with fingerprint-v2 (v1: e765037)


def load_previous(commit: str) -> Embedder:
    """fingerprint.py and fingerprint_dct.py as of ``commit``, as modules of their own."""
    def source(name: str) -> str:
        return subprocess.run(["git", "show", f"{commit}:video_assets/models/{name}"], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout  # fmt: skip

    dct = types.ModuleType("fingerprint_dct_previous")
    exec(compile(source("fingerprint_dct.py"), "fingerprint_dct_previous", "exec"), dct.__dict__)
    sys.modules[dct.__name__] = dct
    code = source("fingerprint.py").replace("video_assets.models.fingerprint_dct", dct.__name__)
    module = types.ModuleType("fingerprint_previous")
    exec(compile(code, "fingerprint_previous", "exec"), module.__dict__)
    return module.FingerprintEmbedder()




def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speed(embedder: Embedder, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    out = {}
    for label, (h, w) in (("prepare 720p", (720, 1280)), ("prepare 160x120", (120, 160))):
        clips = [rng.integers(0, 256, (20, h, w, 3), dtype=np.uint8) for _ in range(4)]
        out[label] = len(clips) / best_time(lambda: [embedder.prepare(c) for c in clips], repeats)
    small = [corpus.SyntheticVideo(0).frames(corpus.clip_times(0.0, 10.0))] * 64
    batch = torch.stack([embedder.prepare(c) for c in small])  # (64, 8, 64, 64)
    embedder.embed_video(batch[:2])
    out["embed (batch 64)"] = 64 / best_time(lambda: embedder.embed_video(batch), repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--previous", default=PREVIOUS)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    models = {"previous": load_previous(args.previous), "current": FingerprintEmbedder()}
    print(f"previous = {args.previous} ({models['previous'].spec.revision}), "
          f"current = {models['current'].spec.revision}; {args.seeds} videos")  # fmt: skip
    results = {name: corpus.score_corpus(m, args.seeds) for name, m in models.items()}

    print(f"\n{'copy':32s} | {'top-1':>11s} | {'worst true':>11s} | {'mean true':>11s} | {'best false':>11s} | {'margin':>13s}")
    print(f"{'':32s} | {'prev   cur':>11s} | {'prev   cur':>11s} | {'prev   cur':>11s} | {'prev   cur':>11s} | {'prev    cur':>13s}")
    worst = {name: (1.0, float(unrelated.max())) for name, (_, unrelated) in results.items()}
    for copy in corpus.COPIES:
        cells = []
        for name in models:
            s, unrelated = results[name][0][copy], results[name][1]
            best_false = max(float(s.false_best.max()), float(unrelated.max()))
            worst[name] = (min(worst[name][0], float(s.true_best.min())), max(worst[name][1], best_false))
            cells.append((s.top1, s.true_best.min(), s.true_best.mean(), s.false_best.max(),
                          s.true_best.min() - best_false))  # fmt: skip
        (a, b) = cells
        print(f"{copy:32s} | {a[0]:4.2f}  {b[0]:4.2f} | {a[1]:5.3f} {b[1]:5.3f} | {a[2]:5.3f} {b[2]:5.3f} | "
              f"{a[3]:5.3f} {b[3]:5.3f} | {a[4]:+6.3f} {b[4]:+6.3f}")  # fmt: skip
    for name, (_, unrelated) in results.items():
        print(f"{name}: unrelated index pairs max {unrelated.max():.3f} mean {unrelated.mean():+.3f} "
              f"std {unrelated.std():.3f}; all copies: worst true {worst[name][0]:.3f}, best false "
              f"{worst[name][1]:.3f}, margin {worst[name][0] - worst[name][1]:+.3f}")  # fmt: skip

    print("\nclips/s on one core (best of repeats)")
    timings = {name: speed(m, args.repeats) for name, m in models.items()}
    for label in timings["previous"]:
        p, c = timings["previous"][label], timings["current"][label]
        print(f"  {label:18s} previous {p:8.1f}  current {c:8.1f}  current/previous {c / p:.2f}x")


if __name__ == "__main__":
    main()
