"""Duplicate search at scale: ours (k-means + boundary probes) against a NeMo-style baseline, one run.

Synthetic clip vectors: clustered around topic centres (cosine ~0.65 to their centre, as
embeddings cluster), with planted near-duplicate groups (2-4 clips at cosine in
[threshold, 1]) and near misses (cosine just below the threshold). Both pipelines get the
same vectors and threshold; each runs in its own process (peak memory = its VmHWM, the
vectors included). The baseline trains the same k-means, assigns each clip to one cluster
and compares all pairs within each cluster (NeMo Curator's semantic dedup), at k = sqrt(N)
and k/2 ... k/16 (fewer clusters: more recall, more cost); it shares our block products, so
the rows differ only in what is compared. Ours chooses k itself and also compares each clip
with the clusters whose boundary lies within the pair radius (video_assets/curation/clustering.py).
Recall and precision are measured against exact brute force for the pairs of a random sample
of clips; after each block a line names the fastest baseline setting with recall >= ours.

    .venv/bin/python benchmarks/dedup.py --rows 100000 --dims 768 192
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from video_assets.curation import clustering
from video_assets.curation.pairs import find_pairs

THRESHOLDS = {768: 0.99, 192: 0.85}  # learned-model default, fingerprint default


def make_vectors(rows: int, dim: int, threshold: float, topics_per_1k: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    topics = clustering.normalize(rng.standard_normal((max(10, int(rows * topics_per_1k / 1000)), dim)))
    sigma = math.sqrt((1 / 0.65**2 - 1) / dim)
    x = np.empty((rows, dim), np.float32)
    for s in range(0, rows, 65536):
        n = min(65536, rows - s)
        x[s : s + n] = topics[rng.integers(0, len(topics), n)] + sigma * rng.standard_normal((n, dim), np.float32)
    clustering.normalize(x, in_place=True)
    planted = rng.choice(rows, size=rows // 25, replace=False)  # 4 % of clips are rewritten as copies or near misses
    sources = rng.choice(rows, size=len(planted))
    r = 1.0 - threshold
    cos = np.where(
        rng.random(len(planted)) < 0.75,
        rng.uniform(threshold + 0.02 * r, 1.0, len(planted)),
        rng.uniform(threshold - 0.5 * r, threshold - 0.02 * r, len(planted)),
    )
    for target, source, c in zip(planted, sources, cos):
        w = rng.standard_normal(dim)
        v = x[source].astype(np.float64)
        w -= (w @ v) * v
        x[target] = c * v + math.sqrt(max(0.0, 1 - c * c)) * w / np.linalg.norm(w)
    return clustering.normalize(x, in_place=True)


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(path: str, threshold: float, max_probes: int, k: int | None, out: mp.Queue) -> None:
    """One pipeline: the baseline (max_probes 0) at k clusters, or ours at k or (k None) the k it chooses."""
    x = np.load(path)
    started = time.perf_counter()
    if max_probes:  # ours: the same k-means, on the first rows of a seeded order (as update_duplicates does)
        priority = np.random.default_rng(1).permutation(len(x))
        centroids = clustering.fit_centroids(x, priority, threshold=threshold, max_probes=max_probes, k=k)
    else:
        sample = np.sort(np.random.default_rng(1).choice(len(x), min(len(x), k * 64), replace=False))
        centroids = clustering.train_centroids(x[sample], k)
    trained = time.perf_counter()
    assignment = clustering.assign(x, centroids, threshold=threshold, max_probes=max_probes)
    assigned = time.perf_counter()
    pairs, stats = find_pairs(x, assignment, np.ones(len(x), bool), threshold)
    done = time.perf_counter()
    if max_probes and k is None:  # an incremental run: 1 % new clips against the rest, with the centroids kept
        new = np.zeros(len(x), bool)
        new[np.random.default_rng(3).choice(len(x), max(1, len(x) // 100), replace=False)] = True
        t0 = time.perf_counter()
        fresh = clustering.assign(x[new], centroids, threshold=threshold, max_probes=max_probes)
        assignment.cluster[new], assignment.probes[new], assignment.capped[new] = (
            fresh.cluster,
            fresh.probes,
            fresh.capped,
        )
        find_pairs(x, assignment, new, threshold)
        print(
            f"    (incremental, 1 % new clips: assign + pairs {time.perf_counter() - t0:.2f} s "
            f"vs full {done - trained:.2f} s)",
            flush=True,
        )
    out.put(
        {
            "seconds": done - started,
            "kmeans_s": trained - started,
            "assign_s": assigned - trained,
            "pairs_s": done - assigned,
            "pairs": (pairs.i, pairs.j),
            "comparisons": stats.comparisons,
            "k": len(centroids),
            "capped": int(assignment.capped.sum()),
            "peak_mb": _peak_mb(),
        }
    )


def run_child(path: str, threshold: float, max_probes: int, k: int | None) -> dict:
    queue: mp.Queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_run, args=(path, threshold, max_probes, k, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def truth_for_sample(x: np.ndarray, threshold: float, sample: np.ndarray) -> set[tuple[int, int]]:
    """Every pair with cosine >= threshold that involves a sampled clip, by brute force."""
    found = set()
    for s in range(0, len(sample), 512):
        rows = sample[s : s + 512]
        sims = x[rows] @ x.T  # float32 candidates, confirmed in float64 below
        r, c = np.nonzero(sims >= threshold - 1e-4)
        for a, b in zip(rows[r], c):
            if a != b and float(x[a].astype(np.float64) @ x[b].astype(np.float64)) >= threshold:
                found.add((min(a, b), max(a, b)))
    return found


def score(pairs: tuple[np.ndarray, np.ndarray], truth: set, sample: np.ndarray) -> tuple[float, float]:
    in_sample = np.isin(pairs[0], sample) | np.isin(pairs[1], sample)
    found = set(zip(pairs[0][in_sample].tolist(), pairs[1][in_sample].tolist()))
    recall = len(found & truth) / len(truth) if truth else 1.0
    precision = len(found & truth) / len(found) if found else 1.0
    return recall, precision


def _verdict(results: list[tuple[str, float, float]]) -> str:
    """Ours (k chosen) against the fastest baseline setting whose recall is at least ours."""
    ours = next((r for r in results if r[0].startswith("ours (")), None)
    if ours is None:
        return ""
    equal = [r for r in results if r[0].startswith("baseline") and r[2] >= ours[2]]
    if not equal:
        return f"    ours {ours[1]:.1f} s at recall {ours[2]:.4f}: no baseline setting run reaches it"
    best = min(equal, key=lambda r: r[1])
    return (
        f"    ours {ours[1]:.1f} s at recall {ours[2]:.4f}; fastest baseline at recall >= that: "
        f"{best[0]} {best[1]:.1f} s -> ours / baseline = {ours[1] / best[1]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[768, 192])
    parser.add_argument("--sample", type=int, default=2000, help="clips whose pairs are checked by brute force")
    parser.add_argument("--max-probes", type=int, default=clustering.DEFAULT_MAX_PROBES)
    parser.add_argument(
        "--topics-per-1k",
        type=float,
        nargs="+",
        default=[1.0, 20.0],
        help="topic centres per 1000 clips: 1 = coarse topics (fewer than the ~sqrt(N) clusters), "
        "20 = fine ones (more than the clusters, so cluster boundaries cut through them)",
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], help="pipelines to leave out, by name prefix (e.g. 'baseline, k/16')"
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        "| rows x dim | threshold | pipeline | k | seconds (k-means / assign / pairs) | comparisons | peak MB "
        "| recall | precision | time vs baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rows, dim, topics in ((r, d, t) for r in args.rows for d in args.dims for t in args.topics_per_1k):
        threshold = THRESHOLDS.get(dim, 0.99)
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "x.npy")
            x = make_vectors(rows, dim, threshold, topics)
            np.save(path, x)
            sample = np.sort(np.random.default_rng(2).choice(rows, min(rows, args.sample), replace=False))
            truth = truth_for_sample(x, threshold, sample)
            del x
            k = clustering.auto_clusters(rows)
            # The baseline with fewer, larger clusters loses fewer boundary pairs at a higher cost.
            runs = [
                (f"baseline, k/{d}" if d > 1 else "baseline (NeMo: within cluster)", 0, max(1, k // d))
                for d in (1, 2, 4, 8, 16)
            ]
            runs += [
                ("ours (boundary probes, k chosen)", args.max_probes, None),
                ("ours, k = sqrt(N)", args.max_probes, k),
            ]
            base, results = None, []
            for name, probes, kk in [r for r in runs if not any(r[0].startswith(p) for p in args.skip)]:
                r = run_child(path, threshold, probes, kk)
                recall, precision = score(r["pairs"], truth, sample)
                results.append((name, r["seconds"], recall))
                base = base or r["seconds"]
                print(
                    f"| {rows} x {dim}, {topics:g} topics/1k | {threshold} | {name} | {r['k']} | {r['seconds']:.1f} ({r['kmeans_s']:.1f} / "
                    f"{r['assign_s']:.1f} / {r['pairs_s']:.1f}) | {r['comparisons']:.3g} | {r['peak_mb']:.0f} | "
                    f"{recall:.4f} | {precision:.4f} | {r['seconds'] / base:.2f}x |",
                    flush=True,
                )
            print(_verdict(results))
            print(f"|  |  | ({len(truth)} true pairs touch the {len(sample)} sampled clips) |  |  |  |  |  |  |  |")


if __name__ == "__main__":
    main()
