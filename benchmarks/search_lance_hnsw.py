"""LanceDB alone: its HNSW-SQ and IVF-SQ indexes on our clip table, without any faiss copy.

    .venv/bin/python benchmarks/search_lance_hnsw.py --rows 1000000 --dim 768 --kinds ivf_hnsw_sq,ivf_sq
    .venv/bin/python benchmarks/search_lance_hnsw.py --rows 100000 --dim 256 --kinds ivf_hnsw_sq,ivf_hnsw_sq_p1,ivf_sq

Data and ground truth as in `search_ann.py` (synthetic clustered unit vectors, fresh queries
from the same mixture, numpy exact top 10), written as rows of the real clip schema with
varied `duration_s` (2-20 s), `text_match` (5 labels or null) and 10 clips per video, so
filters select realistic fractions. One table per index kind under --work-dir (cached; a
`build.json` beside it keeps the build figures).

Phases (each prints JSON lines; `--phases` picks):

- build: index build seconds and peak RSS growth of this process during the build;
- library: `table.search(q)` with only LanceDB's knobs (ef, refine), hit columns only;
- ours: `search_vector` with its defaults and a sweep, the path the CLI and assets use;
- filter: prefiltered searches (video_id =, duration_s range, text_match =) with and without
  BTree / bitmap indexes on those columns;
- lookup: a clip's vector by id, scanned and with a BTree on clip_id, and whether a
  merge_insert keyed on clip_id still matches with that index (lancedb#3177);
- append: rows added after the index (unindexed, searched flat by LanceDB) are found; the
  table is restored to its indexed version afterwards.

Every timed row carries p50/p95 wall ms, CPU ms per query (all threads; other jobs' load does
not inflate it) and the load average when it ended.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("LANCE_LOG", "error")

import lancedb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from bench_inputs import append_json_lines, clip_batch  # noqa: E402
from lancedb.index import Bitmap, BTree, IvfHnswSq, IvfSq  # noqa: E402
from search_ann import MODEL, K, clustered, exact_top_k, timed_queries  # noqa: E402

from video_assets.index.connection import connect  # noqa: E402
from video_assets.index.hits import HIT_COLUMNS  # noqa: E402
from video_assets.index.schema import clip_schema, table_name  # noqa: E402

LABELS = ("a person cooking", "a car on a road", "a dog", "people talking", "a city at night")


def kind_config(kind: str, rows: int) -> object:
    """LanceDB's config for a kind name: ivf_hnsw_sq (LanceDB's default partitions, = HnswSq()),
    ivf_hnsw_sq_p<N> (N partitions), ivf_sq (sqrt(rows) partitions, as `plan_vector_index`)."""
    if kind == "ivf_hnsw_sq":
        return IvfHnswSq(distance_type="cosine")
    if kind.startswith("ivf_hnsw_sq_p"):
        return IvfHnswSq(distance_type="cosine", num_partitions=int(kind.rsplit("_p", 1)[1]))
    if kind == "ivf_sq":
        return IvfSq(distance_type="cosine", num_partitions=max(1, round(rows**0.5)))
    raise ValueError(f"unknown kind {kind!r}")


def rows_of(vectors: np.ndarray, first_id: int = 0, batch: int = 100_000) -> Iterator[pa.RecordBatch]:
    """The vectors as clip rows: row i has clip id UUID(first_id + i), 10 clips per video."""
    created = datetime(2024, 5, 1, tzinfo=timezone.utc)
    for lo in range(0, len(vectors), batch):
        n = min(batch, len(vectors) - lo)
        idx = np.arange(first_id + lo, first_id + lo + n)
        rng = np.random.default_rng(int(idx[0]))
        videos = [f"video-{i // 10}" for i in idx]
        ids = [str(uuid.UUID(int=int(i))) for i in idx]
        rb = clip_batch(
            ids, videos, videos, 10.0 * (idx % 10), vectors[lo : lo + n], model_id="bench/synthetic", created=created
        )
        cols = {name: rb.column(name) for name in rb.schema.names}
        duration = rng.uniform(2.0, 20.0, n)
        cols["span_end_s"] = pa.array(10.0 * (idx % 10) + duration)
        cols["duration_s"] = pa.array(duration)
        label = rng.integers(0, len(LABELS) + 1, n)  # the last value: no text match
        cols["text_match"] = pa.array([LABELS[j] if j < len(LABELS) else None for j in label], pa.string())
        yield pa.record_batch([cols[c] for c in rb.schema.names], schema=rb.schema)


class PeakRss:
    """Peak resident memory of this process while the block runs, sampled every 50 ms."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def emit(row: dict) -> dict:
    row = {**row, "load": round(os.getloadavg()[0], 1)}
    print(json.dumps(row), flush=True)
    return row


def build(work: Path, kind: str, vectors: np.ndarray) -> tuple[lancedb.DBConnection, dict]:
    rows, dim = vectors.shape
    uri = work / f"lancedb_{rows}_{dim}_{kind}"
    info_path = uri / "build.json"
    db = connect(str(uri))
    if info_path.exists():
        return db, json.loads(info_path.read_text())
    name = table_name(MODEL)
    if name in db.list_tables().tables:
        db.drop_table(name)
    started = time.perf_counter()
    table = db.create_table(name, rows_of(vectors), schema=clip_schema(dim))
    write_s = time.perf_counter() - started
    with PeakRss() as mem:
        started, cpu = time.perf_counter(), time.process_time()
        table.create_index("vector", config=kind_config(kind, rows), name=f"vector_{kind}")
        build_s, build_cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = table.index_stats(f"vector_{kind}")
    info = {
        "phase": "build",
        "kind": kind,
        "rows": rows,
        "dim": dim,
        "write_s": round(write_s, 1),
        "build_s": round(build_s, 1),
        "build_cpu_s": round(build_cpu, 1),
        "peak_rss_growth_mb": mem.growth_mb,
        "index_type": stats.index_type if stats else None,
        "bytes_on_disk": sum(p.stat().st_size for p in (uri / f"{name}.lance" / "_indices").rglob("*") if p.is_file()),
        "load": round(os.getloadavg()[0], 1),
    }
    info_path.write_text(json.dumps(info))
    return db, info


def library(db: lancedb.DBConnection, queries: np.ndarray, truth: np.ndarray, kind: str) -> list[dict]:
    """LanceDB's own query with hit columns only; ef and refine swept (nprobes for IVF_SQ)."""
    table = db.open_table(table_name(MODEL))
    columns = [*HIT_COLUMNS, "_distance"]

    def run_with(ef: int | None = None, refine: int | None = None, nprobes: int | None = None) -> Callable:
        def run(q: np.ndarray) -> list[int]:
            s = table.search(q, vector_column_name="vector").distance_type("cosine").select(columns).limit(K)
            if ef is not None:
                s = s.ef(ef)
            if refine is not None:
                s = s.refine_factor(refine)
            if nprobes is not None:
                s = s.nprobes(nprobes)
            return [uuid.UUID(c).int for c in s.to_arrow().column("clip_id").to_pylist()]

        return run

    out = []
    if kind.startswith("ivf_hnsw"):
        settings = [{}, {"ef": 20}, {"ef": 40}, {"ef": 80}, {"ef": 160}, {"refine": 2}, {"ef": 80, "refine": 2}]
    else:
        settings = [{}, {"nprobes": 5, "refine": 2}, {"nprobes": 10, "refine": 2}, {"nprobes": 20, "refine": 2}]
    for knobs in settings:
        out.append(
            emit({"phase": "library", "kind": kind, **knobs, **timed_queries(run_with(**knobs), queries, truth)})
        )
    return out


def searcher(db: lancedb.DBConnection, **knobs: object) -> Callable[[np.ndarray], list[int]]:
    """A query's top `K` row numbers through `search_vector` with `knobs`, as `timed_queries` wants them."""
    from video_assets.index.search import SearchRequest, search_vector

    request = SearchRequest(k=K, **knobs)  # type: ignore[arg-type]
    return lambda q: [uuid.UUID(h.clip_id).int for h in search_vector(db, MODEL, q, request)]


def ours(db: lancedb.DBConnection, queries: np.ndarray, truth: np.ndarray, kind: str) -> list[dict]:
    """Through `search_vector`: the defaults, then the knobs it exposes."""
    out = [emit({"phase": "ours", "kind": kind, "defaults": True, **timed_queries(searcher(db), queries, truth)})]
    sweep = [{"ef": 40}, {"ef": 80}, {"ef": 160}] if kind.startswith("ivf_hnsw") else [{"nprobes": 5}, {"nprobes": 10}]
    for knobs in sweep + [{"refine_factor": 2}]:
        out.append(
            emit({"phase": "ours", "kind": kind, **knobs, **timed_queries(searcher(db, **knobs), queries, truth)})
        )
    return out


def filters_for(rows: int) -> dict[str, str]:
    """One video (10 clips), a 1 s duration band (~5.6 %), one text label (~17 %)."""
    return {
        "video_id": f"video_id = 'video-{rows // 20}'",
        "duration": "duration_s >= 5 AND duration_s <= 6",
        "text_match": "text_match = 'a dog'",
    }


def exact_within(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(Q, min(K, len(rows))) exact top row indices among `rows`."""
    sims = queries @ vectors[rows].T
    return rows[np.argsort(-sims, axis=1)[:, : min(K, len(rows))]]


def filtered(db: lancedb.DBConnection, vectors: np.ndarray, queries: np.ndarray, kind: str) -> list[dict]:
    """Prefiltered searches through `search_vector`, before and after scalar indexes on the filter columns.
    Recall is against numpy exact over the rows the filter keeps (read back from the table)."""
    table = db.open_table(table_name(MODEL))
    out = []
    for state in ("no scalar index", "scalar indexes"):
        if state == "scalar indexes":
            started = time.perf_counter()
            for column, config in (("video_id", BTree()), ("duration_s", BTree()), ("text_match", Bitmap())):
                table.create_index(column, config=config, name=f"{column}_bench", replace=True)
            out.append(
                emit({"phase": "filter", "kind": kind, "scalar_index_build_s": round(time.perf_counter() - started, 1)})
            )
        for label, where in filters_for(len(vectors)).items():
            kept = table.search().where(where).select(["clip_id"]).to_arrow().column("clip_id").to_pylist()
            rows = np.array([uuid.UUID(c).int for c in kept], dtype=np.int64)
            few = queries[:60]
            truth = exact_within(vectors, rows, few)
            out.append(
                emit(
                    {
                        "phase": "filter",
                        "kind": kind,
                        "state": state,
                        "filter": label,
                        "rows_kept": len(rows),
                        **timed_queries(searcher(db, where=where), few, truth),
                    }
                )
            )
    for column in ("video_id", "duration_s", "text_match"):
        table.drop_index(f"{column}_bench")
    return out


def lookup(db: lancedb.DBConnection, rows: int, kind: str) -> list[dict]:
    """`get_vector` by clip id without and with a BTree on clip_id, and a merge_insert on clip_id
    with that index in place (does it still match the existing row?)."""
    from video_assets.index.search import get_vector

    table = db.open_table(table_name(MODEL))
    ids = [str(uuid.UUID(int=int(i))) for i in np.random.default_rng(3).choice(rows, 60, replace=False)]
    out = []

    def timed(state: str) -> dict:
        for c in ids[:10]:
            get_vector(db, MODEL, c)
        lat, cpu = [], time.process_time()
        for c in ids[10:]:
            started = time.perf_counter()
            get_vector(db, MODEL, c)
            lat.append(time.perf_counter() - started)
        return emit(
            {
                "phase": "lookup",
                "kind": kind,
                "state": state,
                "p50_ms": round(1e3 * float(np.median(lat)), 2),
                "p95_ms": round(1e3 * float(np.percentile(lat, 95)), 2),
                "cpu_ms": round(1e3 * (time.process_time() - cpu) / len(lat), 2),
            }
        )

    version = table.version
    has_btree = any(ix.columns == ["clip_id"] for ix in table.list_indices())
    if not has_btree:
        out.append(timed("scan"))
        table.create_index("clip_id", config=BTree(), name="clip_id_btree", replace=True)
    out.append(timed("btree on clip_id"))
    # merge_insert keyed on the indexed clip_id: an existing id must update, not insert.
    existing = table.search().where(f"clip_id = '{ids[0]}'").limit(1).to_arrow()
    changed = existing.set_column(
        existing.schema.get_field_index("model_revision"), "model_revision", pa.array(["merged"], pa.string())
    )
    fresh = next(rows_of(np.asarray([existing.column("vector")[0].values.to_numpy()], np.float32), first_id=10**12))
    batch = pa.concat_tables([changed.select(fresh.schema.names).cast(fresh.schema), pa.Table.from_batches([fresh])])
    before = table.count_rows()
    result = table.merge_insert("clip_id").when_matched_update_all().when_not_matched_insert_all().execute(batch)
    after = table.count_rows()
    merged = table.search().where(f"clip_id = '{ids[0]}'").select(["model_revision"]).to_arrow()
    out.append(
        emit(
            {
                "phase": "lookup",
                "kind": kind,
                "merge_insert_with_clip_id_btree": {
                    "rows_before": before,
                    "rows_after": after,
                    "expected_after": before + 1,
                    "updated": getattr(result, "num_updated_rows", None),
                    "inserted": getattr(result, "num_inserted_rows", None),
                    "copies_of_merged_id": merged.num_rows,
                    "revision": merged.column("model_revision").to_pylist(),
                },
            }
        )
    )
    table.restore(version)  # the version before the BTree and the merge
    return out


def appended(db: lancedb.DBConnection, vectors: np.ndarray, queries: np.ndarray, kind: str, extra: int) -> list[dict]:
    """Add `extra` rows from new cluster centres after the index; queries from those centres must
    find them (their exact top 10 lies wholly in the new rows). Then restore the indexed version."""
    table = db.open_table(table_name(MODEL))
    version, rows, dim = table.version, *vectors.shape
    new, centres = clustered(extra, dim, seed=7)
    new_queries, _ = clustered(110, dim, seed=8, centres=centres)
    table.add(rows_of(new, first_id=rows))
    both = np.concatenate([vectors, new])
    out = []
    for label, qs in (("queries from the new rows' clusters", new_queries), ("earlier queries", queries[:110])):
        truth = exact_top_k(both, qs)
        out.append(
            emit(
                {
                    "phase": "append",
                    "kind": kind,
                    "added_rows": extra,
                    "queries": label,
                    "truth_in_new_rows": round(float(np.mean(truth >= rows)), 3),
                    **timed_queries(searcher(db), qs, truth),
                }
            )
        )
    table.restore(version)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--kinds", default="ivf_hnsw_sq,ivf_sq")
    parser.add_argument("--phases", default="build,library,ours,filter,lookup,append")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--append-rows", type=int, default=10_000)
    parser.add_argument("--work-dir", default="/tmp/video_assets_bench/lance_hnsw")
    parser.add_argument("--out", help="append the JSON rows here")
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    phases = set(args.phases.split(","))
    emit(
        {
            "rows": args.rows,
            "dim": args.dim,
            "lancedb": lancedb.__version__,
            "max_rss_mb_at_start": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
    )
    vectors, centres = clustered(args.rows, args.dim, seed=0)
    queries, _ = clustered(args.queries + 10, args.dim, seed=1, centres=centres)
    truth = exact_top_k(vectors, queries) if phases - {"build", "lookup"} else None
    results = []
    for kind in args.kinds.split(","):
        db, info = build(work, kind, vectors)
        results.append(emit(info))
        if "library" in phases:
            results += library(db, queries, truth, kind)
        if "ours" in phases:
            results += ours(db, queries, truth, kind)
        if "filter" in phases:
            results += filtered(db, vectors, queries, kind)
        if "lookup" in phases:
            results += lookup(db, args.rows, kind)
        if "append" in phases:
            results += appended(db, vectors, queries, kind, args.append_rows)
    append_json_lines(args.out, results)


if __name__ == "__main__":
    main()
