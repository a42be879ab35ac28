"""The index agrees with the ledger (issue 23): a table rolled back a commit (its newest manifest lost)
made a done video rowless while `run` said "every video is in the index"; rows of a video the registry
no longer knows (registry rebuilt after a deletion) stayed forever, and `remove <id>` said "unknown"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.runner import run_folder
from video_assets.catalog.registry import video_id_for
from video_assets.cli.main import main
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video

pytestmark = pytest.mark.slow


def _rows(data: Path) -> dict[str, int]:
    ids = open_clip_table(connect(str(data / "lancedb")), "fingerprint").to_arrow().column("video_id").to_pylist()
    return {v: ids.count(v) for v in set(ids)}


@pytest.fixture
def indexed(tmp_path: Path, dagster_home: Path) -> tuple[Path, Path]:
    folder, data = tmp_path / "videos", tmp_path / "data"
    for seed, name in enumerate(("a.mp4", "b.mp4")):
        make_video(folder / name, duration_s=2.0, fps=12, size=(64, 48), seed=seed)
    assert run_folder(settings_for(folder, data), progress=lambda _: None).complete
    return folder, data


def test_a_table_that_lost_its_newest_manifest_is_repaired_by_a_plain_run(indexed, capsys) -> None:
    folder, data = indexed
    before = _rows(data)
    versions = sorted((data / "lancedb" / "clips_fingerprint.lance" / "_versions").glob("*.manifest"))
    newest = min(versions, key=lambda p: int(p.stem))  # LanceDB names them so the newest sorts first
    newest.unlink()
    lost = set(before) - set(_rows(data))
    assert len(lost) == 1  # the table rolled back one commit: one video's rows are gone
    assert main(["verify", "--output", str(data), "--models", "fingerprint"]) == 1
    out = capsys.readouterr().out
    assert f"has 0 row(s) in clips_fingerprint, the ledger recorded {before[next(iter(lost))]}" in out
    lines: list[str] = []
    summary = run_folder(settings_for(folder, data), progress=lines.append)
    assert summary.complete and [v.video_id for v in summary.videos] == list(lost)
    assert any("has 0 row(s) in clips_fingerprint" in line and "it will be redone" in line for line in lines)
    assert _rows(data) == before
    assert main(["verify", "--output", str(data), "--models", "fingerprint"]) == 0
    assert "the index agrees with the ledger" in capsys.readouterr().out


def test_rows_of_a_video_the_rebuilt_registry_does_not_know_are_found_and_dropped(indexed, capsys) -> None:
    folder, data = indexed
    (data / "registry.sqlite").unlink()
    for extra in ("registry.sqlite-wal", "registry.sqlite-shm"):
        (data / extra).unlink(missing_ok=True)
    (folder / "b.mp4").unlink()
    gone = video_id_for("b.mp4")
    assert run_folder(settings_for(folder, data), progress=lambda _: None).complete  # a.mp4 registered anew
    assert main(["remove", gone, "--input", str(folder), "--output", str(data), "--models", "fingerprint"]) == 2
    err = capsys.readouterr().err
    assert "clips_fingerprint holds 1 row(s) of them" in err and "verify --drop-orphans" in err
    assert main(["verify", "--output", str(data), "--models", "fingerprint"]) == 1
    assert f"orphan: clips_fingerprint holds 1 row(s) of {gone}, unknown to the registry" in capsys.readouterr().out
    assert main(["verify", "--output", str(data), "--models", "fingerprint", "--drop-orphans"]) == 0
    assert set(_rows(data)) == {video_id_for("a.mp4")}
    assert main(["verify", "--output", str(data), "--models", "fingerprint"]) == 0
    shutil.rmtree(data / "lancedb")  # every table gone: verify still answers, run redoes a.mp4
    lines: list[str] = []
    assert run_folder(settings_for(folder, data), progress=lines.append).complete
    assert set(_rows(data)) == {video_id_for("a.mp4")}
