"""kill -9 of a committer during the first index write and during a later merge, for real.

The kill lands in the window that matters: the test watches the table directory and
sends SIGKILL as soon as LanceDB starts writing data files, before the version manifest
(each test asserts the kill did land there). Afterwards a plain commit (what the next
run does) succeeds without a manual step, search works, and the table holds exactly
the rows of an uninterrupted commit: same clip ids, same vectors.

Committers are `test_load`'s worker processes (the real `commit_partition_locked`).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

from tests.index.test_load import (
    DIM,
    MODEL,
    Worker,
    assert_exact,
    command,
    expected_angles,
    staged_rows,
    table_rows,
)
from video_assets.index.committer import commit_partition_locked
from video_assets.index.connection import clip_table_exists, connect, has_committed_version, open_clip_table
from video_assets.index.errors import ClipTableNotFoundError
from video_assets.index.search import SearchRequest, search_vector

# 50k rows: LanceDB needs tens of ms between its first data file and the manifest.
BIG = {f"k{v}": list(range(5000)) for v in range(10)}
POLL_S = 0.0005


def table_path(db_uri: str) -> Path:
    return Path(db_uri) / f"clips_{MODEL}.lance"


def kill_when(worker: Worker, ready, timeout_s: float = 60.0) -> None:
    """SIGKILL the worker the moment `ready()` is true (polled every half millisecond)."""
    assert worker.read()["event"] == "start"
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert worker.proc.poll() is None, "the worker finished before the kill point"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(POLL_S)
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(timeout=30)


def uninterrupted(tmp_path: Path, *commits: tuple[dict[str, list[int]], float]) -> dict[str, np.ndarray]:
    """clip id -> vector after the same commits in a fresh database, none interrupted."""
    db = connect(str(tmp_path / "reference"))
    for clips, angle0 in commits:
        commit_partition_locked(db, MODEL, staged_rows(clips, "big", angle0), list(clips))
    return vectors_by_clip(str(tmp_path / "reference"))


def vectors_by_clip(db_uri: str) -> dict[str, np.ndarray]:
    rows = table_rows(db_uri)
    vectors = rows.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, DIM)
    return dict(zip(rows.column("clip_id").to_pylist(), vectors))


def assert_same_index(db_uri: str, reference: dict[str, np.ndarray]) -> None:
    got = vectors_by_clip(db_uri)
    assert got.keys() == reference.keys()
    assert all(np.array_equal(got[c], reference[c]) for c in reference)


def test_kill_during_the_first_write_heals_at_the_next_commit(tmp_path: Path) -> None:
    db_uri = str(tmp_path / "lancedb")
    path = table_path(db_uri)
    worker = Worker(db_uri)
    worker.send(command("big", BIG, 0.0))
    kill_when(worker, lambda: (path / "data").exists())
    # The kill landed between the data files and the manifest: the state that used to break the index.
    assert path.is_dir() and not has_committed_version(path)
    reader = connect(db_uri)
    assert not clip_table_exists(reader, MODEL)
    query = np.zeros(DIM, np.float32)
    query[0], query[1] = np.cos(0.03), np.sin(0.03)  # clip 3 of each video
    with pytest.raises(ClipTableNotFoundError, match="interrupted first write"):
        search_vector(reader, MODEL, query)

    result, lock = commit_partition_locked(connect(db_uri), MODEL, staged_rows(BIG, "big", 0.0), list(BIG))
    assert lock.kind == "file" and result.operation == "create" and result.table_version == 1
    assert result.recovered is not None and str(path) in result.recovered
    assert_exact(table_rows(db_uri), expected_angles(BIG, 0.0))
    assert_same_index(db_uri, uninterrupted(tmp_path, (BIG, 0.0)))
    # Search works on the reader opened while the table was broken.
    hits = search_vector(reader, MODEL, query, SearchRequest(k=3))
    assert len(hits) == 3 and all(abs(h.score - 1.0) < 1e-5 for h in hits)


def test_kill_during_a_merge_keeps_the_previous_version(tmp_path: Path) -> None:
    db_uri = str(tmp_path / "lancedb")
    db = connect(db_uri)
    new_clips = {video: list(range(1000, 6000)) for video in BIG}  # 1000 vanish, 4000 change, 1000 new
    commit_partition_locked(db, MODEL, staged_rows(BIG, "big", 0.0), list(BIG))
    data_dir = table_path(db_uri) / "data"
    version_before = open_clip_table(db, MODEL).version
    files_before = set(data_dir.iterdir())
    worker = Worker(db_uri)
    worker.send(command("big", new_clips, 0.5))
    kill_when(worker, lambda: bool(set(data_dir.iterdir()) - files_before))

    table = open_clip_table(connect(db_uri), MODEL)
    assert table.version == version_before, "the kill landed after the merge committed"
    assert_exact(table_rows(db_uri), expected_angles(BIG, 0.0))  # the old rows, once each
    rerun, _ = commit_partition_locked(db, MODEL, staged_rows(new_clips, "big", 0.5), list(new_clips), timeout_s=30)
    assert rerun.operation == "merge" and rerun.recovered is None
    assert_exact(table_rows(db_uri), expected_angles(new_clips, 0.5))
    assert_same_index(db_uri, uninterrupted(tmp_path, (BIG, 0.0), (new_clips, 0.5)))


@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.2, 1.0])
def test_a_first_write_killed_at_any_moment_is_recoverable(tmp_path: Path, delay_s: float) -> None:
    # Wherever the kill lands (before the table dir, mid-write, after the commit), the next commit
    # gives the rows of an uninterrupted one.
    db_uri = str(tmp_path / "lancedb")
    small = {f"s{v}": list(range(200)) for v in range(5)}
    worker = Worker(db_uri)
    worker.send(command("big", small, 0.2))
    assert worker.read()["event"] == "start"
    time.sleep(delay_s)
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(timeout=30)
    result, _ = commit_partition_locked(connect(db_uri), MODEL, staged_rows(small, "big", 0.2), list(small))
    assert result.rows_for_videos == 1000
    assert_exact(table_rows(db_uri), expected_angles(small, 0.2))
