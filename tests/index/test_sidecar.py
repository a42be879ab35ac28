"""The faiss sidecar: built by maintenance, answers only for the table version it holds.

Expected rankings come from numpy brute force over the vectors the test wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.clip_rows import grid_row
from tests.index.helpers import full_and_paged
from video_assets.index import sidecar as sidecar_mod
from video_assets.index.commit import commit_partition, delete_videos
from video_assets.index.committer import commit_partition_locked
from video_assets.index.connection import connect
from video_assets.index.maintenance import optimize_clip_table
from video_assets.index.schema import rows_to_table
from video_assets.index.search import SearchRequest, explain_search, search_vector
from video_assets.index.sidecar import POINTER, SIDECAR_DIR_NAME, Sidecar, load_sidecar, sidecar_root

ROWS, VIDEOS, DIM, MODEL = 800, 20, 16, "side"
TABLE = f"clips_{MODEL}"


def _row(video_id: str, index: int, vector: np.ndarray) -> dict:
    return grid_row(video_id, index, vector, model_id="test/side", clip_path=f"/clips/{video_id}/{index}.mp4")


def _optimize(db, **kwargs):
    return optimize_clip_table(db, MODEL, retention=timedelta(hours=1), index_kind="ivf_sq", **kwargs)


@pytest.fixture
def table(tmp_path: Path):
    """800 clips in 20 videos, clustered vectors, optimized (IVF_SQ + sidecar)."""
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((12, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, 12, ROWS)] + 0.5 * rng.standard_normal((ROWS, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_video = ROWS // VIDEOS
    rows = [_row(f"v{i // per_video}", i % per_video, vectors[i]) for i in range(ROWS)]
    db = connect(str(tmp_path / "lancedb"))
    commit_partition(db, MODEL, rows_to_table(rows, DIM), [f"v{i}" for i in range(VIDEOS)])
    result = _optimize(db)
    ids = np.array([r["clip_id"] for r in rows])
    query = vectors[123] + 0.3 * centers[2]
    return db, result, ids, vectors, query / np.linalg.norm(query)


def _uses_sidecar(db, query, **kwargs) -> bool:
    return explain_search(db, MODEL, query, SearchRequest(k=10, **kwargs)).startswith("faiss sidecar")


def test_optimize_publishes_a_sidecar_of_the_version_it_leaves(table):
    db, result, _, _, query = table
    side = result.sidecar
    assert side is not None and side.version == result.after.version and side.rows == ROWS and side.dim == DIM
    assert side.kind == f"IVF{round(ROWS**0.5)},SQ8" and not side.trained_reused
    root = Path(db.uri) / SIDECAR_DIR_NAME
    current = root / TABLE / (root / TABLE / POINTER).read_text()
    assert {p.name for p in current.iterdir()} == {
        "index.faiss",
        "trained.faiss",
        "vectors.npy",
        "rows.arrow",
        "meta.json",
        "clip_ids.npy",
        "clip_rows.npy",
    }
    assert db.list_tables().tables == [TABLE]  # LanceDB does not take the sidecar dir for a table
    meta = result.metadata()
    assert meta["sidecar"] == f"{side.kind} at v{side.version}, {ROWS} rows" and meta["sidecar_bytes"] > 0
    assert _uses_sidecar(db, query)


def test_probing_every_list_gives_the_brute_force_ranking_and_exact_scores(table):
    db, result, ids, vectors, query = table
    nlist = result.sidecar.nlist
    hits = search_vector(db, MODEL, query, SearchRequest(k=20, nprobes=nlist, refine_factor=4))
    expected = np.argsort(-(vectors @ query), kind="stable")[:20]
    assert [h.clip_id for h in hits] == list(ids[expected])
    assert [h.score for h in hits] == pytest.approx([float(vectors[i] @ query) for i in expected], abs=1e-5)
    first = hits[0]
    assert first.clip_path and first.source_path.endswith(f"{first.video_id}.mp4")
    assert first.span_end_s - first.span_start_s == 8.0


def test_excluded_clips_are_skipped_on_the_sidecar(table):
    db, result, ids, vectors, query = table
    ranking = list(ids[np.argsort(-(vectors @ query), kind="stable")])
    request = SearchRequest(k=5, nprobes=result.sidecar.nlist, exclude_clip_ids=ranking[:3])
    hits = search_vector(db, MODEL, query, request)
    assert [h.clip_id for h in hits] == ranking[3:8]


def test_a_commit_after_the_build_sends_search_to_lancedb_until_the_next_optimize(table):
    db, _, _, _, query = table
    commit_partition(db, MODEL, rows_to_table([_row("new", 0, query)], DIM), ["new"])
    assert not _uses_sidecar(db, query)
    assert search_vector(db, MODEL, query, SearchRequest(k=1))[0].video_id == "new"  # found at once

    again = _optimize(db)
    assert again.sidecar is not None and again.sidecar.rows == ROWS + 1 and again.sidecar.trained_reused
    assert _uses_sidecar(db, query)
    top = search_vector(db, MODEL, query, SearchRequest(k=1))[0]
    assert top.video_id == "new" and top.score == pytest.approx(1.0, abs=1e-5)


def test_deleted_videos_never_come_back_from_a_stale_sidecar(table):
    db, _, _, _, query = table
    top_video = search_vector(db, MODEL, query, SearchRequest(k=1))[0].video_id
    delete_videos(db, MODEL, [top_video])
    assert not _uses_sidecar(db, query)
    assert top_video not in {h.video_id for h in search_vector(db, MODEL, query, SearchRequest(k=50))}


def test_filtered_and_exact_searches_go_to_lancedb(table):
    db, _, _, _, query = table
    assert not _uses_sidecar(db, query, where="video_id = 'v3'")
    hits = search_vector(db, MODEL, query, SearchRequest(k=10, where="video_id = 'v3'"))
    assert {h.video_id for h in hits} == {"v3"}
    assert not _uses_sidecar(db, query, exact=True)
    assert not _uses_sidecar(db, query, sidecar=False)


def test_a_vanished_sidecar_falls_back_to_lancedb(table):
    db, _, ids, vectors, query = table
    pointer = Path(db.uri) / SIDECAR_DIR_NAME / TABLE / POINTER
    pointer.write_text("v999-gone")
    assert load_sidecar(pointer.parent.parent, TABLE) is None
    hits = search_vector(db, MODEL, query, SearchRequest(k=3, exact=False))
    assert not _uses_sidecar(db, query)
    assert hits[0].clip_id == ids[int(np.argmax(vectors @ query))]


def test_a_failed_build_publishes_nothing_and_the_old_sidecar_keeps_serving(table, monkeypatch):
    db, result, _, _, query = table
    table_dir = Path(db.uri) / SIDECAR_DIR_NAME / TABLE
    before = (table_dir / POINTER).read_text()

    def broken_copy(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sidecar_mod, "_copy_table", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        _optimize(db)
    assert (table_dir / POINTER).read_text() == before
    assert not list(table_dir.glob(".tmp-*"))
    # optimize compacted (new version) before the sidecar failed: the old sidecar no longer matches.
    assert not _uses_sidecar(db, query)
    monkeypatch.undo()
    assert _optimize(db).sidecar is not None and _uses_sidecar(db, query)


def test_no_index_wanted_drops_the_sidecar(table):
    db, _, _, _, query = table
    result = optimize_clip_table(db, MODEL, retention=timedelta(hours=1), index_kind="none")
    assert result.sidecar is None and result.sidecar_note.startswith("dropped")
    assert not (Path(db.uri) / SIDECAR_DIR_NAME / TABLE).exists()
    assert not _uses_sidecar(db, query)
    assert _optimize(db, sidecar=False).sidecar is None


def test_object_stores_get_no_sidecar_root(tmp_path):
    assert sidecar_root("s3://bucket/lancedb") is None
    assert sidecar_root("gs://bucket/db") is None
    assert sidecar_root(str(tmp_path / "db")) == (tmp_path / "db" / SIDECAR_DIR_NAME).resolve()


def test_a_damaged_sidecar_is_ignored_with_a_warning(table, caplog):
    db, _, ids, vectors, query = table
    table_dir = Path(db.uri) / SIDECAR_DIR_NAME / TABLE
    damaged = table_dir / "v1-damaged"
    damaged.mkdir()
    (damaged / "meta.json").write_text("{not json")
    (table_dir / POINTER).write_text(damaged.name)
    with caplog.at_level("WARNING"):
        hits = search_vector(db, MODEL, query, SearchRequest(k=1))
    assert hits[0].clip_id == ids[int(np.argmax(vectors @ query))]
    assert "damaged sidecar" in caplog.text and not _uses_sidecar(db, query)


def test_cli_search_uses_the_sidecar_unless_told_not_to(table, tmp_path, capsys, monkeypatch):
    from video_assets.cli.main import main

    db, _, ids, vectors, _ = table
    monkeypatch.delenv("VIDEO_ASSETS_SETTINGS", raising=False)
    data = str(Path(db.uri).parent)  # the fixture's database is <data>/lancedb, as Settings resolves it
    clip = str(ids[7])
    base = ["search", "--like-clip", clip, "--model", MODEL, "--output", data]
    assert main([*base, "--explain"]) == 0
    assert capsys.readouterr().out.startswith("faiss sidecar IVF")
    assert main([*base, "--explain", "--no-sidecar"]) == 0
    assert "ANNSubIndex" in capsys.readouterr().out
    expected = [str(ids[i]) for i in np.argsort(-(vectors @ vectors[7]), kind="stable")[1:4]]  # minus the clip itself
    for extra in ([], ["--no-sidecar"]):
        assert main([*base, "--json", "-k", "3", "--nprobes", "40", *extra]) == 0
        assert [h["clip_id"] for h in json.loads(capsys.readouterr().out)] == expected


def test_no_sidecar_when_its_codes_would_not_fit_the_memory_budget(table):
    db, _, _, _, query = table
    codes = ROWS * DIM  # one byte per dimension
    result = _optimize(db, memory_bytes=codes)  # half of it is the share the codes may take
    assert result.sidecar is None and result.sidecar_note.startswith("dropped (SQ8 codes")
    assert not _uses_sidecar(db, query)
    assert _optimize(db, memory_bytes=4 * codes).sidecar is not None


def test_like_clip_vectors_come_from_the_sidecar_while_it_is_current(table, monkeypatch):
    from video_assets.index.errors import UnknownClipError
    from video_assets.index.search import get_vector

    db, _, ids, vectors, _ = table
    lookup = Sidecar.vector_of
    answered = []  # clip ids the sidecar looked up
    monkeypatch.setattr(Sidecar, "vector_of", lambda self, clip_id: answered.append(clip_id) or lookup(self, clip_id))
    for i in (0, 17, ROWS - 1):
        assert np.allclose(get_vector(db, MODEL, str(ids[i])), vectors[i], atol=1e-6)
    with pytest.raises(UnknownClipError):
        get_vector(db, MODEL, "not-a-clip")
    assert len(answered) == 4  # all answered by the sidecar

    new_vector = np.eye(DIM, dtype=np.float32)[3]
    commit_partition(db, MODEL, rows_to_table([_row("late", 0, new_vector)], DIM), ["late"])
    late_id = _row("late", 0, new_vector)["clip_id"]
    assert np.allclose(get_vector(db, MODEL, late_id), new_vector)  # stale sidecar: LanceDB answers
    assert len(answered) == 4


def test_the_index_opens_mapped_and_moves_to_memory_after_some_queries(table):
    db, result, ids, vectors, query = table
    side = load_sidecar(sidecar_root(db.uri), TABLE)
    assert side is not None and not side.in_memory  # a one-shot process pays no full read
    every_list = SearchRequest(k=10, nprobes=result.sidecar.nlist)
    expected = [h.clip_id for h in search_vector(db, MODEL, query, every_list)]
    for _ in range(sidecar_mod.PROMOTE_AFTER):
        search_vector(db, MODEL, query, every_list)
    assert side.in_memory  # a long-lived one reads the lists into memory
    assert [h.clip_id for h in search_vector(db, MODEL, query, every_list)] == expected


def test_commits_land_while_the_sidecar_builds(table, monkeypatch):
    """The build reads the optimized version by time travel outside the commit lock: a commit
    made mid-build (here: from inside the copy step) neither waits nor leaks into the sidecar."""
    db, _, _, _, query = table
    copy = sidecar_mod._copy_table
    committed = []

    def copy_then_commit(table_, work, rows, dim):
        result = commit_partition_locked(
            db, MODEL, rows_to_table([_row("mid", 0, query)], DIM), ["mid"], timeout_s=5
        )  # would time out under the commit lock
        committed.append(result)
        return copy(table_, work, rows, dim)

    monkeypatch.setattr(sidecar_mod, "_copy_table", copy_then_commit)
    result = _optimize(db)
    assert committed and result.sidecar is not None
    assert result.sidecar.version == result.after.version and result.sidecar.rows == ROWS  # "mid" is not in it
    assert not _uses_sidecar(db, query)  # the table moved on: LanceDB answers, with the new clip
    assert search_vector(db, MODEL, query, SearchRequest(k=1))[0].video_id == "mid"


def test_offset_pages_on_the_sidecar_concatenate_to_its_full_ranking(table):
    db, result, _, _, query = table
    nlist = result.sidecar.nlist
    assert _uses_sidecar(db, query, offset=4)
    full, pages = full_and_paged(db, MODEL, query, nprobes=nlist)
    assert pages == full


def test_a_one_shot_like_clip_search_on_the_sidecar_loads_neither_torch_nor_dagster(table):
    db, _, ids, _, _ = table
    data = str(Path(db.uri).parent)
    script = (
        "import sys; from video_assets.cli.main import main; "
        f"code = main(['search', '--like-clip', {str(ids[7])!r}, '--model', {MODEL!r}, '--output', {data!r}, "
        "'-k', '2', '--explain']); "
        "heavy = sorted(m for m in ('torch', 'dagster', 'video_assets.models.embedder_registry') if m in sys.modules); "
        "print('HEAVY', heavy); sys.exit(code)"
    )
    env = {k: v for k, v in os.environ.items() if k != "VIDEO_ASSETS_SETTINGS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("faiss sidecar IVF") and "HEAVY []" in done.stdout
