"""The whole graph through a real Dagster instance and a real LanceDB table."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.runner import run_folder
from video_assets.catalog.registry import video_id_for
from video_assets.cli.main import main
from video_assets.index.connection import connect, open_clip_table

pytestmark = pytest.mark.slow


def _rows(data_dir: Path) -> list[dict]:
    table = open_clip_table(connect(str(data_dir / "lancedb")), "fingerprint")
    return table.to_arrow().select(["clip_id", "video_id", "span_start_s"]).to_pylist()


def test_folder_runs_bad_files_fail_alone_and_rerun_is_idempotent(video_folder, dagster_home, tmp_path):
    data = tmp_path / "data"
    summary = run_folder(settings_for(video_folder, data), progress=lambda _: None)

    outcomes = {o.key: o for o in summary.partitions}
    assert len(outcomes) == 6
    bad_files = {video_id_for(name): name for name in ("notes.mp4", "empty.mp4")}
    bad = set(bad_files)
    assert {o.key for o in summary.failed} == bad
    for key, name in bad_files.items():
        assert name in " ".join(outcomes[key].errors)  # the error names the file
    good = [o for o in summary.partitions if o.success]
    assert all(o.metadata["clips"]["clips"] == 2 for o in good)
    frames_meta = [o.metadata["frames"] for o in good]
    assert all(
        m["storage"] == "raw" and 0 < m["file_bytes"] < m["payload_bytes"] for m in frames_meta
    )  # zstd shrinks raw

    rows = _rows(data)
    assert len(rows) == 8  # 4 good videos x 2 clips
    assert len({r["clip_id"] for r in rows}) == 8

    # The runs are real runs in the instance the UI reads.
    with dg.DagsterInstance.get() as instance:
        assert set(instance.get_dynamic_partitions("videos")) == set(outcomes)
        mats = instance.fetch_materializations(dg.AssetKey("fingerprint_clip_index"), limit=100).records
        assert {m.partition_key for m in mats} == {o.key for o in good}

    again = run_folder(settings_for(video_folder, data), rerun_all=True, progress=lambda _: None)
    assert {o.key for o in again.failed} == bad
    rows_again = _rows(data)
    assert sorted(r["clip_id"] for r in rows_again) == sorted(r["clip_id"] for r in rows)


def test_cli_search_finds_the_near_copy_first(video_folder, dagster_home, tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("VIDEO_ASSETS_SETTINGS", str(tmp_path / "s.json"))
    (tmp_path / "s.json").write_text(settings_for(video_folder, data).model_dump_json())
    assert main(["run", "--input", str(video_folder), "--output", str(data)]) == 1  # two bad files
    capsys.readouterr()

    original = video_id_for("scene 1.mp4")
    copy = video_id_for("copies/scene1_small.mp4")
    first_clip = next(r for r in _rows(data) if r["video_id"] == original and r["span_start_s"] == 0.0)
    assert main(["search", "--like-clip", first_clip["clip_id"], "--output", str(data), "--json", "-k", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["video_id"] == copy and hits[0]["span_start_s"] == 0.0
    assert hits[0]["score"] > hits[1]["score"]

    # Paging and the query plan: offset 1 is the same ranking shifted; explain shows the KNN.
    assert (
        main(
            [
                "search",
                "--like-clip",
                first_clip["clip_id"],
                "--output",
                str(data),
                "--json",
                "-k",
                "2",
                "--offset",
                "1",
                "--exact",
            ]
        )
        == 0
    )
    assert [h["clip_id"] for h in json.loads(capsys.readouterr().out)] == [h["clip_id"] for h in hits[1:3]]
    assert main(["search", "--like-clip", first_clip["clip_id"], "--output", str(data), "--explain"]) == 0
    assert "KNNVectorDistance" in capsys.readouterr().out

    assert (
        main(["search", "--like-file", str(video_folder / "scene 2.mp4"), "--output", str(data), "--json", "-k", "1"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["video_id"] == video_id_for("scene 2.mp4")

    assert main(["search", "a person riding a bike", "--model", "fingerprint", "--output", str(data)]) == 2
    assert "no text tower" in capsys.readouterr().err


def test_cli_remove_drops_a_deleted_video_from_the_index(tmp_path, dagster_home, capsys):
    from video_assets.media.synthetic import make_video

    folder = tmp_path / "videos"
    for seed in (5, 6):
        make_video(folder / f"v{seed}.mp4", duration_s=2.0, fps=12, size=(96, 64), seed=seed)
    data = tmp_path / "data"
    assert main(["run", "--input", str(folder), "--output", str(data), "--models", "fingerprint"]) == 0
    assert {r["video_id"] for r in _rows(data)} == {video_id_for("v5.mp4"), video_id_for("v6.mp4")}

    (folder / "v5.mp4").unlink()
    assert main(["remove", "--input", str(folder), "--output", str(data), "--models", "fingerprint"]) == 0
    assert video_id_for("v5.mp4") in capsys.readouterr().out
    assert {r["video_id"] for r in _rows(data)} == {video_id_for("v6.mp4")}


def test_transcoded_clip_files_are_indexed(tmp_path, dagster_home):
    from video_assets.media.probe import probe
    from video_assets.media.synthetic import make_video
    from video_assets.settings.config import ClippingSettings, Settings

    folder = tmp_path / "videos"
    make_video(folder / "talk.mp4", duration_s=3.0, fps=12, size=(96, 64), seed=9, audio=True)
    settings = Settings(
        input_dir=folder,
        data_dir=tmp_path / "data",
        enabled_models=("fingerprint",),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=0.5, transcode=True),
    )
    summary = run_folder(settings, progress=lambda _: None)
    assert not summary.failed
    table = open_clip_table(connect(str(tmp_path / "data" / "lancedb")), "fingerprint").to_arrow().to_pylist()
    assert len(table) == 2
    for row in table:
        clip = probe(row["clip_path"])  # a real, separate H.264 file per clip, audio kept
        assert Path(row["clip_path"]).parent.parent == tmp_path / "data" / "clips"
        assert clip.codec == "h264" and clip.has_audio
        assert clip.duration_s == pytest.approx(row["span_end_s"] - row["span_start_s"], abs=0.2)
