"""Fingerprint quality and speed, earlier versions beside the current one, in one run.

    .venv/bin/python benchmarks/fingerprint.py [--seeds 8] [--first-seed 0]
        [--previous e765037 2a21e47] [--repeats 5] [--clock cpu|wall] [--no-speed]

Quality: the generated near-copy set of tests/models/fingerprint_corpus.py (25 s videos
of scenes, 10 s clips; each copy split on its own grid). Seeds 0-7 are the tests' set;
``--first-seed 100 --seeds 16`` is a held-out set no setting was chosen on. Per copy:
top-1 (share of copy clips whose nearest indexed clip is from their original), the
worst true score, the best false score, and the margin (worst true - best false,
counting the false pairs among the originals too); then the true / false
distributions. Speed: clips/s on one core (torch threads = 1) for ``prepare`` (20 RGB
frames of a 10 s clip at 2 fps, at 1280x720 and at 160x120), for ``embed_video`` in
batches of 64, and per clip (both); best of ``--repeats``, the versions taking turns.
The clock is the process's CPU time by default (``--clock cpu``): on a shared machine
wall time also counts the time other jobs hold the core; ``--clock wall`` for an idle one.

Earlier versions are read from git (``--previous``: v1 = e765037, the figure issue 16
was filed against; v3 = dec3376; v4 = 2a21e47) into throwaway modules, so the library
keeps one fingerprint.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.models import fingerprint_corpus as corpus
from video_assets.models.base import Embedder
from video_assets.models.fingerprint import FingerprintEmbedder

PREVIOUS = ("e765037", "2a21e47")  # fingerprint-v1 (issue 16's baseline), fingerprint-v4
MODELS_DIR = "video_assets/models"


def load_previous(commit: str) -> Embedder:
    """Every fingerprint*.py of ``commit`` as modules of their own (imports among them
    rewritten), and its FingerprintEmbedder."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout

    names = [
        Path(p).stem
        for p in git("ls-tree", "--name-only", commit, f"{MODELS_DIR}/").split()
        if re.fullmatch(r"fingerprint\w*\.py", Path(p).name)
    ]
    # fingerprint_dct has no fingerprint imports, fingerprint.py imports all the others.
    names.sort(key=lambda n: (n != "fingerprint_dct", n == "fingerprint", n))
    module = None
    for name in names:
        code = re.sub(
            r"video_assets\.models\.(fingerprint\w*)", rf"\1_{commit}", git("show", f"{commit}:{MODELS_DIR}/{name}.py")
        )
        module = types.ModuleType(f"{name}_{commit}")
        sys.modules[module.__name__] = module
        exec(compile(code, module.__name__, "exec"), module.__dict__)  # noqa: S102 - our own code from git
    assert module is not None and module.__name__.startswith("fingerprint_"), names
    return module.FingerprintEmbedder()


def workloads(embedder: Embedder) -> dict[str, tuple[int, Callable[[], object]]]:
    """label -> (clips per call, call) for ``prepare`` at two sizes and ``embed_video``."""
    rng = np.random.default_rng(0)
    out: dict[str, tuple[int, Callable[[], object]]] = {}
    for label, (h, w) in (("prepare 720p", (720, 1280)), ("prepare 160x120", (120, 160))):
        clips = [rng.integers(0, 256, (20, h, w, 3), dtype=np.uint8) for _ in range(4)]
        out[label] = (len(clips), lambda clips=clips: [embedder.prepare(c) for c in clips])
    small = [corpus.SyntheticVideo(0).frames(corpus.clip_times(0.0, 10.0))] * 64
    batch = torch.stack([embedder.prepare(c) for c in small])  # (64, 8, 64, 64)
    embedder.embed_video(batch[:2])
    out["embed (batch 64)"] = (64, lambda: embedder.embed_video(batch))
    return out


def speed(models: dict[str, Embedder], repeats: int, clock: Callable[[], float]) -> dict[str, dict[str, float]]:
    """Clips/s per model and workload, best of ``repeats`` on ``clock``. The models take
    turns within each repeat, so a busy machine slows them alike."""
    loads = {name: workloads(m) for name, m in models.items()}
    best = {name: {label: float("inf") for label in load} for name, load in loads.items()}
    for _ in range(repeats):
        for label in next(iter(loads.values())):
            for name, load in loads.items():
                start = clock()
                load[label][1]()
                best[name][label] = min(best[name][label], clock() - start)
    out = {}
    for name, load in loads.items():
        rates = {label: load[label][0] / best[name][label] for label in load}
        for size in ("720p", "160x120"):
            rates[f"per clip {size}"] = 1.0 / (1.0 / rates[f"prepare {size}"] + 1.0 / rates["embed (batch 64)"])
        out[name] = rates
    return out


def quantiles(x: np.ndarray, qs: tuple[float, ...]) -> str:
    return " ".join(f"{v:.3f}" for v in np.quantile(x, qs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--previous", nargs="*", default=list(PREVIOUS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    models = {m.spec.revision.removeprefix("fingerprint-"): m for m in map(load_previous, args.previous)}
    models[FingerprintEmbedder.spec.revision.removeprefix("fingerprint-")] = FingerprintEmbedder()
    names = list(models)
    print(
        f"{', '.join(f'{n} = {c}' for n, c in zip(names, args.previous))}, {names[-1]} = working tree; "
        f"{args.seeds} videos from seed {args.first_seed}"
    )
    results = {n: corpus.score_corpus(m, args.seeds, args.first_seed) for n, m in models.items()}

    def cols(values: list[str]) -> str:
        return " ".join(f"{v:>6s}" for v in values)

    head = cols(names)
    print(f"\n{'copy':30s} | top-1 {head} | worst true {head} | best false {head} | margin {head}")
    worst = {n: (1.0, float(unrelated.max())) for n, (_, unrelated) in results.items()}
    for copy in corpus.COPIES:
        top1, true_min, false_max, margin = [], [], [], []
        for n in names:
            s, unrelated = results[n][0][copy], results[n][1]
            best_false = max(float(s.false_best.max()), float(unrelated.max()))
            worst[n] = (min(worst[n][0], float(s.true_best.min())), max(worst[n][1], best_false))
            top1.append(f"{s.top1:.2f}")
            true_min.append(f"{s.true_best.min():.3f}")
            false_max.append(f"{s.false_best.max():.3f}")
            margin.append(f"{s.true_best.min() - best_false:+.3f}")
        print(
            f"{copy:30s} | top-1 {cols(top1)} | worst true {cols(true_min)} | best false {cols(false_max)} | "
            f"margin {cols(margin)}"
        )
    print("\nall copies: worst true, best false, margin")
    for n in names:
        print(f"  {n}: {worst[n][0]:.3f} {worst[n][1]:.3f} {worst[n][0] - worst[n][1]:+.3f}")
    print("\ndistributions (quantiles)")
    mild = ("h264_crf40", "resize_96x72", "brighter_25", "darker_30", "letterbox_16x9", "mirror")
    for n in names:
        scores, unrelated = results[n]
        true_all = np.concatenate([s.true_best for s in scores.values()])
        true_mild = np.concatenate([scores[c].true_best for c in mild])
        false_all = np.concatenate([s.false_best for s in scores.values()])
        print(
            f"  {n}: true best per copy clip   min/5/25/50 % {quantiles(true_all, (0, 0.05, 0.25, 0.5))}; "
            f"mild edits ({', '.join(mild)}) min {true_mild.min():.3f}"
        )
        print(
            f"  {n}: best false per copy clip  50/95/max % {quantiles(false_all, (0.5, 0.95, 1.0))}; "
            f"unrelated index pairs mean {unrelated.mean():+.3f} std {unrelated.std():.3f} "
            f"99 % {np.quantile(unrelated, 0.99):.3f} max {unrelated.max():.3f}"
        )

    if args.no_speed:
        return
    print(f"\nclips/s on one core (best of repeats, {args.clock} time)")
    timings = speed(models, args.repeats, time.process_time if args.clock == "cpu" else time.perf_counter)
    current = names[-1]
    for label in timings[current]:
        row = "  ".join(f"{n} {timings[n][label]:8.1f}" for n in names)
        ratios = "  ".join(f"{current}/{n} {timings[current][label] / timings[n][label]:.2f}x" for n in names[:-1])
        print(f"  {label:18s} {row}   {ratios}")


if __name__ == "__main__":
    main()
