"""The Dagster UI's own path, end to end: a real webserver and daemon (`video-assets ui`), a backfill of
every partition launched as the UI's "Launch backfill" does, and one asset's "Materialize" on one partition.

What must hold: every good partition materialized, one index row per clip (partitions that were already
done are re-materialized, not duplicated), the ledger says done (and failed, with the reason, for a
broken file), every run ran its steps in one process (the in-process executor, as `video-assets run`),
and a single-asset materialization reads its upstream assets instead of recomputing them.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.check_header import check_states, ui_graphql
from tests.pipeline.conftest import settings_for
from tests.pipeline.ui_daemon import (
    BACKFILL_STATUS,
    DONE_BACKFILL,
    DONE_RUN,
    PIPELINE,
    RUN_STATUS,
    launch_backfill,
    launch_job_backfill,
    launch_materialization,
    running_ui,
    wait_for,
)
from video_assets.app.runner import run_folder
from video_assets.catalog.discovery import scan
from video_assets.catalog.registry import VideoRegistry
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_text_file_as_video

pytestmark = pytest.mark.slow


class UiWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.videos = root / "videos"
        self.data = root / "data"
        self.settings = settings_for(self.videos, self.data)
        self.base_url = ""
        self.backfill_id = ""
        self.backfill_status = ""

    def registry(self) -> VideoRegistry:
        return VideoRegistry(self.settings.paths.registry)

    def instance(self) -> dg.DagsterInstance:
        assert os.environ["DAGSTER_HOME"] == str(self.home)
        return dg.DagsterInstance.get()

    def clip_ids(self) -> list[str]:
        table = open_clip_table(connect(self.settings.paths.lancedb_uri), "fingerprint")
        return table.to_arrow().column("clip_id").to_pylist()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiWorld]:
    w = UiWorld(tmp_path_factory.mktemp("ui_backfill"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(w.home))
        mp.delenv("VIDEO_ASSETS_SETTINGS", raising=False)
        w.home.mkdir()
        for seed in (1, 2):  # indexed before the UI starts: the backfill re-materializes them
            make_video(w.videos / f"done {seed}.mp4", duration_s=3.0, fps=12, size=(96, 64), seed=seed)
        summary = run_folder(w.settings, progress=lambda _line: None)
        assert summary.complete
        # Registered only (as the UI's video sensor would): the backfill does their first run.
        make_video(w.videos / "new.mp4", duration_s=3.0, fps=12, size=(96, 64), seed=3)
        make_text_file_as_video(w.videos / "broken.mp4")
        scan(w.settings, w.registry(), seal_partial=True)
        with w.instance() as instance:
            instance.add_dynamic_partitions("videos", w.registry().partition_keys())
        with running_ui(w.home, w.videos, w.data, w.root / "ui.log") as base_url:
            w.base_url = base_url
            keys = w.registry().partition_keys()
            w.backfill_id = launch_backfill(base_url, PIPELINE, keys)
            w.backfill_status = wait_for(
                base_url, BACKFILL_STATUS, {"id": w.backfill_id}, "partitionBackfillOrError", DONE_BACKFILL, 420
            )
            yield w


def _by_name(world: UiWorld) -> dict[str, object]:
    return {Path(v.rel_path).stem: v for v in world.registry().all()}


def _backfill_runs(world: UiWorld) -> list[dg.DagsterRun]:
    with world.instance() as instance:
        return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": world.backfill_id})))


def test_backfill_materializes_every_good_partition_once_per_clip(world: UiWorld) -> None:
    videos = _by_name(world)
    runs = _backfill_runs(world)
    assert {r.tags["dagster/partition"] for r in runs} == {v.partition_key for v in videos.values()}
    status = {r.tags["dagster/partition"]: r.status for r in runs}
    for name in ("done 1", "done 2", "new"):
        assert status[videos[name].partition_key] == dg.DagsterRunStatus.SUCCESS, name
    assert status[videos["broken"].partition_key] == dg.DagsterRunStatus.FAILURE
    with world.instance() as instance:
        for name in ("done 1", "done 2", "new"):
            key = videos[name].partition_key
            for asset in PIPELINE:
                records = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=10
                ).records
                in_backfill = [r for r in records if r.run_id in {x.run_id for x in runs}]
                assert len(in_backfill) == 1, (name, asset)
    ids = world.clip_ids()
    assert ids and max(Counter(ids).values()) == 1  # re-materialized, never duplicated
    accounts = {a.rel_path: a for a in world.registry().all()}
    assert len(ids) == sum(1 for _ in ids)
    assert all(accounts[f"{n}.mp4"].status == "done" for n in ("done 1", "done 2", "new"))


def test_a_failed_partition_reaches_the_ledger_with_its_reason(world: UiWorld) -> None:
    """The failure sensor records UI runs too (it ran only for embed_videos before)."""
    deadline = time.monotonic() + 90
    while True:
        broken = _by_name(world)["broken"]
        if broken.status == "failed" or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert broken.status == "failed"
    assert "broken.mp4" in broken.error or "cannot open" in broken.error or "container" in broken.error


def test_every_backfill_run_executes_its_steps_in_one_process(world: UiWorld) -> None:
    """The in-process executor, as `video-assets run`: one process, so models load once per run."""
    with world.instance() as instance:
        for run in _backfill_runs(world):
            if run.status != dg.DagsterRunStatus.SUCCESS:
                continue
            starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            assert len(starts) == len(PIPELINE)
            assert len({s.dagster_event.pid for s in starts}) == 1, run.run_id
            engine = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            assert not any("multiprocess" in (e.dagster_event.message or "") for e in engine)


def test_materializing_one_partition_of_the_index_reads_its_upstream(world: UiWorld) -> None:
    key = _by_name(world)["new"].partition_key
    index = PIPELINE[-1]
    with world.instance() as instance:

        def latest(asset: str) -> str | None:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
            ).records
            return records[0].run_id if records else None

        before = {asset: latest(asset) for asset in PIPELINE}
    rows_before = sorted(world.clip_ids())
    run_id = launch_materialization(world.base_url, [index], key)
    status = wait_for(world.base_url, RUN_STATUS, {"id": run_id}, "runOrError", DONE_RUN, 240)
    assert status == "SUCCESS"
    with world.instance() as instance:
        after = {asset: latest(asset) for asset in PIPELINE}
        starts = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    assert after[index] == run_id
    assert {asset: after[asset] for asset in PIPELINE[:-1]} == {asset: before[asset] for asset in PIPELINE[:-1]}
    assert [s.dagster_event.step_key for s in starts] == [index]
    assert sorted(world.clip_ids()) == rows_before  # the same rows, committed again, not duplicated


def test_a_backfill_of_the_embed_job_records_checks_as_run_does(world: UiWorld, tmp_path: Path) -> None:
    """From the embed_videos job's page the runs plan no checks: the failed partition (run last) records no
    check evaluation, the good ones their results, and the check header shows a real evaluation."""
    broken = _by_name(world)["broken"].partition_key
    keys = sorted(world.registry().partition_keys(), key=lambda key: key == broken)
    backfill_id = launch_job_backfill(world.base_url, "embed_videos", keys)
    status = wait_for(
        world.base_url, BACKFILL_STATUS, {"id": backfill_id}, "partitionBackfillOrError", DONE_BACKFILL, 420
    )
    assert status in DONE_BACKFILL
    with world.instance() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        by_key = {r.tags["dagster/partition"]: r for r in runs}
        assert set(by_key) == set(keys) and by_key[broken].status == dg.DagsterRunStatus.FAILURE

        def events(run: dg.DagsterRun, kind: dg.DagsterEventType) -> list:
            return instance.all_logs(run.run_id, of_type=kind)

        assert not events(by_key[broken], dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
        assert not events(by_key[broken], dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        for key in set(keys) - {broken}:
            assert by_key[key].status == dg.DagsterRunStatus.SUCCESS
            assert len(events(by_key[key], dg.DagsterEventType.ASSET_CHECK_EVALUATION)) == 6  # one per check
        with ui_graphql(instance, world.data / "settings.json", tmp_path) as context:
            index = check_states(context, PIPELINE[-1])["index_rows_match"]
        assert index["latest"] == "SUCCEEDED" and index["partition"] != broken
