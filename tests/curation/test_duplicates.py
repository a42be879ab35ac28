"""Duplicate pairs, groups, keep rule and incremental runs, on generated vectors with planted duplicates."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from tests.progress_calls import ProgressCalls, on_terminal
from video_assets.cli.main import main
from video_assets.curation import clustering, pairs
from video_assets.curation.dup_read import duplicate_columns, groups, read_duplicates
from video_assets.curation.duplicates import update_duplicates
from video_assets.curation.groups import KeepKeys, build_groups, components
from video_assets.curation.pairs import find_pairs
from video_assets.curation.sources import SourceFacts
from video_assets.index.commit import commit_partition, delete_videos
from video_assets.index.connection import connect
from video_assets.index.schema import rows_to_table

DIM = 32
MODEL = "tiny"


def clustered(rng: np.random.Generator, n: int, *, topics: int = 12, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around a few topic centres (embeddings are clustered), no pair near a high threshold."""
    centres = clustering.normalize(rng.standard_normal((topics, DIM)))
    return clustering.normalize(centres[rng.integers(0, topics, n)] + spread * rng.standard_normal((n, DIM)))


def near(rng: np.random.Generator, v: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector at exactly cosine `cos` from unit `v` (float64)."""
    w = rng.standard_normal(len(v))
    w -= (w @ v) * v
    w /= np.linalg.norm(w)
    return cos * v + math.sqrt(1 - cos * cos) * w


def brute_pairs(x: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    sims = x.astype(np.float64) @ x.astype(np.float64).T
    i, j = np.nonzero(np.triu(sims >= threshold, 1))
    return set(zip(i.tolist(), j.tolist()))


@pytest.mark.parametrize("max_probes", [8, 64])
def test_pairs_equal_brute_force_across_cluster_boundaries(max_probes: int) -> None:
    rng = np.random.default_rng(1)
    x = clustered(rng, 1500).astype(np.float64)
    for a in rng.choice(1500, 200, replace=False):  # planted pairs, many straddling two clusters
        x[rng.integers(0, 1500)] = near(rng, x[a], rng.uniform(0.9, 0.999))
    x = clustering.normalize(x)
    truth = brute_pairs(x, 0.9)
    centroids = clustering.train_centroids(x, 40)
    within_only = clustering.assign(x, centroids, threshold=0.9, max_probes=0)
    nemo, _ = find_pairs(x, within_only, np.ones(len(x), bool), 0.9)
    assignment = clustering.assign(x, centroids, threshold=0.9, max_probes=max_probes)
    pairs, _ = find_pairs(x, assignment, np.ones(len(x), bool), 0.9)
    found = set(zip(pairs.i.tolist(), pairs.j.tolist()))
    assert len(truth) >= 150
    # Comparing within clusters only (the NeMo way) loses pairs split by a boundary; the probes do not.
    assert len(nemo) < len(truth)
    if not assignment.capped.any():
        assert found == truth
    assert found <= truth and len(found) >= 0.99 * len(truth)


def test_threshold_boundary() -> None:
    rng = np.random.default_rng(2)
    base = clustering.normalize(rng.standard_normal((3, DIM))).astype(np.float64)
    rows = [base[0], near(rng, base[0], 0.9 + 1e-5), base[1], near(rng, base[1], 0.9 - 1e-5), base[2], base[2]]
    x = clustering.normalize(np.array(rows))
    pairs, _ = find_pairs(x, clustering.assign(x, x[:1], threshold=0.9), np.ones(6, bool), 0.9)
    assert list(zip(pairs.i.tolist(), pairs.j.tolist())) == [(0, 1), (4, 5)]  # just above: in; just below: out
    assert pairs.sim[1] == pytest.approx(1.0)  # identical clips are a pair at any threshold
    exact, _ = find_pairs(x, clustering.assign(x, x[:1], threshold=1.0), np.ones(6, bool), 1.0 - 1e-9)
    assert list(zip(exact.i.tolist(), exact.j.tolist())) == [(4, 5)]


def test_components_join_chains() -> None:
    labels = components(7, np.array([5, 0, 3, 1]), np.array([6, 1, 4, 3]))
    assert labels.tolist() == [0, 0, 2, 0, 0, 5, 5]


def test_keep_rule_longest_then_pixels_then_registered_then_id() -> None:
    x = np.ones((8, 2), np.float32) / math.sqrt(2)  # all identical: pairs decide nothing, the keys do
    keys = KeepKeys(
        duration_s=np.array([5.0, 9.0, 9.0, 4.0, 4.0, 3.0, 3.0, 3.0]),
        pixels=np.array([10**6, 100, 200, 50, 50, 7, 7, 7]),
        registered_at=np.array([0.0, 5.0, 6.0, 3.0, 1.0, 2.0, 2.0, math.inf]),
        clip_id=np.array(["a", "b", "c", "d", "e", "g", "f", "h"], dtype=object),
    )
    i, j = np.array([0, 1, 3, 5, 5]), np.array([1, 2, 4, 6, 7])
    kept = build_groups(x, i, j, keys).kept_row
    assert kept[:3].tolist() == [2, 2, 2]  # longest (9 s), then more pixels
    assert kept[3:5].tolist() == [4, 4]  # same length and size: registered earlier
    assert kept[5:].tolist() == [6, 6, 6]  # all tied but the id: "f" < "g"; unknown registration last


# ---- through a real LanceDB table -------------------------------------------------------------


def video_rows(video: str, vectors: np.ndarray) -> list[dict]:
    rows = []
    for n, v in enumerate(vectors):
        start = 10.0 * n
        rows.append(
            {
                "clip_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}:{start}")),
                "video_id": video,
                "partition_key": f"p-{video}",
                "source_path": f"/videos/{video}.mp4",
                "span_start_s": start,
                "span_end_s": start + 8.0 - (n % 3),
                "vector": v.astype(np.float32),
                "model_id": "test/tiny",
                "model_revision": "r1",
                "created_at": datetime(2024, 5, 1, tzinfo=timezone.utc),
            }
        )
    return rows


def commit_video(db, video: str, vectors: np.ndarray) -> None:
    commit_partition(db, MODEL, rows_to_table(video_rows(video, vectors), DIM), [video])


def corpus(seed: int, videos: int = 30, clips: int = 12) -> dict[str, np.ndarray]:
    """Videos of clustered clips; each later video copies a few clips of earlier ones (and of itself)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for v in range(videos):
        x = clustered(rng, clips).astype(np.float64)
        if out:
            for c in rng.choice(clips, 3, replace=False):
                source = out[f"v{rng.integers(0, len(out)):02d}"][rng.integers(0, clips)]
                x[c] = near(rng, source, rng.uniform(0.96, 1.0))
        x[clips - 1] = near(rng, x[0], 0.97)  # a duplicate within the video
        out[f"v{v:02d}"] = clustering.normalize(x)
    return out


def summary(table) -> set[tuple]:
    cols = [table.column(c).to_pylist() for c in ("clip_id", "dup_group", "dup_keep", "group_size")]
    return set(zip(*cols))


def test_incremental_equals_full_recomputation(tmp_path: Path) -> None:
    db = connect(str(tmp_path / "lancedb"))
    videos = corpus(3)
    names = sorted(videos)
    for name in names[:20]:
        commit_video(db, name, videos[name])
    first = update_duplicates(db, MODEL, tmp_path / "inc", threshold=0.95)
    assert first.mode == "full" and first.groups > 5
    for name in names[20:]:  # new videos; one old video changed, one removed
        commit_video(db, name, videos[name])
    commit_video(db, names[3], videos[names[25]][::-1])  # v03 now holds v25's clips: all duplicates
    delete_videos(db, MODEL, [names[7]])
    second = update_duplicates(db, MODEL, tmp_path / "inc", threshold=0.95)
    assert second.mode == "incremental"
    assert second.new_clips == 10 * 12 + 12 and second.removed_clips == 24
    full = update_duplicates(db, MODEL, tmp_path / "full", threshold=0.95, full=True)
    inc_table, full_table = read_duplicates(tmp_path / "inc", MODEL), read_duplicates(tmp_path / "full", MODEL)
    assert summary(inc_table) == summary(full_table)
    assert second.pairs == full.pairs and second.groups == full.groups
    final = {**videos, names[3]: videos[names[25]][::-1]}
    del final[names[7]]
    assert full.pairs == len(brute_pairs(np.concatenate(list(final.values())), 0.95))  # exact: every pair
    # v03's copy of v25: each pair of twins is one group that keeps one of the two.
    v03 = inc_table.filter(pc.equal(inc_table.column("video_id"), names[3]))
    assert all(row["group_size"] >= 2 for row in v03.to_pylist())
    # Nothing changed: nothing compared, same result.
    third = update_duplicates(db, MODEL, tmp_path / "inc", threshold=0.95)
    assert third.new_clips == 0 and third.comparisons == 0
    assert summary(read_duplicates(tmp_path / "inc", MODEL)) == summary(full_table)
    # Another threshold starts over.
    assert update_duplicates(db, MODEL, tmp_path / "inc", threshold=0.98).mode == "full"


def test_output_columns_and_readers(tmp_path: Path) -> None:
    db = connect(str(tmp_path / "lancedb"))
    rng = np.random.default_rng(4)
    a = clustered(rng, 4).astype(np.float64)
    commit_video(db, "va", clustering.normalize(a))
    commit_video(db, "vb", clustering.normalize(np.stack([near(rng, a[1], 0.995), near(rng, a[2], 0.5)])))
    facts = SourceFacts(pixels={"va": 100, "vb": 200}, registered_at={"va": 1.0, "vb": 2.0})
    result = update_duplicates(db, MODEL, tmp_path / "cur", threshold=0.99, sources=facts)
    table = read_duplicates(tmp_path / "cur", MODEL)
    assert table.num_rows == 6 and result.groups == 1 and result.clips_marked == 1
    (group,) = groups(table)
    kept, dup = group.clips
    # Same duration (8 s): vb's clip has more pixels, so it is kept.
    assert kept["video_id"] == "vb" and kept["dup_keep"] and kept["sim_to_kept"] == 1.0
    assert dup["video_id"] == "va" and not dup["dup_keep"] and dup["sim_to_kept"] == pytest.approx(0.995, abs=1e-6)
    assert group.group == kept["clip_id"] == dup["dup_group"]
    cols = duplicate_columns(tmp_path / "cur", MODEL, [dup["clip_id"], "unknown"])
    assert list(cols) == [dup["clip_id"]] and cols[dup["clip_id"]]["dup_keep"] is False
    singles = table.filter(pc.is_null(table.column("dup_group"))).to_pylist()
    assert len(singles) == 4 and all(
        r["dup_keep"] and r["sim_to_kept"] is None and r["group_size"] == 1 for r in singles
    )
    assert sum(c for _, _, c in result.histogram) == result.pairs == 1


def test_progress_follows_each_phase_and_the_cli_draws_it_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("VIDEO_ASSETS_SETTINGS", "VIDEO_ASSETS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    db = connect(str(tmp_path / "lancedb"))
    videos = corpus(5, videos=6)
    for name in sorted(videos):
        commit_video(db, name, videos[name])
    # Small chunks and tasks: many reports, from worker threads, must still only count up.
    monkeypatch.setattr(clustering, "_CHUNK_ROWS", 8)
    monkeypatch.setattr(pairs, "_TASK_CELLS", 1)
    calls = ProgressCalls()
    full = update_duplicates(db, MODEL, tmp_path / "curation", threshold=0.95, on_progress=calls)
    assert calls.phases() == ["read", "k-means", "assign", "compare"]
    assert calls.total("assign") == full.clips and calls.total("compare") == full.comparisons
    assert sum(p == "compare" for p, _, _ in calls) > 3
    calls.clear()
    again = update_duplicates(db, MODEL, tmp_path / "curation", threshold=0.95, on_progress=calls)
    assert again.mode == "incremental" and calls.phases() == ["read", "assign", "compare"]  # no k-means
    assert calls.total("assign") == calls.total("compare") == 0  # nothing new to compare
    # The CLI: bars on a terminal's stderr only, and none with --quiet or --json.
    base = ["duplicates", "--model", MODEL, "--output", str(tmp_path), "--threshold", "0.95", "--full"]
    assert main(base) == 0
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal
    for extra, drawn in (([], True), (["--quiet"], False), (["--json"], False)):
        code, out = on_terminal(monkeypatch, [*base, *extra])
        assert code == 0
        assert ("compare: 100%" in out and "assign: 100%" in out) is drawn and (out == "") is not drawn, out
