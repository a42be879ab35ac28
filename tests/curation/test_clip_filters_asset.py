"""`<model>_clip_filters` on real videos through the pipeline, a real Dagster instance and the curation sensor.

Three generated videos go through `run_folder` (fingerprint, 2 s clips): a moving scene,
a re-encode of it (each of its clips a near-duplicate) and a still picture (its two
clips identical: a duplicate group of their own).
The curation sensor is then ticked by hand against the same instance, and what it requests
is materialized there, as the daemon would: duplicates once the table settled, then the
filters of each video, then only the videos whose duplicate flags a new duplicates run changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.progress_calls import on_terminal
from video_assets.app.runner import run_folder
from video_assets.catalog.registry import video_id_for
from video_assets.cli.main import main
from video_assets.curation.filter_run import indexed_clips
from video_assets.index.connection import connect
from video_assets.media.synthetic import make_video
from video_assets.media.synthetic_damaged import make_near_copy
from video_assets.orchestration.assets.clip_filters import clip_filters_assets
from video_assets.orchestration.assets.curation_sensor import build_curation_sensor
from video_assets.orchestration.assets.duplicates import duplicates_asset
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import PartitionedParquetIOManager, StorageResource
from video_assets.settings.config import ClippingSettings, Settings
from video_assets.settings.filters import FilterSettings

pytestmark = pytest.mark.slow
MODEL = "fingerprint"
FILTERS = FilterSettings()
# The re-encoded 2 s clips of a 128x96 video score 0.77-0.99 against their originals (one pair
# under the fingerprint's 0.85) and unrelated clips here stay under 0.4, so 0.70 groups exactly
# the pairs: what is tested is the filters' use of the groups, not the fingerprint's recall.
DUPS_070 = {"ops": {f"{MODEL}_duplicates": {"config": {"threshold": 0.70, "full": True}}}}


def make_still(path: Path, *, seconds: float = 4.0, fps: int = 12) -> Path:
    """An H.264 video of one unchanging picture (a gradient with a box)."""
    picture = np.zeros((64, 96, 3), np.uint8)
    picture[..., 0] = np.linspace(30, 220, 96, dtype=np.uint8)[None, :]
    picture[20:40, 30:60] = (200, 180, 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for _ in range(int(seconds * fps)):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    """(settings, instance, resources, partition key per video name) after the pipeline ran."""
    root = tmp_path_factory.mktemp("filters")
    folder = root / "videos"
    make_video(folder / "moving.mp4", duration_s=4.0, fps=12, size=(128, 96), seed=3)
    make_near_copy(folder / "moving.mp4", folder / "copy.mp4", crf=23)
    make_still(folder / "still.mp4")
    settings = Settings(
        input_dir=folder,
        data_dir=root / "data",
        enabled_models=(MODEL,),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=1.0),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        for name in ("VIDEO_ASSETS_SETTINGS", "VIDEO_ASSETS_DATA_DIR"):
            patch.delenv(name, raising=False)
        summary = run_folder(settings, progress=lambda _: None)
        assert not summary.failed
        data = settings.data_dir.resolve()
        resources = {
            "storage": StorageResource(data_dir=str(data)),
            "lancedb": LanceDBResource(uri=str(data / "lancedb")),
            "io_manager": PartitionedParquetIOManager(base_dir=str(data / "assets")),
        }
        keys = {name: _partition_of(data, name) for name in ("moving.mp4", "copy.mp4", "still.mp4")}
        with dg.DagsterInstance.get() as instance:
            yield data, instance, resources, keys


def _partition_of(data: Path, name: str) -> str:
    from video_assets.catalog.registry import VideoRegistry

    registry = VideoRegistry(data / "registry.sqlite")
    wanted = video_id_for(name)
    return next(k for k in registry.partition_keys() if any(v.video_id == wanted for v in registry.videos_in(k)))


def _tick(sensor: dg.SensorDefinition, instance, resources, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def _run(request: dg.RunRequest, instance, resources, config: dict | None = None) -> dg.ExecuteInProcessResult:
    (key,) = request.asset_selection
    assets = {a.key: a for a in [duplicates_asset(MODEL), *clip_filters_assets([MODEL], FILTERS)]}
    result = dg.materialize(
        [assets[key]], instance=instance, resources=resources, partition_key=request.partition_key, run_config=config
    )
    assert result.success
    return result


def _decisions(data: Path) -> dict[str, dict]:
    table = pq.ParquetDataset(data / "assets" / f"{MODEL}_clip_filters").read().to_pylist()
    return {row["clip_id"]: row for row in table}


def test_sensor_runs_duplicates_then_each_video_then_only_changed_videos(pipeline) -> None:
    data, instance, resources, keys = pipeline
    sensor = build_curation_sensor([MODEL], settle_after_seconds=0)
    lancedb = {"lancedb": resources["lancedb"], "storage": resources["storage"]}

    first = _tick(sensor, instance, lancedb, None)
    assert [r.asset_selection for r in first.run_requests] == [[dg.AssetKey(f"{MODEL}_duplicates")]]
    _run(first.run_requests[0], instance, resources, DUPS_070)

    second = _tick(sensor, instance, lancedb, first.cursor)
    assert {r.partition_key for r in second.run_requests} == set(keys.values())  # every video, once
    by_partition = {}
    for request in second.run_requests:
        (event,) = _run(request, instance, resources).get_asset_materialization_events()
        by_partition[request.partition_key] = event.materialization.metadata
    third = _tick(sensor, instance, lancedb, second.cursor)
    assert third.run_requests == [] and third.skip_reason

    # What the filters decided, per video: the still video is static, one of each copy pair a duplicate.
    rows = _decisions(data)
    by_video: dict[str, list[dict]] = {}
    for row in rows.values():
        by_video.setdefault(row["video_id"], []).append(row)
    still, moving, copy = (by_video[video_id_for(n)] for n in ("still.mp4", "moving.mp4", "copy.mp4"))
    assert len(still) == len(moving) == len(copy) == 2
    assert all("static" in r["filter_reasons"] and r["motion"] < FILTERS.static_below for r in still)
    assert sorted(bool(r["duplicate"]) for r in still) == [False, True]
    assert all(r["motion"] > 2 * FILTERS.static_below for r in moving + copy)
    duplicates = [r for r in moving + copy if r["duplicate"]]
    assert len(duplicates) == 2 and all(r["filter_reasons"] == ["duplicate"] for r in duplicates)
    assert {r["video_id"] for r in moving + copy if not r["duplicate"]} == {r["video_id"] for r in duplicates}  # pairs
    assert all(not r["filter_keep"] for r in duplicates + still)
    meta = by_partition[keys["still.mp4"]]
    assert meta["dagster/row_count"].value == 2 and meta["reason/static"].value == 2 and meta["kept"].value == 0
    assert meta["duplicates"].value == "joined"
    marked = {keys[n] for n in ("moving.mp4", "copy.mp4") if any(r["duplicate"] for r in by_video[video_id_for(n)])}

    # A duplicates run at 0.999 keeps only the identical still clips together: only the videos whose
    # clips were marked rerun (not the still video, whose flags stay), and no copy is a duplicate any more.
    config = {"ops": {f"{MODEL}_duplicates": {"config": {"threshold": 0.999, "full": True}}}}
    _run(dg.RunRequest(asset_selection=[dg.AssetKey(f"{MODEL}_duplicates")]), instance, resources, config)
    fourth = _tick(sensor, instance, lancedb, third.cursor)
    assert {r.partition_key for r in fourth.run_requests} == marked and keys["still.mp4"] not in marked
    for request in fourth.run_requests:
        _run(request, instance, resources)
    after = _decisions(data).values()
    assert [r["video_id"] for r in after if r["duplicate"]] == [video_id_for("still.mp4")]
    assert _tick(sensor, instance, lancedb, fourth.cursor).run_requests == []


def test_clips_and_export_read_the_filter_decisions(pipeline, tmp_path: Path, capsys) -> None:
    data, instance, resources, keys = pipeline
    _run(dg.RunRequest(asset_selection=[dg.AssetKey(f"{MODEL}_duplicates")]), instance, resources, DUPS_070)
    for partition in keys.values():
        _run(
            dg.RunRequest(partition_key=partition, asset_selection=[dg.AssetKey(f"{MODEL}_clip_filters")]),
            instance,
            resources,
        )
    base = ["--model", MODEL, "--output", str(data)]

    def listed(where: str) -> set[str]:
        assert main(["clips", "--where", where, "--json", *base]) == 0
        return {row["video_id"] for row in json.loads(capsys.readouterr().out)["rows"]}

    still, moving, copy = (video_id_for(n) for n in ("still.mp4", "moving.mp4", "copy.mp4"))
    assert listed("reason('static')") == {still}
    assert listed("reason('static') = false AND filter_keep = true") <= {moving, copy}
    pair = {moving, copy}
    assert listed(f"dup_keep = false AND video_id IN ('{moving}', '{copy}')") | listed("filter_keep = true") == pair
    assert listed("motion < 0.004 OR reason('duplicate')") == {still} | listed("dup_keep = false")
    assert main(["export", *base, "--out", str(tmp_path / "kept"), "--format", "jsonl", "--kept-only"]) == 0
    kept = [json.loads(line) for line in (tmp_path / "kept" / "clips.jsonl").read_text().splitlines()]
    assert len(kept) == 2 and all(r["filter_keep"] and r["dup_keep"] and r["filter_reasons"] == [] for r in kept)
    assert {r["video_id"] for r in kept} <= {moving, copy} and "left out 4 clip(s)" in capsys.readouterr().out
    assert main(["export", *base, "--out", str(tmp_path / "all"), "--where", "reason('static')"]) == 0
    exported = pq.read_table(tmp_path / "all" / "clips.parquet").to_pylist()
    assert {r["video_id"] for r in exported} == {still} and all(r["motion"] is not None for r in exported)


def test_filters_command_runs_stale_videos_or_all(pipeline, capsys) -> None:
    data, instance, resources, keys = pipeline
    base = ["filters", "--model", MODEL, "--output", str(data), "--json"]
    _run(dg.RunRequest(asset_selection=[dg.AssetKey(f"{MODEL}_duplicates")]), instance, resources, DUPS_070)
    capsys.readouterr()  # that run's Dagster log
    assert main(base) == 0
    captured = capsys.readouterr()
    stale = json.loads(captured.out)  # whatever the earlier tests left: flags now follow DUPS_070
    assert captured.err == ""  # --json: no bar
    assert main(base) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["videos_run"] == 0 and again["failed"] == {}  # nothing stale after a run
    assert main([*base, "--all"]) == 0
    everything = json.loads(capsys.readouterr().out)
    rows = _decisions(data).values()
    assert everything["videos_run"] == len(keys) and everything["clips"] == len(rows) == 6
    assert everything["reasons"] == {r: sum(r in row["filter_reasons"] for row in rows) for r in everything["reasons"]}
    assert everything["reasons"]["static"] == 2 and everything["reasons"]["duplicate"] == 3
    assert everything["kept"] == 2 and stale["kept"] == 2
    # The runs read as what they are in the UI's run list, not as `__ephemeral_asset_job__`.
    # (This module's own helper runs use dg.materialize; the command's runs are named.)
    named = instance.get_runs(dg.RunsFilter(job_name=f"filter_clips_{MODEL}"))
    assert len(named) >= stale["videos_run"] + everything["videos_run"] and everything["videos_run"] > 0


def test_filters_command_draws_a_bar_on_a_terminal_only(pipeline, monkeypatch, capsys) -> None:
    data, _, _, keys = pipeline
    base = ["filters", "--model", MODEL, "--output", str(data), "--all"]
    assert main(base) == 0
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal
    for extra, drawn in (([], True), (["--quiet"], False)):
        code, err = on_terminal(monkeypatch, [*base, *extra])
        assert code == 0
        assert ("filter: 100%" in err and f"{len(keys)}/{len(keys)}" in err) is drawn and (err == "") is not drawn, err


def test_filters_command_names_a_partition_it_could_not_filter(pipeline, capsys) -> None:
    data, _, _, keys = pipeline
    frames = data / "assets" / "frames" / f"{keys['still.mp4']}.parquet"
    aside = frames.with_name("aside.bin")
    frames.rename(aside)
    try:
        assert main(["filters", "--model", MODEL, "--output", str(data), "--all"]) == 1
    finally:
        aside.rename(frames)
    out = capsys.readouterr().out.splitlines()
    failed = [line for line in out if line.startswith("failed:")]
    assert len(failed) == 1 and keys["still.mp4"] in failed[0] and str(frames) in failed[0]
    assert out[0].startswith(f"{MODEL}: filters run for 3 of 3 partition(s)")


def test_a_second_data_dir_on_one_instance_filters_what_its_files_lack(pipeline, tmp_path: Path, capsys) -> None:
    """The user trial: `filters --output data2` recorded the partitions' filters in the shared instance, then
    `filters --output data` (no file for them) ran none of them and a `filter_keep` where-clause silently left
    their clips out. Due is read from this data directory's files, and a gap is named, not silent."""
    data, _, _, keys = pipeline
    assert main(["filters", "--model", MODEL, "--output", str(data), "--all", "--json"]) == 0  # instance: all filtered
    kept = json.loads(capsys.readouterr().out)["kept"]  # the still video's clips are all dropped (static)
    other = tmp_path / "data2"
    shutil.copytree(data, other)
    shutil.rmtree(other / "assets" / f"{MODEL}_clip_filters")  # data2: indexed, never filtered here
    frames = other / "assets" / "frames" / f"{keys['still.mp4']}.parquet"
    frames.rename(frames.with_name("aside.bin"))  # the still video's filters fail: its clips stay without a result
    capsys.readouterr()
    base = ["--model", MODEL, "--output", str(other)]
    assert main(["filters", *base]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert "records fingerprint_clip_filters runs for 3 partition(s) with no filters file in" in captured.err
    still = sorted(indexed_clips(connect(str(other / "lancedb")), MODEL)[keys["still.mp4"]])
    assert out[0].startswith(f"{MODEL}: filters run for 3 of 3 partition(s); {kept} of 6 clips kept")
    # Its partition failed: the advice is that failure's (filters again fails the same way).
    gap = f"; 2 clip(s) have no filter result yet ({', '.join(still)}): see the failed partition(s) below"
    assert out[0].endswith(gap), out[0]

    assert main(["clips", "--where", "filter_keep = false", *base]) == 0
    err = capsys.readouterr().err
    assert "note: 2 clip(s) have no filter result yet" in err, err
    export = [
        "export",
        *base,
        "--out",
        str(tmp_path / "dropped"),
        "--format",
        "jsonl",
        "--where",
        "filter_keep = false",
    ]
    assert main(export) == 0
    err = capsys.readouterr().err
    assert "; 2 clip(s) have no filter result, so --where could not decide on them" in err, err

    frames.with_name("aside.bin").rename(frames)
    assert main(["filters", *base, "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert "runs for 1 partition(s) with no filters file" in captured.err  # the still video's, before this run
    assert (
        summary["videos_run"] == 1
        and summary["kept"] == kept
        and summary["without_filter_result"] == []
        and summary["clips"] == 6
    )
    assert main(["filters", *base]) == 0
    captured = capsys.readouterr()
    line = captured.out.splitlines()[0]
    assert captured.err == ""  # every file is here now: no note
    assert (
        line.startswith(f"{MODEL}: filters run for 0 of 3 partition(s); {kept} of 6 clips kept")
        and "no filter" not in line
    )
    assert main(["clips", "--where", "filter_keep = false", *base]) == 0
    assert "no filter result" not in capsys.readouterr().err


def test_sensor_runs_a_partition_whose_filters_file_is_not_in_its_data_dir(pipeline, capsys) -> None:
    """The instance records the partition's filters (as after a run for another data dir); the file is not here."""
    data, instance, resources, keys = pipeline
    sensor = build_curation_sensor([MODEL], settle_after_seconds=0)
    lancedb = {"lancedb": resources["lancedb"], "storage": resources["storage"]}
    _run(dg.RunRequest(asset_selection=[dg.AssetKey(f"{MODEL}_duplicates")]), instance, resources, DUPS_070)
    assert main(["filters", "--model", MODEL, "--output", str(data), "--all", "--json"]) == 0
    capsys.readouterr()
    settled = _tick(sensor, instance, lancedb, None)
    assert settled.run_requests == []
    (data / "assets" / f"{MODEL}_clip_filters" / f"{keys['copy.mp4']}.parquet").unlink()
    assert _tick(sensor, instance, lancedb, settled.cursor).run_requests == []  # nothing moved: files not re-read
    # A filters run recorded in the instance (as `filters --output data2` records one) makes the sensor look again.
    filters = dg.RunRequest(partition_key=keys["moving.mp4"], asset_selection=[dg.AssetKey(f"{MODEL}_clip_filters")])
    _run(filters, instance, resources)
    gap = _tick(sensor, instance, lancedb, settled.cursor)
    assert [r.partition_key for r in gap.run_requests] == [keys["copy.mp4"]]
    _run(gap.run_requests[0], instance, resources)
    assert _tick(sensor, instance, lancedb, gap.cursor).run_requests == []


def test_a_damaged_frames_part_advises_what_fixes_it(pipeline, capsys) -> None:
    """Issue 23: a damaged frames Parquet part made `filters` fail and advise running `filters` again, which
    failed the same way: the advice is the command that rewrites the part."""
    data, _, _, keys = pipeline
    frames = data / "assets" / "frames" / f"{keys['still.mp4']}.parquet"
    good = frames.read_bytes()
    frames.write_bytes(good[: len(good) // 2])
    try:
        assert main(["filters", "--model", MODEL, "--output", str(data), "--all"]) == 1
    finally:
        frames.write_bytes(good)
    out = capsys.readouterr().out
    (failed,) = [line for line in out.splitlines() if line.startswith("failed:")]
    assert keys["still.mp4"] in failed and str(frames) in failed and "cannot be read" in failed
    assert f"`video-assets run --all --input {data.parent / 'videos'} --output {data}` rewrites it" in failed
    assert "run `video-assets filters`" not in out  # the gap note, when earlier results leave one, defers to it
