"""Vector search: our LanceDB index (as `optimize_clip_table` builds it) against faiss-cpu.

(LanceDB alone, index kind by kind, with filters, lookups and late rows: `search_lance_hnsw.py`.)

    .venv/bin/python benchmarks/search_ann.py --rows 100000 --dims 768,512,256
    .venv/bin/python benchmarks/search_ann.py --rows 1000000 --dims 256 --faiss ivfsq,ivfpq,hnsw
    .venv/bin/python benchmarks/search_ann.py --rows 1000000 --dims 768 --faiss ivfsq,ivfpq

Data: synthetic clustered unit vectors, like embeddings of many videos with
recurring content: max(64, rows/500) cluster centres (random directions),
Zipf-like cluster sizes (weight ~ 1/sqrt(rank)), each vector = centre +
N(0, 1/dim) noise per dimension, normalised (in-cluster cosine ~0.5, across
clusters ~0). Queries are fresh draws from the same mixture. Ground truth:
numpy brute force (exact cosine), recall@10 = |ANN top 10 & exact top 10| / 10.

Ours: a clip table with the full clip schema, the ANN index chosen by
`vector_index.plan_vector_index` (auto), searched through `search_vector`
(end to end: open the table, build the query, read 8 columns); the knob
sweep covers nprobes x refine_factor. faiss at comparable settings: the same
number of IVF lists and training rows, IVF-SQ8 and IVF-PQ (dim/8 bytes,
8-bit codes) each with an exact re-rank (IndexRefineFlat, k_factor = our
refine_factor), and HNSW32 (efConstruction 80) over efSearch. One query at a
time, k = 10; faiss builds with 2 threads and searches with 1 (per-query
OpenMP fork/join only adds latency to single queries).
Latencies are wall clock per query after 10 warm-up queries, plus CPU time
per query (all threads), which the shared machine's load does not inflate. Tables and
indexes are cached under --work-dir; --rebuild starts over.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("LANCE_LOG", "error")  # lance's k-means warnings on synthetic clusters are noise here

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from bench_inputs import append_json_lines, clip_batch  # noqa: E402

from video_assets.index.connection import clip_table_exists, connect, open_clip_table  # noqa: E402
from video_assets.index.maintenance import optimize_clip_table  # noqa: E402
from video_assets.index.schema import clip_schema, table_name  # noqa: E402
from video_assets.index.search import SearchRequest, search_vector  # noqa: E402
from video_assets.index.sidecar import build_sidecar, load_sidecar, sidecar_root  # noqa: E402
from video_assets.index.vector_index import TRAINING_ROWS, plan_vector_index  # noqa: E402

K = 10
MODEL = "bench"
NPROBES = (5, 10, 20, 40)
REFINES = (1, 2, 5, 10)
HNSW_EF = (16, 32, 64, 128, 256)


def clustered(rows: int, dim: int, seed: int, centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (rows, dim) float32 unit, centres) drawn as the module doc says."""
    rng = np.random.default_rng(seed)
    if centres is None:
        centres = mixture_centres(rows, dim, rng)
    weights = 1.0 / np.sqrt(np.arange(1, len(centres) + 1))
    labels = rng.choice(len(centres), size=rows, p=weights / weights.sum())
    out = np.empty((rows, dim), np.float32)
    for lo in range(0, rows, 100_000):  # chunks keep the float64 noise small
        hi = min(rows, lo + 100_000)
        chunk = centres[labels[lo:hi]] + rng.standard_normal((hi - lo, dim)).astype(np.float32) / np.sqrt(dim)
        out[lo:hi] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out, centres


def mixture_centres(rows: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The max(64, rows/500) unit cluster centres, the first draw `clustered` makes from `rng`."""
    centres = rng.standard_normal((max(64, rows // 500), dim)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """(Q, k) row indices of the exact top k by cosine (vectors are unit)."""
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.zeros((len(queries), k), np.int64)
    for lo in range(0, len(vectors), 200_000):
        sims = queries @ vectors[lo : lo + 200_000].T  # (Q, chunk)
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        s = np.concatenate([best_s, np.take_along_axis(sims, part, 1)], axis=1)
        i = np.concatenate([best_i, part + lo], axis=1)
        order = np.argsort(-s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, order, 1), np.take_along_axis(i, order, 1)
    return best_i


def clip_batches(vectors: np.ndarray, batch: int = 100_000) -> Iterator[pa.RecordBatch]:
    """The vectors as clip rows (10 clips per video), in the table's schema."""
    created = datetime(2024, 5, 1, tzinfo=timezone.utc)
    for lo in range(0, len(vectors), batch):
        n = min(batch, len(vectors) - lo)
        idx = np.arange(lo, lo + n)
        start = 10.0 * (idx % 10)
        videos = [f"video-{i // 10}" for i in idx]
        ids = [str(uuid.UUID(int=int(i))) for i in idx]  # row i <-> clip id, for recall
        yield clip_batch(ids, videos, videos, start, vectors[lo : lo + n], model_id="bench/synthetic", created=created)


def timed_queries(run: Callable[[np.ndarray], list[int]], queries: np.ndarray, truth: np.ndarray) -> dict:
    """Wall-clock p50/p95 per query, and CPU time per query (all threads of this process): the
    machine is shared, so wall time carries other people's load and CPU time does not."""
    for q in queries[:10]:
        run(q)
    lat, hits = [], 0
    cpu_started = time.process_time()
    for q, t in zip(queries, truth):
        started = time.perf_counter()
        found = run(q)
        lat.append(time.perf_counter() - started)
        hits += len(set(found[:K]) & set(t.tolist()))
    cpu = (time.process_time() - cpu_started) / len(queries)
    return {
        "p50_ms": round(1e3 * float(np.percentile(lat, 50)), 2),
        "p95_ms": round(1e3 * float(np.percentile(lat, 95)), 2),
        "cpu_ms": round(1e3 * cpu, 2),
        "recall10": round(hits / (K * len(queries)), 4),
    }


def bench_lancedb(
    work: Path, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, rebuild: bool, kind: str = "auto"
) -> list[dict]:
    rows, dim = vectors.shape
    engine = "lancedb" if kind == "auto" else f"lancedb-{kind}"
    uri = work / f"lancedb_{rows}_{dim}" if kind == "auto" else work / f"lancedb_{rows}_{dim}_{kind}"
    if rebuild and uri.exists():
        shutil.rmtree(uri)
    db = connect(str(uri))
    out = []
    if not clip_table_exists(db, MODEL):
        started = time.perf_counter()
        db.create_table(table_name(MODEL), clip_batches(vectors), schema=clip_schema(dim))
        write_s = time.perf_counter() - started
        # The auto kind is what maintenance builds for users: LanceDB's index and the faiss sidecar beside it.
        result = optimize_clip_table(db, MODEL, scalar_indexes=False, index_kind=kind, sidecar=kind == "auto")  # type: ignore[arg-type]
        out.append(
            {
                "engine": engine,
                "index": result.plan.kind,
                "name": result.vector_index.name if result.vector_index else None,
                "build_s": round(result.vector_index_build_s, 1),
                "write_s": round(write_s, 1),
                "plan": result.plan.reason,
            }
        )
        if result.sidecar is not None:
            out.append({"engine": f"{engine}+sidecar", "index": result.sidecar.kind, "build_s": result.sidecar.build_s})
    else:
        index = [ix.name for ix in open_clip_table(db, MODEL).list_indices()]
        out.append({"engine": engine, "index": "cached", "name": index, "build_s": None})
        root = sidecar_root(str(uri))
        if kind == "auto" and root is not None and load_sidecar(root, table_name(MODEL)) is None:
            info = build_sidecar(open_clip_table(db, MODEL), root)  # a table cached without one
            out.append({"engine": f"{engine}+sidecar", "index": info.kind, "build_s": info.build_s})
    for row in out:
        print(json.dumps(row), flush=True)

    def run_with(**knobs) -> Callable[[np.ndarray], list[int]]:
        request = SearchRequest(k=K, **knobs)
        return lambda q: [uuid.UUID(h.clip_id).int for h in search_vector(db, MODEL, q, request)]

    # The same knobs through LanceDB alone and, where maintenance wrote one, through the faiss sidecar.
    paths = [(engine, False)] + ([(f"{engine}+sidecar", True)] if kind == "auto" else [])
    for name, sidecar in paths:
        for nprobes in NPROBES:
            for refine in REFINES:
                knobs = {"nprobes": nprobes, "refine_factor": refine, "sidecar": sidecar}
                row = {
                    "engine": name,
                    "nprobes": nprobes,
                    "refine": refine,
                    **timed_queries(run_with(**knobs), queries, truth),
                }
                print(json.dumps(row), flush=True)
                out.append(row)
        row = {"engine": name, "defaults": True, **timed_queries(run_with(sidecar=sidecar), queries, truth)}
        print(json.dumps(row), flush=True)
        out.append(row)
    if kind != "auto":
        return out  # the exact scan does not depend on the index
    few = max(3, min(20, 2_000_000 // rows))  # exact scans are slow at 1M: a few queries suffice
    row = {
        "engine": "lancedb",
        "exact": True,
        "queries": few,
        **timed_queries(run_with(exact=True, sidecar=False), queries[: few + 10], truth[: few + 10]),
    }
    print(json.dumps(row), flush=True)
    out.append(row)
    return out


def bench_faiss(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> list[dict]:
    import faiss

    faiss.omp_set_num_threads(2)  # build on both cores
    rows, dim = vectors.shape
    plan = plan_vector_index(rows, dim, kind="ivf_sq")  # same list count and training rows as ours
    lists = plan.num_partitions
    train = vectors[np.random.default_rng(1).choice(rows, min(rows, TRAINING_ROWS), replace=False)]
    started = time.perf_counter()
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(vectors)
    else:
        factory = f"IVF{lists},SQ8" if kind == "ivfsq" else f"IVF{lists},PQ{dim // 8}"
        base = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        base.train(train)
        index = faiss.IndexRefineFlat(base)
        index.add(vectors)
    build_s = time.perf_counter() - started
    out = [{"engine": f"faiss-{kind}", "lists": None if kind == "hnsw" else lists, "build_s": round(build_s, 1)}]
    print(json.dumps(out[-1]), flush=True)
    # One query at a time is fastest single-threaded: OpenMP's fork/join per query costs more than it
    # saves, and on a busy machine its spinning threads wait for cores.
    faiss.omp_set_num_threads(1)

    def run(q: np.ndarray) -> list[int]:
        return index.search(q[None, :], K)[1][0].tolist()

    if kind == "hnsw":
        for ef in HNSW_EF:
            index.hnsw.efSearch = ef
            out.append({"engine": f"faiss-{kind}", "ef": ef, **timed_queries(run, queries, truth)})
            print(json.dumps(out[-1]), flush=True)
        return out
    ivf = faiss.extract_index_ivf(index.base_index)
    for nprobes in NPROBES:
        for refine in REFINES:
            ivf.nprobe = nprobes
            index.k_factor = refine
            out.append(
                {"engine": f"faiss-{kind}", "nprobes": nprobes, "refine": refine, **timed_queries(run, queries, truth)}
            )
            print(json.dumps(out[-1]), flush=True)
    return out


def best(rows: list[dict], min_recall: float = 0.95) -> dict | None:
    ok = [r for r in rows if "p50_ms" in r and r["recall10"] >= min_recall and not r.get("exact")]
    return min(ok, key=lambda r: r["p50_ms"]) if ok else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dims", default="768,512,256")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--faiss", default="ivfsq,ivfpq,hnsw", help="comma list of ivfsq, ivfpq, hnsw ('' = none)")
    parser.add_argument(
        "--lance-kinds",
        default="auto",
        help="comma list of index kinds for our table: auto, ivf_sq, ivf_pq, ivf_hnsw_sq",
    )
    parser.add_argument("--work-dir", default="/tmp/video_assets_bench/ann")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--out", help="append the JSON results here")
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    for dim in (int(d) for d in args.dims.split(",")):
        print(f"== {args.rows} x {dim}, load average {os.getloadavg()[0]:.1f}", flush=True)
        vectors, centres = clustered(args.rows, dim, seed=0)
        queries, _ = clustered(args.queries + 10, dim, seed=1, centres=centres)
        started = time.perf_counter()
        truth = exact_top_k(vectors, queries)
        print(json.dumps({"engine": "numpy-exact", "seconds_all_queries": round(time.perf_counter() - started, 2)}))
        results = []
        for kind in args.lance_kinds.split(","):
            results += bench_lancedb(work, vectors, queries, truth, args.rebuild, kind)
        for kind in filter(None, args.faiss.split(",")):
            results += bench_faiss(kind, vectors, queries, truth)
        summary = {"rows": args.rows, "dim": dim, "load_avg_end": round(os.getloadavg()[0], 1)}
        for engine in sorted({r["engine"] for r in results}):
            summary[engine] = best([r for r in results if r["engine"] == engine])
        print("SUMMARY " + json.dumps(summary), flush=True)
        append_json_lines(args.out, [{"summary": summary, "results": results}])
        del vectors


if __name__ == "__main__":
    main()
