from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from video_assets.index import maintenance
from video_assets.index.commit import commit_partition, delete_videos
from video_assets.index.connection import connect, open_clip_table
from video_assets.index.maintenance import (
    SCALAR_INDEX_COLUMNS,
    SCALAR_INDEXES,
    optimize_clip_table,
    should_optimize,
    table_health,
)
from video_assets.index.schema import rows_to_table
from video_assets.index.search import SearchRequest, search_vector
from video_assets.index.vector_index import (
    EXACT_MAX_VALUES,
    ExistingVectorIndex,
    needs_new_index,
    plan_vector_index,
)

GIB = 2**30


def _ids(table: pa.Table) -> set[str]:
    return set(table.column("clip_id").to_pylist())


def _video_ids(db, clips) -> dict[str, set[str]]:
    by_video: dict[str, set[str]] = {}
    for clip_id, row in clips.rows_by_clip(db).items():
        by_video.setdefault(row["video_id"], set()).add(clip_id)
    return by_video


def test_merge_counts_stay_right_with_scalar_indexes_on_the_merge_key_and_filter_columns(db, clips):
    """lancedb#3177/#3515: a scalar index (on the merge key above all) could make merge_insert
    silently match nothing. Ours index video_id, duration_s, text_match and the merge key
    clip_id; prove the committer's counts and rows stay exact with them, before and after
    optimize folds new rows into them."""
    for video in "abc":
        commit_partition(db, clips.model, clips.video(video, range(4)), [video])
    first = optimize_clip_table(db, clips.model, retention=timedelta(hours=1))
    names = {ix.name: list(ix.columns) for ix in open_clip_table(db, clips.model).list_indices()}
    assert {tuple(c) for c in names.values()} >= {(c,) for c in SCALAR_INDEX_COLUMNS}
    assert first.scalar_indexes == tuple(f"{c}_{kind}" for c, kind in SCALAR_INDEXES.items())

    # The committer's filter on video_id now goes through the BTree (so this test exercises it).
    plan = open_clip_table(db, clips.model).search().where("video_id IN ('a', 'b')").explain_plan(True)
    assert "video_id_btree" in plan
    # ... and so do the merge's key matches and --like-clip's lookup on clip_id.
    some_id = next(iter(_ids(clips.video("a", [0]))))
    assert "clip_id_btree" in open_clip_table(db, clips.model).search().where(f"clip_id = '{some_id}'").explain_plan(
        True
    )

    # Re-clip "a": 0,1 kept (changed), 2,3 vanish, 6 new -> exact counts through the indexed table.
    result = commit_partition(db, clips.model, clips.video("a", [0, 1, 6], angle0=1.0), ["a"])
    assert (result.operation, result.inserted, result.updated, result.deleted) == ("merge", 1, 2, 2)
    # A new video appended after the index was built (unindexed rows), then merged again.
    commit_partition(db, clips.model, clips.video("d", range(3)), ["d"])
    result = commit_partition(db, clips.model, clips.video("d", [1, 2], angle0=2.0), ["d"])
    assert (result.inserted, result.updated, result.deleted) == (0, 2, 1)
    # A video whose clips all vanished, and a removed video.
    result = commit_partition(db, clips.model, rows_to_table([], clips.dim), ["b"])
    assert result.deleted == 4
    assert delete_videos(db, clips.model, ["c"]).deleted == 4

    second = optimize_clip_table(db, clips.model, retention=timedelta(hours=1))
    assert second.after.num_fragments <= second.before.num_fragments
    # After optimize merged the new rows into the BTrees: merge again, counts still exact.
    result = commit_partition(db, clips.model, clips.video("a", [0, 6, 7], angle0=0.5), ["a"])
    assert (result.inserted, result.updated, result.deleted) == (1, 2, 1)
    result = commit_partition(db, clips.model, clips.video("d", [1, 2], angle0=2.5), ["d"])
    assert (result.inserted, result.updated, result.deleted) == (0, 2, 0)

    assert _video_ids(db, clips) == {
        "a": _ids(clips.video("a", [0, 6, 7])),
        "d": _ids(clips.video("d", [1, 2])),
    }
    # Filters through the indexes agree with the rows.
    table = open_clip_table(db, clips.model)
    assert table.count_rows("video_id = 'a'") == 3
    assert table.count_rows("duration_s >= 8") == 5
    assert table.count_rows("text_match IS NULL") == 5


def test_filter_columns_get_scalar_indexes_that_filtered_searches_use(db, clips):
    """video_id and duration_s get BTrees, text_match a bitmap; a prefiltered search reads them
    instead of scanning the column, and returns what the exact filtered search returns."""
    for video in "abcd":
        part = clips.video(video, range(6), text_match="a dog" if video in "ab" else "a cat", text_match_prob=0.9)
        commit_partition(db, clips.model, part, [video])
    result = optimize_clip_table(db, clips.model)
    assert set(result.scalar_indexes) == {"video_id_btree", "duration_s_btree", "text_match_bitmap", "clip_id_btree"}
    table = open_clip_table(db, clips.model)
    kinds = {ix.name: ix.index_type for ix in table.list_indices()}
    assert kinds["text_match_bitmap"].lower() == "bitmap" and kinds["duration_s_btree"].lower() == "btree"
    where = "text_match = 'a dog' AND duration_s >= 8"
    plan = table.search(clips.unit_at(0.0)).where(where, prefilter=True).explain_plan(True)
    assert "ScalarIndexQuery" in plan or "text_match_bitmap" in plan, plan
    hits = search_vector(db, clips.model, clips.unit_at(0.3), SearchRequest(k=20, where=where))
    assert sorted(h.clip_id for h in hits) == sorted(
        _ids(clips.video("a", range(6))) | _ids(clips.video("b", range(6)))
    )


def test_compaction_and_cleanup_reduce_fragments_and_versions_keep_rows(db, clips):
    for i in range(12):
        commit_partition(db, clips.model, clips.video(f"v{i}", range(2)), [f"v{i}"])
    rows_before = clips.rows_by_clip(db)
    before = table_health(open_clip_table(db, clips.model))
    assert before.num_fragments == 12 and before.num_versions == 12
    time.sleep(1.2)  # every version but the latest is now older than the retention below
    result = optimize_clip_table(db, clips.model, retention=timedelta(seconds=1), scalar_indexes=False)
    assert result.before == before
    assert result.after.num_fragments == 1
    assert result.after.num_versions < before.num_versions
    assert result.after.version > before.version
    assert clips.rows_by_clip(db) == rows_before
    meta = result.metadata()
    assert (meta["num_fragments_before"], meta["num_fragments_after"]) == (12, 1)
    assert meta["index_type"] == "none (exact search)" and meta["lock"] == "file"


def test_retention_keeps_the_versions_a_pinned_reader_uses(db, clips):
    commit_partition(db, clips.model, clips.video("a", range(3)), ["a"])
    pinned = open_clip_table(db, clips.model)
    old_version = pinned.version
    pinned.checkout(old_version)  # a reader that stays on this version
    for i in range(5):
        commit_partition(db, clips.model, clips.video(f"n{i}", range(2)), [f"n{i}"])
    optimize_clip_table(db, clips.model, retention=timedelta(hours=1), scalar_indexes=False)
    assert pinned.count_rows() == 3  # its files were kept
    assert pinned.search().select(["clip_id"]).to_arrow().num_rows == 3
    assert old_version in {v["version"] for v in open_clip_table(db, clips.model).list_versions()}


def test_searches_during_optimize_never_fail_or_change(db_uri, clips):
    db = connect(db_uri)
    for i in range(10):
        commit_partition(db, clips.model, clips.video(f"v{i}", range(3), angle0=0.3 * i), [f"v{i}"])
    query = clips.unit_at(0.7)
    expected = [h.clip_id for h in search_vector(db, clips.model, query, SearchRequest(k=8))]
    errors: list[BaseException] = []
    seen: list[list[str]] = []
    stop = threading.Event()

    def reader() -> None:
        reader_db = connect(db_uri)  # its own connection, re-reading the latest version each query
        try:
            while not stop.is_set():
                seen.append([h.clip_id for h in search_vector(reader_db, clips.model, query, SearchRequest(k=8))])
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for rnd in range(3):
            # Commits far from the query (cosine < -0.9) between passes, so each pass compacts something.
            for i in range(4):
                far = f"far{rnd}-{i}"
                commit_partition(db, clips.model, clips.video(far, range(2), angle0=3.5 + 0.01 * i), [far])
            result = optimize_clip_table(db, clips.model, retention=timedelta(hours=1))
            assert result.after.num_fragments < result.before.num_fragments
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert seen and all(ids == expected for ids in seen)


def test_auto_builds_an_index_above_the_exact_threshold_and_finds_rows_added_after_it(db, clips, monkeypatch):
    """The automatic kind above the exact-search threshold (lowered here so a small table crosses
    it) is IVF_SQ; rows committed after the build are searched flat until the next pass."""
    monkeypatch.setattr(
        maintenance, "plan_vector_index", lambda *a, **kw: plan_vector_index(*a, **kw, exact_max_values=1000)
    )
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((400, clips.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [clips.row(f"v{i // 40}", i % 40, vector=vectors[i]) for i in range(len(vectors))]
    table = rows_to_table(rows, clips.dim)
    commit_partition(db, clips.model, table, sorted({r["video_id"] for r in rows}))
    result = optimize_clip_table(db, clips.model)
    assert result.plan.kind == "ivf_sq" and result.vector_index.name == "vector_ivf_sq_p20"
    assert result.metadata()["index_type"] == "ivf_sq"
    late = clips.video("late", range(3), angle0=0.0)  # unit_at(0), unit_at(0.1), unit_at(0.2)
    commit_partition(db, clips.model, late, ["late"])
    assert table_health(open_clip_table(db, clips.model)).unindexed_rows == 3
    hits = search_vector(db, clips.model, clips.unit_at(0.1), SearchRequest(k=3))
    assert hits[0].clip_id == clips.row("late", 1)["clip_id"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert {h.video_id for h in hits} == {"late"}


def test_ivf_index_is_built_on_request_and_scores_stay_exact(db, clips):
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((600, clips.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [clips.row(f"v{i // 20}", i % 20, vector=vectors[i]) for i in range(len(vectors))]
    table = rows_to_table(rows, clips.dim)
    for video in sorted({r["video_id"] for r in rows}):
        part = table.filter(pa.compute.equal(table.column("video_id"), video))
        commit_partition(db, clips.model, part, [video])
    result = optimize_clip_table(db, clips.model, index_kind="ivf_sq", scalar_indexes=False)
    assert result.vector_index_built and result.vector_index.name == "vector_ivf_sq_p24"
    meta = result.metadata()
    assert (meta["index_type"], meta["index_params"]["num_partitions"]) == ("ivf_sq", 24)
    assert meta["vector_index_build_s"] > 0 and result.after.unindexed_rows == 0

    by_id = {r["clip_id"]: v for r, v in zip(table.to_pylist(), vectors)}
    query = vectors[5] + 0.3 * vectors[9]
    hits = search_vector(db, clips.model, query, SearchRequest(k=10))
    exact = vectors @ (query / np.linalg.norm(query))
    for hit in hits:  # refine re-ranks on the stored vectors: the scores are the exact cosines
        assert hit.score == pytest.approx(float(by_id[hit.clip_id] @ (query / np.linalg.norm(query))), abs=1e-5)
    assert hits[0].score == pytest.approx(float(exact.max()), abs=1e-5)

    # A second pass keeps the index (the table did not grow) and folds in new rows.
    commit_partition(db, clips.model, clips.video("late", range(5)), ["late"])
    again = optimize_clip_table(db, clips.model, index_kind="ivf_sq", scalar_indexes=False)
    assert not again.vector_index_built and again.vector_index.name == "vector_ivf_sq_p24"
    assert again.metadata()["index_params"] == {"num_partitions": 24}
    assert again.before.unindexed_rows == 5 and again.after.unindexed_rows == 0


def test_plan_follows_table_size_and_memory():
    assert plan_vector_index(1000, 768).kind == "none"
    assert plan_vector_index(EXACT_MAX_VALUES // 768, 768).kind == "none"
    assert plan_vector_index(EXACT_MAX_VALUES // 768 + 1, 768).kind == "ivf_sq"
    plan = plan_vector_index(1_000_000, 768, memory_bytes=16 * GIB)
    assert (plan.kind, plan.num_partitions, plan.name) == ("ivf_sq", 1000, "vector_ivf_sq_p1000")
    # 10M x 768 SQ codes (7.2 GiB) do not fit half of 8 GiB: still IVF_SQ, read from disk per probe.
    plan = plan_vector_index(10_000_000, 768, memory_bytes=8 * GIB)
    assert plan.kind == "ivf_sq" and "from disk" in plan.reason
    # HNSW on request: one graph per ~1M rows.
    plan = plan_vector_index(10_000_000, 768, kind="ivf_hnsw_sq")
    assert (plan.kind, plan.num_partitions, plan.name) == ("ivf_hnsw_sq", 9, "vector_ivf_hnsw_sq_p9")
    plan = plan_vector_index(10_000_000, 768, kind="ivf_pq")
    assert (plan.kind, plan.num_sub_vectors) == ("ivf_pq", 96)
    # The training sample (partitions x sample_rate x dim x 4 bytes) is held within the budget.
    small = plan_vector_index(1_000_000, 768, memory_bytes=GIB // 4)
    assert small.num_partitions * small.sample_rate * 768 * 4 <= GIB // 8 or small.sample_rate == 16
    assert plan_vector_index(100, 768, kind="ivf_pq").kind == "none"  # too few rows to train
    with pytest.raises(ValueError):
        plan_vector_index(10, 8, kind="hnsw")  # type: ignore[arg-type]


def test_index_is_rebuilt_only_when_the_table_outgrew_it():
    hnsw = lambda rows: plan_vector_index(rows, 768, kind="ivf_hnsw_sq", memory_bytes=64 * GIB)  # noqa: E731
    graphs = lambda parts: ExistingVectorIndex(f"vector_ivf_hnsw_sq_p{parts}", "ivf_hnsw_sq", parts, 1, 0)  # noqa: E731
    assert not needs_new_index(graphs(1), hnsw(3_000_000))  # 3 graphs' worth of rows in one: not yet 4x
    assert needs_new_index(graphs(1), hnsw(5_000_000))
    assert needs_new_index(ExistingVectorIndex("vector_ivf_sq_p1000", "ivf_sq", 1000, 1, 0), hnsw(1_000_000))  # kind
    plan = plan_vector_index(1_000_000, 256, kind="ivf_sq", memory_bytes=16 * GIB)  # 1000 partitions
    sized_for = lambda parts, kind="ivf_sq": ExistingVectorIndex(f"vector_{kind}_p{parts}", kind, parts, 1, 0)  # noqa: E731
    assert needs_new_index(None, plan)
    assert not needs_new_index(sized_for(800), plan)
    assert needs_new_index(sized_for(500), plan)  # the table grew 4x since
    assert needs_new_index(sized_for(1000, "ivf_pq"), plan)
    assert not needs_new_index(ExistingVectorIndex("my_index", None, None, 1, 0), plan)  # a user's own index


def test_should_optimize_every_k_commits():
    assert not should_optimize(99, None, 100)
    assert should_optimize(100, None, 100)
    assert not should_optimize(150, 100, 100) and should_optimize(200, 100, 100)
    with pytest.raises(ValueError):
        should_optimize(1, None, 0)


def test_optimized_asset_reports_metadata_and_the_sensor_requests_every_k_commits(db_uri, clips):
    import dagster as dg

    from video_assets.orchestration.assets.index_maintenance import optimize_index_sensor, optimized_index_asset
    from video_assets.orchestration.resources.lancedb import LanceDBResource

    resource = LanceDBResource(uri=db_uri)
    sensor = optimize_index_sensor([clips.model, "other"], every_k_commits=3)
    db = connect(db_uri)

    def tick(cursor: str | None):
        with dg.build_sensor_context(cursor=cursor, resources={"lancedb": resource}) as context:
            return sensor(context), context

    for i in range(2):
        commit_partition(db, clips.model, clips.video(f"v{i}", range(2)), [f"v{i}"])
    result, _ = tick(None)
    assert not result.run_requests  # 2 versions < 3; "other" has no table and is skipped
    commit_partition(db, clips.model, clips.video("v2", range(2)), ["v2"])
    result, _ = tick(result.cursor)
    assert [r.asset_selection for r in result.run_requests] == [[dg.AssetKey(f"{clips.model}_clip_index_optimized")]]
    assert not tick(result.cursor)[0].run_requests  # no new commit since the request

    asset = optimized_index_asset(clips.model)
    assert asset.keys == {dg.AssetKey(f"{clips.model}_clip_index_optimized")}
    assert dg.AssetKey(f"{clips.model}_clip_index") in asset.dependency_keys
    upstream = dg.AssetSpec(f"{clips.model}_clip_index")
    run = dg.materialize([asset, upstream], selection=[asset], resources={"lancedb": resource})
    assert run.success
    [event] = run.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["num_fragments_before"].value == 3 and meta["num_fragments_after"].value == 1
    assert meta["index_type"].value == "none (exact search)"
    assert meta["sidecar"].value == "none (no ANN index wanted)" and meta["sidecar_bytes"].value == 0
    assert meta["table_version"].value == open_clip_table(db, clips.model).version


def test_the_sensor_optimizes_once_more_when_commits_stop(db_uri, clips):
    """Fewer than K commits at the end of a backfill still get optimized once the table settles,
    and the versions optimize itself makes never trigger another pass."""
    import dagster as dg

    from video_assets.orchestration.assets.index_maintenance import optimize_index_sensor, optimized_index_asset
    from video_assets.orchestration.resources.lancedb import LanceDBResource

    resource = LanceDBResource(uri=db_uri)
    instance = dg.DagsterInstance.ephemeral()
    db = connect(db_uri)

    def tick(sensor, cursor: str | None):
        with dg.build_sensor_context(cursor=cursor, resources={"lancedb": resource}, instance=instance) as context:
            return sensor(context)

    waiting = optimize_index_sensor([clips.model], every_k_commits=100, settle_after_seconds=3600)
    settled = optimize_index_sensor([clips.model], every_k_commits=100, settle_after_seconds=0)
    for i in range(2):
        commit_partition(db, clips.model, clips.video(f"v{i}", range(2)), [f"v{i}"])
    assert not tick(waiting, None).run_requests  # 2 commits, and they may still be arriving
    first = tick(settled, None)
    assert [r.run_key for r in first.run_requests] == [f"{clips.model}-v{open_clip_table(db, clips.model).version}"]
    assert not tick(settled, first.cursor).run_requests  # that version was requested already

    asset = optimized_index_asset(clips.model)
    upstream = dg.AssetSpec(f"{clips.model}_clip_index")
    assert dg.materialize(
        [asset, upstream], selection=[asset], resources={"lancedb": resource}, instance=instance
    ).success
    after_optimize = tick(settled, first.cursor)
    assert not after_optimize.run_requests  # the table is at the version the optimize left

    commit_partition(db, clips.model, clips.video("v9", range(2)), ["v9"])
    assert len(tick(settled, after_optimize.cursor).run_requests) == 1
    # A cursor written by the previous sensor version ({model: requested version}) still reads.
    assert not tick(settled, json.dumps({clips.model: open_clip_table(db, clips.model).version})).run_requests
