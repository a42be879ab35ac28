"""The index committer under load, with real processes.

- 8 processes commit 8 different partitions at the same moment, 20 rounds;
  after every round the table holds exactly the expected rows (no loss, no
  duplicate clip id, every update applied);
- two processes commit the same partition at the same moment: one copy;
- `kill -9` of a committer mid-commit: the table is at the old or the new
  version with exactly the old or the new rows, and the rerun gives the rows
  an uninterrupted commit gives;
- a fresh process sees a committed partition at once.

Workers are this file run as a script (`--worker DB_URI`): they read one JSON
command per line, build the staged rows themselves (the same deterministic
builder the test uses for its expectations) and commit them through
`commit_partition_locked`. Sizes are CI-sized: tiny tables, many commits.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # when run as a worker script
    sys.path.insert(0, str(REPO_ROOT))

from tests.index.helpers import run_python_json  # noqa: E402
from video_assets.index.committer import commit_partition_locked  # noqa: E402
from video_assets.index.connection import connect, open_clip_table  # noqa: E402
from video_assets.index.schema import clip_schema, validate_clip_table  # noqa: E402

DIM = 16
MODEL = "load"
WORKERS = 8
ROUNDS = 20
CREATED = datetime(2024, 5, 1, tzinfo=timezone.utc)


# --- the staged rows, built identically by the test and by the workers ---------------------------


def clip_id(video_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video_id}:{10.0 * index}:{10.0 * index + 8.0}"))


def staged_rows(clips: dict[str, list[int]], partition_key: str, angle0: float) -> pa.Table:
    """Clip `i` of each video at angle `angle0 + 0.01 i` on the unit circle (so an update is visible)."""
    video_ids = [v for v, indices in clips.items() for _ in indices]
    indices = np.array([i for v in clips for i in clips[v]], dtype=np.int64)
    n = len(indices)
    vectors = np.zeros((n, DIM), np.float32)
    vectors[:, 0] = np.cos(angle0 + 0.01 * indices)
    vectors[:, 1] = np.sin(angle0 + 0.01 * indices)
    start = 10.0 * indices.astype(np.float64)
    columns = {
        "clip_id": pa.array([clip_id(v, int(i)) for v, i in zip(video_ids, indices)], pa.string()),
        "video_id": pa.array(video_ids, pa.string()),
        "partition_key": pa.array([partition_key] * n, pa.string()),
        "source_path": pa.array([f"/videos/{v}.mp4" for v in video_ids], pa.string()),
        "span_start_s": pa.array(start),
        "span_end_s": pa.array(start + 8.0),
        "duration_s": pa.array(np.full(n, 8.0)),
        "clip_path": pa.nulls(n, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), DIM),
        "model_id": pa.array(["test/load"] * n, pa.string()),
        "model_revision": pa.array(["r1"] * n, pa.string()),
        "text_match": pa.nulls(n, pa.string()),
        "text_match_prob": pa.nulls(n, pa.float32()),
        "text_scores": pa.nulls(n, pa.string()),
        "created_at": pa.array([CREATED] * n, pa.timestamp("us", tz="UTC")),
    }
    schema = clip_schema(DIM)
    return validate_clip_table(pa.table([columns[name] for name in schema.names], schema=schema))


def command(partition_key: str, clips: dict[str, list[int]], angle0: float) -> dict[str, Any]:
    return {"partition_key": partition_key, "clips": clips, "angle0": angle0}


# --- the worker process -----------------------------------------------------------------------


def worker_main(db_uri: str) -> None:
    db = connect(db_uri)
    for line in sys.stdin:
        cmd = json.loads(line)
        staged = staged_rows(cmd["clips"], cmd["partition_key"], cmd["angle0"])
        print(json.dumps({"event": "start"}), flush=True)  # the kill test waits for this line
        result, lock = commit_partition_locked(db, MODEL, staged, list(cmd["clips"]))
        print(
            json.dumps(
                {
                    "event": "done",
                    "operation": result.operation,
                    "version": result.table_version,
                    "inserted": result.inserted,
                    "updated": result.updated,
                    "deleted": result.deleted,
                    "attempts": result.attempts,
                    "lock": lock.kind,
                }
            ),
            flush=True,
        )


class Worker:
    def __init__(self, db_uri: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", db_uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "LANCE_LOG": "error"},
        )

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"worker died: {self.proc.stderr.read() if self.proc.stderr else ''}")
        return json.loads(line)

    def result(self) -> dict[str, Any]:
        while (event := self.read())["event"] != "done":
            pass
        return event

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory):
    db_uri = str(tmp_path_factory.mktemp("load") / "lancedb")
    workers = [Worker(db_uri) for _ in range(WORKERS)]
    yield db_uri, workers
    for worker in workers:
        worker.close()


# --- helpers ----------------------------------------------------------------------------------


def table_rows(db_uri: str) -> pa.Table:
    return open_clip_table(connect(db_uri), MODEL).search().select(["clip_id", "video_id", "vector"]).to_arrow()


def assert_exact(rows: pa.Table, expected: dict[str, float]) -> None:
    """`rows` hold each expected clip exactly once, nothing else, each at its expected angle."""
    ids = rows.column("clip_id")
    counts = pc.value_counts(ids)
    dup = counts.filter(pc.greater(counts.field("counts"), 1)).field("values").to_pylist()
    assert not dup, f"duplicate clip ids {dup[:5]}"
    assert set(ids.to_pylist()) == set(expected), "lost or stray rows"
    vectors = rows.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, DIM)
    angles = np.arctan2(vectors[:, 1], vectors[:, 0])
    for cid, angle in zip(ids.to_pylist(), angles):
        assert math.isclose(angle, math.remainder(expected[cid], 2 * math.pi), abs_tol=1e-5), f"stale row {cid}"


def expected_angles(clips: dict[str, list[int]], angle0: float) -> dict[str, float]:
    return {clip_id(v, i): angle0 + 0.01 * i for v, indices in clips.items() for i in indices}


def round_clips(worker: int, rnd: int) -> dict[str, list[int]]:
    """Each round re-clips the partition's two videos: kept, changed, vanished and new clips,
    and now and then a video with no clips left (its rows must go)."""
    clips = {}
    for j, video in enumerate((f"w{worker}-a", f"w{worker}-b")):
        start = (rnd + worker + j) % 3
        count = (rnd * 7 + worker * 3 + j * 5) % 6
        clips[video] = list(range(start, start + count))
    return clips


# --- the tests --------------------------------------------------------------------------------


def test_eight_committers_twenty_rounds_exact_rows(pool):
    db_uri, workers = pool
    expected: dict[int, dict[str, float]] = {}
    versions = []
    for rnd in range(ROUNDS):
        angle0 = 0.05 * rnd
        cmds = [command(f"part-{w}", round_clips(w, rnd), angle0) for w in range(WORKERS)]
        for worker, cmd in zip(workers, cmds):  # all 8 are committing at once
            worker.send(cmd)
        results = [worker.result() for worker in workers]
        for w, cmd in enumerate(cmds):
            expected[w] = expected_angles(cmd["clips"], angle0)
        assert_exact(table_rows(db_uri), {k: v for part in expected.values() for k, v in part.items()})
        assert all(r["lock"] == "file" for r in results)
        # One commit per partition run (the lock serialises them): 8 distinct new versions.
        round_versions = sorted(r["version"] for r in results)
        assert len(set(round_versions)) == WORKERS
        assert not versions or round_versions[0] > versions[-1]
        versions.extend(round_versions)
        if rnd == 0:
            assert sorted(r["operation"] for r in results).count("create") == 1  # 8 raced to create the table


def test_same_partition_committed_twice_at_once_gives_one_copy(pool):
    db_uri, workers = pool
    for rep in range(4):
        video = f"dup-{rep}"
        same = command(f"dup-{rep}", {video: [0, 1, 2]}, 1.0)
        other = command(f"dup-{rep}", {video: [1, 2, 3, 4]}, 2.0)  # the partition rerun with new clips
        pair = (workers[0], workers[1])
        for worker in pair:  # brand-new keys from both: the case LanceDB alone duplicates
            worker.send(same)
        # The second (under the lock) finds exactly its rows there already: it writes nothing.
        assert sorted(w.result()["operation"] for w in pair) in (["append", "unchanged"], ["create", "unchanged"])
        rows = table_rows(db_uri).filter(pc.equal(pc.field("video_id"), video))
        assert_exact(rows, expected_angles(same["clips"], 1.0))
        # Two different versions of the partition at once: the table holds exactly one of them.
        pair[0].send(same)
        pair[1].send(other)
        for worker in pair:
            worker.result()
        rows = table_rows(db_uri).filter(pc.equal(pc.field("video_id"), video))
        ids = set(rows.column("clip_id").to_pylist())
        winner = same if ids == set(expected_angles(same["clips"], 1.0)) else other
        assert_exact(rows, expected_angles(winner["clips"], winner["angle0"]))


def test_kill_minus_nine_mid_commit_leaves_old_or_new_and_rerun_is_identical(tmp_path: Path):
    db_uri = str(tmp_path / "lancedb")
    db = connect(db_uri)
    old_clips = {f"k{v}": list(range(0, 500)) for v in range(40)}  # 20k rows in one partition
    new_clips = {video: list(range(100, 600)) for video in old_clips}  # per video: 100 vanish, 400 change, 100 new
    new = command("big", new_clips, 0.5)
    old_rows, new_rows = expected_angles(old_clips, 0.0), expected_angles(new_clips, 0.5)
    old_staged, new_staged = staged_rows(old_clips, "big", 0.0), staged_rows(new_clips, "big", 0.5)
    commit_partition_locked(db, MODEL, old_staged, list(old_clips))
    delays = (0.0, 0.01, 0.03, 0.06, 0.1, 0.2)
    victims = [Worker(db_uri) for _ in delays]  # started together: their start-up overlaps
    data_dir = Path(db_uri) / f"clips_{MODEL}.lance" / "data"
    outcomes = []
    for victim, delay in zip(victims, delays):
        version_before = open_clip_table(db, MODEL).version
        files_before = set(data_dir.iterdir())
        victim.send(new)
        assert victim.read()["event"] == "start"
        time.sleep(delay)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=30)
        table = open_clip_table(connect(db_uri), MODEL)  # a fresh connection, as the next run opens
        assert table.version in (version_before, version_before + 1)
        if table.version == version_before:
            assert_exact(table_rows(db_uri), old_rows)
            orphans = len(set(data_dir.iterdir()) - files_before)  # written, never committed
            outcomes.append(f"old ({orphans} orphan data files)")
        else:
            assert_exact(table_rows(db_uri), new_rows)
            outcomes.append("new")
        # The rerun (what Dagster's retry does) gives exactly the rows of an uninterrupted commit,
        # and is not blocked: the dead process's lock went with it.
        rerun, _ = commit_partition_locked(db, MODEL, new_staged, list(new_clips), timeout_s=30)
        assert rerun.rows_for_videos == new_staged.num_rows
        assert_exact(table_rows(db_uri), new_rows)
        # Back to the old rows, so the next kill interrupts a commit that changes something.
        commit_partition_locked(db, MODEL, old_staged, list(old_clips))
    print("kill outcomes:", outcomes)
    assert any(o.startswith("old") for o in outcomes), f"no kill landed before the commit finished: {outcomes}"


def test_fresh_process_sees_a_committed_partition_at_once(pool):
    db_uri, workers = pool
    workers[2].send(command("fresh", {"fresh-video": [0, 1, 2, 3]}, 0.3))
    assert workers[2].result()["event"] == "done"
    script = (
        "import json, sys\n"
        "from video_assets.index import connect, open_clip_table\n"
        "t = open_clip_table(connect(sys.argv[1]), sys.argv[2])\n"
        "rows = t.search().where(\"video_id = 'fresh-video'\").select(['clip_id']).to_arrow()\n"
        "print(json.dumps(sorted(rows.column('clip_id').to_pylist())))\n"
    )
    assert run_python_json(script, db_uri, MODEL, timeout=60) == sorted(clip_id("fresh-video", i) for i in range(4))


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(sys.argv[2])
