"""Index writes: commit latency vs table size and batch size, concurrent writers, versions.

    .venv/bin/python benchmarks/index_writes.py merge    [--sizes 10000,100000,1000000] [--batches 1,10,100,1000]
    .venv/bin/python benchmarks/index_writes.py writers  [--writers 1,2,4,8] [--commits 12]
    .venv/bin/python benchmarks/index_writes.py versions [--checkpoints 100,1000,10000]

Rows are clips of 10 per video with --dim (default 256) vectors; tables live
under --work-dir. Every figure is wall clock on this machine; the load
average is printed with each section because the machine is shared.

merge: a table of N rows (one fragment, as after compaction) takes commits
  of B videos each through `commit_partition_locked`: re-clipped existing
  videos (merge_insert with the partition-restricted delete: per video 8
  clips kept with new vectors, 2 vanish, 2 new) and new videos (append).
  With and without the BTree on video_id that maintenance adds. Reported:
  seconds per commit, per video, and the backfill cost that implies.
writers: W processes released at once by a barrier, each committing
  --commits partitions of its own (new videos, then re-commits of them),
  and every 4th commit one "hot" partition that all writers commit with the
  same new clips (a rerun racing the original). With the commit lock
  (`commit_partition_locked`) and without it (`commit_partition` straight on
  LanceDB, relying on its retries). Reported: commits/s, LanceDB attempts,
  failed commits, duplicate clip ids and lost clips in the final table.
versions: 10-row appends (one version and one fragment each, like a
  backfill's partition commits) up to each checkpoint; there the versions
  and fragments kept and the latencies of a search, a per-video filter and a
  partition commit, then the same on a copy after `optimize_clip_table`
  (retention 1 s, so old versions go; index chosen by table size).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("LANCE_LOG", "error")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from bench_inputs import append_json_lines, clip_batch  # noqa: E402
from lancedb.index import BTree  # noqa: E402

from video_assets.index.commit import commit_partition, delete_videos  # noqa: E402
from video_assets.index.committer import commit_partition_locked  # noqa: E402
from video_assets.index.connection import connect, open_clip_table  # noqa: E402
from video_assets.index.errors import IndexCommitError  # noqa: E402
from video_assets.index.maintenance import optimize_clip_table  # noqa: E402
from video_assets.index.schema import clip_schema, table_name  # noqa: E402
from video_assets.index.search import SearchRequest, search_vector  # noqa: E402

MODEL = "writes"
CLIPS_PER_VIDEO = 10
CREATED = datetime(2024, 5, 1, tzinfo=timezone.utc)


def clip_id(video_id: str, clip: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video_id}:{clip}"))


def clip_rows(dim: int, videos: list[str], clips: range | list[int], seed: int) -> pa.Table:
    """Clips `clips` of each video, unit vectors from `seed` (a new seed = new vectors = an update)."""
    idx = np.array(list(clips), dtype=np.int64)
    video_col = [v for v in videos for _ in idx]
    clip_col = np.tile(idx, len(videos))
    n = len(video_col)
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    batch = clip_batch(
        [clip_id(v, int(c)) for v, c in zip(video_col, clip_col)],
        video_col,
        [f"p-{v}" for v in video_col],
        10.0 * clip_col,
        vectors,
        model_id="bench/writes",
        created=CREATED,
    )
    return pa.Table.from_batches([batch])


def base_table(uri: Path, rows: int, dim: int) -> None:
    """A fresh table of `rows` clips (rows/10 videos `v0..`) in one fragment."""
    shutil.rmtree(uri, ignore_errors=True)
    db = connect(str(uri))
    videos = [f"v{i}" for i in range(rows // CLIPS_PER_VIDEO)]
    step = 10_000
    batches = (
        clip_rows(dim, videos[i : i + step], range(CLIPS_PER_VIDEO), seed=i).to_batches()[0]
        for i in range(0, len(videos), step)
    )
    db.create_table(table_name(MODEL), batches, schema=clip_schema(dim))


def median_time(fn: Callable[[int], object], reps: int) -> float:
    times = []
    for rep in range(reps):
        started = time.perf_counter()
        fn(rep)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_merge(args: argparse.Namespace) -> list[dict]:
    out = []
    batches = [int(b) for b in args.batches.split(",")]
    for rows in (int(s) for s in args.sizes.split(",")):
        uri = Path(args.work_dir) / f"merge_{rows}"
        for with_index in (False, True):
            base_table(uri, rows, args.dim)
            db = connect(str(uri))
            if with_index:
                open_clip_table(db, MODEL).create_index("video_id", config=BTree(), name="video_id_btree")
            videos_total = rows // CLIPS_PER_VIDEO
            next_new = videos_total
            for batch in batches:
                if batch > videos_total:
                    continue
                reps = args.reps if batch < 1000 else 2
                appended: list[str] = []

                def recommit(rep: int, batch: int = batch, total: int = videos_total, db=db) -> None:
                    vids = [f"v{(rep * batch + j) * 7 % total}" for j in range(batch)]  # spread over the table
                    staged = clip_rows(args.dim, vids, list(range(2, 12)), seed=1000 + rep)  # 0,1 vanish; 10,11 new
                    commit_partition_locked(db, MODEL, staged, vids)

                def append(rep: int, batch: int = batch, db=db, appended=appended) -> None:
                    nonlocal next_new
                    vids = [f"v{next_new + j}" for j in range(batch)]
                    next_new += batch
                    appended.extend(vids)
                    commit_partition_locked(db, MODEL, clip_rows(args.dim, vids, range(10), seed=rep), vids)

                merge_s, append_s = median_time(recommit, reps), median_time(append, reps)
                delete_videos(db, MODEL, appended)  # back to `rows` rows for the next batch size
                row = {
                    "section": "merge",
                    "rows": rows,
                    "btree_video_id": with_index,
                    "batch_videos": batch,
                    "merge_s": round(merge_s, 4),
                    "merge_per_video_ms": round(1e3 * merge_s / batch, 2),
                    "append_s": round(append_s, 4),
                    "append_per_video_ms": round(1e3 * append_s / batch, 2),
                    "reps": reps,
                    "load": round(os.getloadavg()[0], 1),
                }
                print(json.dumps(row), flush=True)
                out.append(row)
        shutil.rmtree(uri, ignore_errors=True)
    return out


def writer_commands(writer: int, commits: int) -> list[tuple[list[str], range, int]]:
    """(video ids, clip indices, vector seed) of each commit of one writer."""
    cmds = []
    for n in range(commits):
        if n % 4 == 3:
            cmds.append(([f"hot-{n}"], range(10), 7))  # every writer: the same new clips
        elif n < commits // 2:
            cmds.append(([f"w{writer}-{n}"], range(10), n))  # a new video
        else:
            cmds.append(([f"w{writer}-{n - commits // 2}"], range(2, 12), 100 + n))  # re-clip an earlier one
    return cmds


def _writer(db_uri: str, writer: int, commits: int, dim: int, locked: bool, barrier, results) -> None:
    db = connect(db_uri)
    attempts, failures, commits_done = 0, [], 0
    barrier.wait()
    started = time.perf_counter()
    for vids, clips, seed in writer_commands(writer, commits):
        staged = clip_rows(dim, vids, clips, seed)
        try:
            if locked:
                result, _ = commit_partition_locked(db, MODEL, staged, vids)
            else:
                result = commit_partition(db, MODEL, staged, vids)
            attempts += result.attempts
            commits_done += 1
        except (IndexCommitError, RuntimeError, OSError, ValueError) as exc:  # counted and reported, not hidden
            failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
    results.put(
        {
            "writer": writer,
            "seconds": time.perf_counter() - started,
            "attempts": attempts,
            "commits": commits_done,
            "failures": failures,
        }
    )


def expected_clips(writers: int, commits: int) -> set[str]:
    """Clip ids the table must hold after every writer's commands (each video: its last commit's clips)."""
    final: dict[str, range] = {}
    for w in range(writers):
        for vids, clips, _ in writer_commands(w, commits):
            final[vids[0]] = clips
    base = {f"v{i}": range(CLIPS_PER_VIDEO) for i in range(1000)}  # the 10k-row table the section starts from
    return {clip_id(v, c) for v, clips in {**base, **final}.items() for c in clips}


def bench_writers(args: argparse.Namespace) -> list[dict]:
    out = []
    ctx = mp.get_context("spawn")  # never fork a process that runs LanceDB's runtime threads
    for locked in (True, False):
        for writers in (int(w) for w in args.writers.split(",")):
            uri = Path(args.work_dir) / "writers"
            base_table(uri, 10_000, args.dim)
            barrier, results = ctx.Barrier(writers + 1), ctx.Queue()
            procs = [
                ctx.Process(target=_writer, args=(str(uri), w, args.commits, args.dim, locked, barrier, results))
                for w in range(writers)
            ]
            for proc in procs:
                proc.start()
            barrier.wait()
            started = time.perf_counter()
            done = [results.get(timeout=1800) for _ in procs]
            wall = time.perf_counter() - started
            for proc in procs:
                proc.join()
            ids = open_clip_table(connect(str(uri)), MODEL).search().select(["clip_id"]).to_arrow().column("clip_id")
            counts = pc.value_counts(ids)
            dup = int(pc.sum(pc.subtract(counts.field("counts"), 1)).as_py() or 0)
            commits = sum(d["commits"] for d in done)
            row = {
                "section": "writers",
                "locked": locked,
                "writers": writers,
                "commits": commits,
                "commits_per_s": round(commits / wall, 2),
                "wall_s": round(wall, 2),
                "attempts": sum(d["attempts"] for d in done),
                "failed": sum(len(d["failures"]) for d in done),
                "duplicate_rows": dup,
                "lost_clips": len(expected_clips(writers, args.commits) - set(ids.to_pylist())),
                "failure_examples": sorted({f for d in done for f in d["failures"]})[:2],
                "load": round(os.getloadavg()[0], 1),
            }
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


def measure(db_uri: str, dim: int, label: str, commits: int, reps: int) -> dict:
    db = connect(db_uri)
    table = open_clip_table(db, MODEL)
    query = np.random.default_rng(5).standard_normal(dim).astype(np.float32)
    versions, fragments = len(table.list_versions()), table.stats()["fragment_stats"]["num_fragments"]
    search_s = median_time(lambda _: search_vector(db, MODEL, query, SearchRequest(k=10)), reps)
    exact_s = median_time(lambda _: search_vector(db, MODEL, query, SearchRequest(k=10, exact=True)), reps)
    filter_s = median_time(lambda _: table.count_rows("video_id = 'c-7'"), reps)

    def one_commit(rep: int) -> None:
        vids = [f"probe-{label}-{rep}"]
        commit_partition_locked(db, MODEL, clip_rows(dim, vids, range(10), rep), vids)

    commit_s = median_time(one_commit, reps)
    return {
        "section": "versions",
        "commits": commits,
        "state": label,
        "versions": versions,
        "fragments": fragments,
        "search_ms": round(1e3 * search_s, 1),
        "exact_search_ms": round(1e3 * exact_s, 1),
        "video_filter_ms": round(1e3 * filter_s, 1),
        "commit_ms": round(1e3 * commit_s, 1),
        "load": round(os.getloadavg()[0], 1),
    }


def bench_versions(args: argparse.Namespace) -> list[dict]:
    out = []
    uri = Path(args.work_dir) / "versions"
    shutil.rmtree(uri, ignore_errors=True)
    db = connect(str(uri))
    made = 0
    for checkpoint in (int(c) for c in args.checkpoints.split(",")):
        started = time.perf_counter()
        while made < checkpoint:
            staged = clip_rows(args.dim, [f"c-{made}"], range(CLIPS_PER_VIDEO), made)
            if made == 0:
                db.create_table(table_name(MODEL), staged, schema=clip_schema(args.dim))
            else:
                open_clip_table(db, MODEL).add(staged)
            made += 1
        print(
            json.dumps(
                {"section": "versions", "made_commits": made, "seconds": round(time.perf_counter() - started, 1)}
            ),
            flush=True,
        )
        before = measure(str(uri), args.dim, "before optimize", made, args.reps)
        copy = Path(args.work_dir) / "versions_optimized"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(uri, copy)
        time.sleep(1.1)  # every old version is now older than the 1 s retention
        started = time.perf_counter()
        # sidecar=False: commit latency after compaction is measured, not the search sidecar's build.
        result = optimize_clip_table(connect(str(copy)), MODEL, retention=timedelta(seconds=1), sidecar=False)
        after = measure(str(copy), args.dim, "after optimize", made, args.reps)
        after.update(
            optimize_s=round(time.perf_counter() - started, 1),
            index=result.vector_index.name if result.vector_index else "none",
        )
        for row in (before, after):
            print(json.dumps(row), flush=True)
            out.append(row)
        shutil.rmtree(copy, ignore_errors=True)
        # The probe commits above added versions; they count toward the next checkpoint.
        made = len(open_clip_table(db, MODEL).list_versions())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("section", nargs="?", default="all", choices=["all", "merge", "writers", "versions"])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--batches", default="1,10,100,1000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--writers", default="1,2,4,8")
    parser.add_argument("--commits", type=int, default=12)
    parser.add_argument("--checkpoints", default="100,1000,10000")
    parser.add_argument("--work-dir", default="/tmp/video_assets_bench/writes")
    parser.add_argument("--out", help="append the JSON rows here")
    args = parser.parse_args()
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    for section, fn in (("merge", bench_merge), ("writers", bench_writers), ("versions", bench_versions)):
        if args.section in ("all", section):
            rows += fn(args)
    append_json_lines(args.out, rows)


if __name__ == "__main__":
    main()
