"""Queries per second with 1 and 2 concurrent searchers through `search_vector` (LanceDB).

    .venv/bin/python benchmarks/search_concurrency.py --rows 1000000 --dim 768 \
        --uri /tmp/video_assets_bench/lance_hnsw/lancedb_1000000_768_ivf_hnsw_sq

Uses a table that `search_ann.py` or `search_lance_hnsw.py` built and cached (default: the
search_ann.py one for rows x dim), and fresh queries from the same synthetic mixture. Each
searcher thread has its own connection (as separate server workers would) and runs the
default request. Reports queries/s per thread count and the 2-thread / 1-thread ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

os.environ.setdefault("LANCE_LOG", "error")

import numpy as np  # noqa: E402
from search_ann import MODEL, clustered, mixture_centres  # noqa: E402

from video_assets.index.connection import connect  # noqa: E402
from video_assets.index.search import search_vector  # noqa: E402


def queries_per_second(uri: str, queries: np.ndarray, threads: int) -> float:
    chunks = np.array_split(queries, threads)
    dbs = [connect(uri) for _ in range(threads)]
    for db in dbs:  # warm: table handles, index caches
        for q in queries[:5]:
            search_vector(db, MODEL, q)
    for q in queries:  # and the pages these queries touch, so neither thread count pays the first reads
        search_vector(dbs[0], MODEL, q)
    barrier = threading.Barrier(threads + 1)

    def run(db, chunk: np.ndarray) -> None:
        barrier.wait()
        for q in chunk:
            search_vector(db, MODEL, q)

    workers = [threading.Thread(target=run, args=(db, chunk)) for db, chunk in zip(dbs, chunks)]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    return len(queries) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--work-dir", default="/tmp/video_assets_bench/ann")
    parser.add_argument("--uri", help="the database directory (default: search_ann.py's for rows x dim)")
    args = parser.parse_args()
    uri = Path(args.uri) if args.uri else Path(args.work_dir) / f"lancedb_{args.rows}_{args.dim}"
    if not uri.exists():
        raise SystemExit(f"{uri} not found: run search_ann.py --rows {args.rows} --dims {args.dim} first")
    centres = mixture_centres(args.rows, args.dim, np.random.default_rng(0))  # as search_ann.py drew them
    queries, _ = clustered(args.queries, args.dim, seed=2, centres=centres)
    print(f"{args.rows} x {args.dim}, {args.queries} queries, load average {os.getloadavg()[0]:.1f}")
    rates = {n: queries_per_second(str(uri), queries, n) for n in (1, 2)}
    row = {
        "qps_1": round(rates[1], 1),
        "qps_2": round(rates[2], 1),
        "ratio_2_over_1": round(rates[2] / rates[1], 2),
        "load": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
