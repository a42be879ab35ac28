"""The video registry: ids, registration, change tracking, sealing into partitions, concurrency.

No video is decoded here: discovery and the registry only look at paths, sizes and
mtimes, so small dummy files stand in for videos.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from pathlib import Path

import pytest

from video_assets.catalog.discovery import scan
from video_assets.catalog.input_walk import walk_inputs
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.settings.config import Settings

EXT = (".mp4", ".mov")


def discover(input_dir, extensions, *, exclude=()):
    return walk_inputs(input_dir, extensions, exclude=exclude).files


def _touch(path: Path, content: bytes = b"not decoded") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _folder(root: Path, n: int) -> Path:
    for i in range(n):
        _touch(root / f"clip{i:02d}.mp4", b"x" * (i + 1))
    return root


def _registry(tmp_path: Path) -> VideoRegistry:
    return VideoRegistry(tmp_path / "data" / "registry.sqlite")


def test_video_ids_are_stable_readable_and_never_collide() -> None:
    paths = ["a b.mp4", "a-b.mp4", "A B.mp4", "x/y.mp4", "x_y.mp4", "日本語.mp4", "deep/" + "n" * 200 + ".mp4"]
    ids = [video_id_for(p) for p in paths]
    assert ids == [video_id_for(p) for p in paths]  # a pure function of the relative path
    assert len(set(ids)) == len(ids)  # colliding slugs still give distinct ids
    assert ids[0].startswith("a-b-mp4-") and ids[1].startswith("a-b-mp4-")
    assert ids[3].startswith("x-y-mp4-")
    for vid in ids:
        # Valid, short Dagster partition keys, whatever the file name holds.
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", vid), vid
        assert len(vid) <= 48 + 1 + 8


def test_discover_skips_hidden_entries_other_suffixes_and_the_data_dir(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _touch(root / "b.MP4")
    _touch(root / "sub" / "a.mov")
    _touch(root / ".hidden.mp4")
    _touch(root / ".cache" / "c.mp4")
    _touch(root / "notes.txt")
    _touch(root / "data" / "clips" / "v" / "clip.mp4")  # our own transcoded clips
    found = discover(root, EXT, exclude=[root / "data"])
    assert [f.rel_path for f in found] == ["b.MP4", "sub/a.mov"]
    assert found[1].abs_path == str((root / "sub" / "a.mov").resolve())
    assert found[1].size_bytes == len(b"not decoded")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover(tmp_path / "nope", EXT)


def test_scan_never_registers_clips_written_under_a_data_dir_inside_the_input(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in", 2)
    settings = Settings(input_dir=root, data_dir=root / "data", enabled_models=("fingerprint",))
    registry = VideoRegistry(settings.data_dir / "registry.sqlite")
    scan(settings, registry, seal_partial=True)
    _touch(root / "data" / "clips" / "some-video" / "clip.mp4")
    result = scan(settings, registry, seal_partial=True)
    assert result.new_videos == [] and result.new_partitions == []
    assert [v.rel_path for v in registry.all()] == ["clip00.mp4", "clip01.mp4"]


def test_register_is_idempotent(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    files = discover(_folder(tmp_path / "in", 3), EXT)
    added = registry.register(files)
    assert added == [video_id_for(f.rel_path) for f in files]
    assert registry.register(files) == []
    assert registry.register(discover(tmp_path / "in", EXT)) == []
    records = registry.all()
    assert [r.video_id for r in records] == added
    assert all(r.status == "pending" and r.partition_key is None for r in records)


def test_a_changed_file_is_pending_again_in_its_partition(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in", 2)
    registry = _registry(tmp_path)
    registry.register(discover(root, EXT))
    [key, _] = registry.seal_partitions(1, seal_partial=False)
    registry.mark(key, "failed", error="broken header", sha256="0" * 64)

    _touch(root / "clip00.mp4", b"fixed and longer content")  # new size
    registry.register(discover(root, EXT))
    record = registry.get(key)
    assert (record.status, record.error, record.partition_key) == ("pending", None, key)
    assert record.size_bytes == len(b"fixed and longer content")

    registry.mark(key, "done")
    stat = (root / "clip00.mp4").stat()
    os.utime(root / "clip00.mp4", (stat.st_atime, stat.st_mtime + 10))  # same size, newer mtime
    registry.register(discover(root, EXT))
    assert registry.get(key).status == "pending"
    assert registry.get(video_id_for("clip01.mp4")).status == "pending"  # untouched, never marked


def test_missing_files_are_reported_once_and_pending_again_when_restored(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in", 2)
    registry = _registry(tmp_path)
    registry.register(discover(root, EXT))
    registry.seal_partitions(1, seal_partial=False)
    gone_id = video_id_for("clip00.mp4")
    registry.mark(gone_id, "done")
    content = (root / "clip00.mp4").read_bytes()
    (root / "clip00.mp4").unlink()

    present = [f.rel_path for f in discover(root, EXT)]
    assert [v.video_id for v in registry.mark_missing(present)] == [gone_id]
    assert registry.mark_missing(present) == []  # reported once, not on every scan
    record = registry.get(gone_id)
    assert record.status == "missing" and "no longer" in record.error
    assert registry.partition_keys() == [video_id_for("clip01.mp4")]  # a partition of gone videos is gone

    _touch(root / "clip00.mp4", content)
    files = discover(root, EXT)
    assert registry.register(files) == []  # not new: the same video, back
    assert registry.mark_missing(f.rel_path for f in files) == []
    assert (registry.get(gone_id).status, registry.get(gone_id).partition_key) == ("pending", gone_id)
    assert gone_id in registry.partition_keys()


def test_one_video_per_partition_keys_are_the_video_ids(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    files = discover(_folder(tmp_path / "in", 3), EXT)
    ids = registry.register(files)
    assert registry.seal_partitions(1, seal_partial=False) == ids
    assert registry.seal_partitions(1, seal_partial=False) == []  # each video is sealed once
    for vid in ids:
        assert [v.video_id for v in registry.videos_in(vid)] == [vid]
    with pytest.raises(KeyError, match="not in the video registry"):
        registry.videos_in("no-such-partition")


def test_batches_seal_when_full_and_partial_only_when_asked_or_old(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    root = _folder(tmp_path / "in", 7)
    ids = registry.register(discover(root, EXT))

    keys = registry.seal_partitions(3, seal_partial=False, max_age_s=3600.0)
    assert len(keys) == 2 and len(set(keys)) == 2
    assert [[v.video_id for v in registry.videos_in(k)] for k in keys] == [ids[0:3], ids[3:6]]  # path order
    assert all(k.startswith("batch-") for k in keys)
    assert registry.get(ids[6]).partition_key is None  # the partial batch waits for more videos
    assert registry.seal_partitions(3, seal_partial=False) == []

    _touch(root / "clip07.mp4")
    assert registry.seal_partitions(3, seal_partial=False, max_age_s=3600.0) == []
    [aged] = registry.seal_partitions(3, seal_partial=False, max_age_s=0.0)  # waited "too long"
    assert [v.rel_path for v in registry.videos_in(aged)] == ["clip06.mp4"]

    registry.register(discover(root, EXT))
    [partial] = registry.seal_partitions(3, seal_partial=True)
    assert [v.rel_path for v in registry.videos_in(partial)] == ["clip07.mp4"]
    assert registry.partition_keys() == sorted([*keys, aged, partial])
    with pytest.raises(ValueError, match="videos_per_partition"):
        registry.seal_partitions(0, seal_partial=True)


def test_pending_changes_name_each_new_sealed_changed_or_restored_partition_once(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    root = _folder(tmp_path / "in", 4)
    registry.register(discover(root, EXT))
    registry.seal_partitions(3, seal_partial=False)
    changed, cursor = registry.pending_changes(0)
    [first] = changed
    assert registry.pending_changes(cursor) == ({}, cursor)

    # The 4th video waited in a partial batch past the cursor; sealing it is a change.
    [second] = registry.seal_partitions(3, seal_partial=True)
    changed, cursor2 = registry.pending_changes(cursor)
    assert list(changed) == [second] and cursor2 > cursor

    for v in registry.videos_in(first):
        registry.mark(v.video_id, "done")
    _touch(root / "clip01.mp4", b"edited")
    registry.register(discover(root, EXT))
    changed, cursor3 = registry.pending_changes(cursor2)
    assert list(changed) == [first] and changed[first] == cursor3

    (root / "clip03.mp4").unlink()  # `second`'s only video, still pending
    registry.mark_missing(f.rel_path for f in discover(root, EXT))
    assert registry.pending_changes(cursor3) == ({}, cursor3)  # gone is not a change to run
    _touch(root / "clip03.mp4", b"back")
    registry.register(discover(root, EXT))
    changed, _ = registry.pending_changes(cursor3)
    assert list(changed) == [second]


def test_mark_rejects_unknown_videos_and_statuses(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    registry.register(discover(_folder(tmp_path / "in", 1), EXT))
    with pytest.raises(KeyError, match="nope"):
        registry.mark("nope", "done")
    with pytest.raises(ValueError, match="unknown status"):
        registry.mark(video_id_for("clip00.mp4"), "ok")  # the old "probed" status proves nothing


def _scan_and_seal(db_path: str, root: str, rounds: int, barrier, out) -> None:
    """One process of the concurrency test: the sensor and the CLI scanning at once."""
    registry = VideoRegistry(Path(db_path))
    files = discover(Path(root), EXT)
    keys = []
    barrier.wait()
    try:
        for r in range(rounds):
            registry.register(files[: (r + 1) * len(files) // rounds])
            keys += registry.seal_partitions(3, seal_partial=r == rounds - 1)
            registry.mark_missing(f.rel_path for f in files)
    except Exception as err:  # handed to the test, which fails with it
        out.put(f"{type(err).__name__}: {err}")
        raise
    out.put(keys)


def test_two_processes_scanning_at_once_neither_lock_up_nor_double_seal(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in", 60)
    db_path = tmp_path / "data" / "registry.sqlite"
    VideoRegistry(db_path)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_scan_and_seal, args=(str(db_path), str(root), 20, barrier, out)) for _ in range(2)]
    for w in workers:
        w.start()
    sealed = [out.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    assert not [s for s in sealed if isinstance(s, str)]  # e.g. "database is locked", UNIQUE constraint
    assert [w.exitcode for w in workers] == [0, 0]

    registry = VideoRegistry(db_path)
    every_key = sealed[0] + sealed[1]
    assert len(every_key) == len(set(every_key))  # no batch was sealed by both processes
    assert sorted(every_key) == registry.partition_keys()
    records = registry.all()
    assert len(records) == 60 and all(r.partition_key for r in records)
    assert sum(len(registry.videos_in(k)) for k in every_key) == 60
