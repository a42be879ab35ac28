from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.index.helpers import run_python_json
from video_assets.index.commit import commit_partition, delete_videos
from video_assets.index.connection import connect, open_clip_table
from video_assets.index.errors import ClipTableNotFoundError, IndexCommitError, InvalidRowsError
from video_assets.index.schema import rows_to_table


def _ids(table) -> set[str]:
    return set(table.column("clip_id").to_pylist())


def _version(db, clips) -> int:
    return open_clip_table(db, clips.model).version


def test_first_commit_creates_then_recommit_updates_in_place(db, clips):
    # 12 clips: more than a plain LanceDB query's old default page of 10.
    staged = clips.video("a", range(12))
    first = commit_partition(db, clips.model, staged, ["a"])
    assert (first.operation, first.inserted, first.updated, first.deleted) == ("create", 12, 0, 0)
    assert first.rows_for_videos == 12

    changed = clips.video("a", range(12), angle0=1.0)  # the same clips with new vectors
    again = commit_partition(db, clips.model, changed, ["a"])
    assert again.operation == "merge"
    assert (again.inserted, again.updated, again.deleted) == (0, 12, 0)
    assert again.table_version == first.table_version + 1  # one commit per call
    assert again.attempts >= 1
    assert set(clips.rows_by_clip(db)) == _ids(staged)


def test_a_rerun_with_the_same_rows_writes_nothing(db, clips):
    staged = clips.video("a", range(12))
    commit_partition(db, clips.model, staged, ["a"])
    commit_partition(db, clips.model, rows_to_table([], clips.dim), ["b"])  # a video without clips
    version, rows = _version(db, clips), clips.rows_by_clip(db)

    # The same rows (in another order), and again no rows for "b": the version does not move.
    same = commit_partition(db, clips.model, staged.take(list(range(11, -1, -1))), ["a"])
    assert (same.operation, same.inserted, same.updated, same.deleted, same.attempts) == ("unchanged", 0, 0, 0, 0)
    assert same.table_version == version and same.rows_for_videos == 12
    empty = commit_partition(db, clips.model, rows_to_table([], clips.dim), ["b"])
    assert (empty.operation, empty.table_version, empty.rows_for_videos) == ("unchanged", version, 0)
    assert _version(db, clips) == version and clips.rows_by_clip(db) == rows

    # One column differs (a clip re-embedded with another text match): a real commit.
    other = clips.video("a", range(12), text_match="a dog", text_match_prob=0.9)
    assert commit_partition(db, clips.model, other, ["a"]).table_version == version + 1


def test_changed_clips_replace_stale_rows_and_leave_other_videos_alone(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(4)), ["a"])
    commit_partition(db, clips.model, clips.video("b", range(3), angle0=2.0), ["b"])
    b_before = {k: v for k, v in clips.rows_by_clip(db).items() if v["video_id"] == "b"}
    version = _version(db, clips)

    # Video "a" re-clipped: clips 0 and 1 kept (new vectors), 2 and 3 gone, 5 new.
    a_new = clips.video("a", [0, 1, 5], angle0=1.0)
    result = commit_partition(db, clips.model, a_new, ["a"])

    assert (result.operation, result.inserted, result.updated, result.deleted) == ("merge", 1, 2, 2)
    assert result.table_version == version + 1
    rows = clips.rows_by_clip(db)
    assert {k for k, v in rows.items() if v["video_id"] == "a"} == _ids(a_new)
    for clip_id, row in zip(a_new.column("clip_id").to_pylist(), a_new.to_pylist()):
        assert rows[clip_id]["vector"] == pytest.approx(row["vector"])
    assert {k: v for k, v in rows.items() if v["video_id"] == "b"} == b_before


def test_empty_staged_partition_deletes_its_videos_rows_in_one_commit(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(3)), ["a"])
    commit_partition(db, clips.model, clips.video("b", range(2)), ["b"])
    version = _version(db, clips)

    result = commit_partition(db, clips.model, rows_to_table([], clips.dim), ["a"])

    assert (result.deleted, result.rows_for_videos) == (3, 0)
    assert result.table_version == version + 1
    assert {v["video_id"] for v in clips.rows_by_clip(db).values()} == {"b"}


def test_batch_partition_drops_a_video_without_clips(db, clips):
    both = rows_to_table([*clips.video("a", range(2)).to_pylist(), *clips.video("c", range(2)).to_pylist()], clips.dim)
    commit_partition(db, clips.model, both, ["a", "c"])
    result = commit_partition(db, clips.model, clips.video("a", range(2)), ["a", "c"])
    assert result.deleted == 2
    assert {v["video_id"] for v in clips.rows_by_clip(db).values()} == {"a"}


def test_new_video_in_existing_table_is_appended(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(2)), ["a"])
    result = commit_partition(db, clips.model, clips.video("b", range(3)), ["b"])
    assert (result.operation, result.inserted, result.rows_for_videos) == ("append", 3, 3)
    assert len(clips.rows_by_clip(db)) == 5


def test_rows_outside_the_partition_are_refused_before_any_commit(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(2)), ["a"])
    version = _version(db, clips)
    with pytest.raises(InvalidRowsError, match="outside the partition"):
        commit_partition(db, clips.model, clips.video("b", range(2)), ["a"])
    assert _version(db, clips) == version


def test_count_mismatch_after_commit_raises(db, clips):
    staged = clips.video("a", range(3))
    commit_partition(db, clips.model, staged, ["a"])
    # A rogue direct write (what concurrent merges can cause) leaves a duplicate key.
    open_clip_table(db, clips.model).add(staged.slice(0, 1))
    with pytest.raises(IndexCommitError, match="duplicate clip_id") as err:
        commit_partition(db, clips.model, staged, ["a"])
    assert "restore version" in str(err.value)


def test_a_table_of_another_dim_is_refused(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(2)), ["a"])
    rows = clips.video("b", range(2)).to_pylist()
    for row in rows:
        row["vector"] = row["vector"][: clips.dim // 2]
        row["vector"][0] = 1.0
        row["vector"][1] = 0.0
    with pytest.raises(IndexCommitError, match="vector dim"):
        commit_partition(db, clips.model, rows_to_table(rows, clips.dim // 2), ["b"])


def test_delete_videos_removes_only_those(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(3)), ["a"])
    commit_partition(db, clips.model, clips.video("b", range(2)), ["b"])
    result = delete_videos(db, clips.model, ["a"])
    assert result.deleted == 3
    assert {v["video_id"] for v in clips.rows_by_clip(db).values()} == {"b"}
    with pytest.raises(ClipTableNotFoundError):
        delete_videos(db, "never_committed", ["a"])


@pytest.mark.parametrize("video_ids", [[], ["a", "a"], "a", [""]])
def test_commit_validates_video_ids(db, clips, video_ids):
    with pytest.raises((ValueError, TypeError)):
        commit_partition(db, clips.model, clips.video("a", range(1)), video_ids)


def test_commits_from_two_threads_serialised_by_a_lock(db_uri, clips):
    # The committer pool has size 1; the lock plays that role here.
    commit_partition(connect(db_uri), clips.model, clips.video("seed", range(1)), ["seed"])
    lock = threading.Lock()
    errors: list[BaseException] = []
    tables = {
        "t1": [clips.video("t1", range(n)) for n in (4, 2, 3)],
        "t2": [clips.video("t2", range(n)) for n in (1, 5, 2)],
    }

    def committer(video_id: str) -> None:
        db = connect(db_uri)  # a fresh connection per worker, as in separate runs
        try:
            for staged in tables[video_id]:
                with lock:
                    commit_partition(db, clips.model, staged, [video_id])
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=committer, args=(v,)) for v in tables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    expected = _ids(clips.video("seed", range(1))) | _ids(tables["t1"][-1]) | _ids(tables["t2"][-1])
    assert set(clips.rows_by_clip(connect(db_uri))) == expected


def _commit_in_child(db_uri: str, model: str, staged_file: Path, video_id: str) -> set[str]:
    """Commit a Parquet file of rows from a separate Python process; returns the video ids it then sees."""
    script = (
        "import json, sys\n"
        "import pyarrow.parquet as pq\n"
        "from video_assets.index import commit_partition, connect\n"
        "db = connect(sys.argv[1])\n"
        "commit_partition(db, sys.argv[2], pq.read_table(sys.argv[3]), [sys.argv[4]])\n"
        "rows = db.open_table('clips_' + sys.argv[2]).search().select(['video_id']).to_arrow()\n"
        "print(json.dumps(sorted(set(rows.column('video_id').to_pylist()))))\n"
    )
    return set(run_python_json(script, db_uri, model, str(staged_file), video_id, timeout=120))


def _rows_file(path: Path, rows: pa.Table) -> Path:
    pq.write_table(rows, path)
    return path


def test_processes_see_each_others_commits(tmp_path: Path, db_uri, clips):
    reader = connect(db_uri)  # opened before anything exists, kept across the other processes' writes
    first = _rows_file(tmp_path / "x.parquet", clips.video("x", range(3)))
    assert _commit_in_child(db_uri, clips.model, first, "x") == {"x"}
    table = open_clip_table(reader, clips.model)

    second = _rows_file(tmp_path / "y.parquet", clips.video("y", range(2)))
    assert _commit_in_child(db_uri, clips.model, second, "y") == {"x", "y"}

    # The table handle opened before the second write sees it (read consistency interval 0).
    assert table.count_rows() == 5
    assert set(clips.rows_by_clip(reader)) == _ids(clips.video("x", range(3))) | _ids(clips.video("y", range(2)))
