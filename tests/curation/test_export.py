"""`video-assets export` and `<model>_export`: a real LanceDB clip table over generated videos, exported in
every format and read back (pyarrow, tarfile + numpy, json)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

import av
import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.progress_calls import ProgressCalls, on_terminal
from video_assets.catalog.run_owner import RunOwner, owner_tags, process_start_time
from video_assets.cli.main import main
from video_assets.curation import export_formats
from video_assets.curation.dup_read import DUP_COLUMNS
from video_assets.curation.duplicates import update_duplicates
from video_assets.curation.export import DUP_TYPES, export_clips
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.index.schema import rows_to_table
from video_assets.media.clipping import ClipSpan
from video_assets.media.synthetic import make_video
from video_assets.media.transcode import transcode_clip
from video_assets.orchestration.assets.export import export_asset
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource

MODEL = "tiny"
DIM = 8


@pytest.fixture(autouse=True)
def _no_env_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VIDEO_ASSETS_SETTINGS", "VIDEO_ASSETS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    """Data dir with videos 'a' and 'b', two 1 s clips each; a's first clip has a clip file; b's first clip
    repeats a's first vector (one duplicate group). Returns (data dir, {clip_id: row}); no duplicates file yet."""
    root = tmp_path_factory.mktemp("export")
    data = root / "data"
    db = connect(str(data / "lancedb"))
    rows: dict[str, dict] = {}
    for video, axes in (("a", (0, 1)), ("b", (0, 2))):
        source = make_video(root / f"{video}.mp4", duration_s=2.0, fps=10, size=(64, 48), seed=ord(video))
        video_rows = []
        for n, axis in enumerate(axes):
            span = ClipSpan(float(n), float(n + 1))
            clip_path = None
            if video == "a" and n == 0:
                clip_path = str(transcode_clip(source, span, data / "clips" / "a0.mp4"))
            vector = np.zeros(DIM, np.float32)
            vector[axis] = 1.0
            row = {
                "clip_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}:{n}")),
                "video_id": video,
                "partition_key": f"p-{video}",
                "source_path": str(source),
                "span_start_s": span.start_s,
                "span_end_s": span.end_s,
                "clip_path": clip_path,
                "vector": vector,
                "model_id": "test/tiny",
                "model_revision": "r1",
                "text_match": "a dog" if n == 0 else None,
                "text_match_prob": 0.8 if n == 0 else None,
                "text_scores": {"a dog": 0.8, "a bike": 0.2} if n == 0 else None,
                "created_at": datetime(2024, 5, 1, tzinfo=timezone.utc),
            }
            video_rows.append(row)
            rows[row["clip_id"]] = row
        commit_partition(db, MODEL, rows_to_table(video_rows, DIM), [video])
    return data, rows


def _dedup(data: Path) -> None:
    update_duplicates(connect(str(data / "lancedb")), MODEL, data / "curation", threshold=0.99)


def _export(data: Path, out: Path, *extra: str) -> int:
    return main(["export", "--model", MODEL, "--output", str(data), "--out", str(out), *extra])


def _manifest(out: Path) -> dict:
    return json.loads((out / "export.json").read_text())


def test_formats_round_trip_without_duplicates_file(index, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, rows = index
    assert not (data / "curation").exists()
    # parquet
    assert _export(data, tmp_path / "pq", "--format", "parquet") == 0
    assert "no duplicates file for tiny" in capsys.readouterr().err
    table = pq.read_table(tmp_path / "pq" / "clips.parquet")
    got = {r["clip_id"]: r for r in table.to_pylist()}
    assert set(got) == set(rows) and _manifest(tmp_path / "pq")["duplicates"] == "absent"
    for clip_id, row in rows.items():
        np.testing.assert_array_equal(np.asarray(got[clip_id]["vector"], np.float32), row["vector"])
        assert got[clip_id]["dup_keep"] is None and got[clip_id]["dup_group"] is None
        assert got[clip_id]["text_match"] == row["text_match"] and got[clip_id]["source_path"] == row["source_path"]
    # jsonl
    assert _export(data, tmp_path / "jl", "--format", "jsonl") == 0
    lines = [json.loads(line) for line in (tmp_path / "jl" / "clips.jsonl").read_text().splitlines()]
    assert {r["clip_id"] for r in lines} == set(rows)
    for line in lines:
        assert line["vector"] == rows[line["clip_id"]]["vector"].tolist()
        assert line["text_scores"] == rows[line["clip_id"]]["text_scores"]
    # webdataset: 4 samples in shards of 3 -> 00000.tar (3) and 00001.tar (1)
    assert _export(data, tmp_path / "wds", "--format", "webdataset", "--shard-size", "3") == 0
    assert "1 clip file(s), 3 cut from sources" in capsys.readouterr().out
    shards = sorted(p.name for p in (tmp_path / "wds").iterdir() if p.suffix == ".tar")
    assert shards == ["00000.tar", "00001.tar"] and not list((tmp_path / "wds").glob(".*"))
    seen = []
    for shard in shards:
        with tarfile.open(tmp_path / "wds" / shard) as tar:
            names = tar.getnames()
            keys = list(dict.fromkeys(n.split(".", 1)[0] for n in names))
            assert names == [f"{k}.{s}" for k in keys for s in ("mp4", "json", "npy")]  # a sample's members together
            for key in keys:
                meta = json.loads(tar.extractfile(f"{key}.json").read())
                vector = np.load(io.BytesIO(tar.extractfile(f"{key}.npy").read()))
                assert meta["clip_id"] == key and "vector" not in meta
                assert vector.dtype == np.float32 and np.array_equal(vector, rows[key]["vector"])
                assert meta["mp4_from"] == ("clip_file" if rows[key]["clip_path"] else "source_span")
                with av.open(io.BytesIO(tar.extractfile(f"{key}.mp4").read())) as clip:
                    frames = sum(1 for _ in clip.decode(video=0))
                assert 8 <= frames <= 11  # one second at 10 fps
                seen.append(key)
    assert sorted(seen) == sorted(rows) and len(shards) == len(_manifest(tmp_path / "wds")["files"])


def test_where_and_kept_only(index, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = shutil.copytree(index[0], tmp_path / "data")  # a copy: the duplicates file stays out of the others
    rows = index[1]
    out = tmp_path / "out"
    # --kept-only without a duplicates file: refused, nothing written.
    assert _export(data, out, "--kept-only") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--kept-only needs tiny's duplicate groups" in err and not out.exists()
    _dedup(data)
    assert _export(data, out, "--format", "jsonl", "--kept-only") == 0
    kept = [json.loads(line) for line in (out / "clips.jsonl").read_text().splitlines()]
    a0, b0 = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"{v}:0")) for v in "ab")
    winner = min(a0, b0)  # same duration, no source facts: the smaller clip id is kept
    assert {r["clip_id"] for r in kept} == set(rows) - ({a0, b0} - {winner})
    assert all(r["dup_keep"] and r["cluster_id"] is not None for r in kept)
    # The same directory again (an earlier export: replaced), now every clip, filtered by --where.
    assert _export(data, out, "--format", "parquet", "--where", "video_id = 'a' AND text_score('a dog') > 0.5") == 0
    table = pq.read_table(out / "clips.parquet").to_pylist()
    assert [r["clip_id"] for r in table] == [a0] and not (out / "clips.jsonl").exists()
    assert table[0]["dup_group"] == winner and table[0]["group_size"] == 2
    assert _manifest(out)["duplicates"] == "joined"
    assert tuple(DUP_TYPES) == DUP_COLUMNS  # the export carries every column dup_read knows


def test_bad_arguments_give_one_line_and_exit_2(index, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, _ = index
    cases = [
        (["--format", "csv"], "unknown export format 'csv'"),
        (["--model", "nosuch"], "no clip table 'clips_nosuch'"),
        (["--where", "nonsense ="], "error:"),
        (["--shard-size", "0"], "shard size must be a positive integer"),
        # libx264 would fail mid-export with a traceback (negative) or clamp to 51 silently (above).
        (["--format", "webdataset", "--crf", "-5"], "crf must be an integer in 0..51"),
        (["--format", "webdataset", "--crf", "99"], "crf must be an integer in 0..51"),
    ]
    for extra, message in cases:
        argv = ["export", "--model", MODEL, "--output", str(data), "--out", str(tmp_path / "x"), *extra]
        assert main(argv) == 2, extra
        err = capsys.readouterr().err.strip()
        assert not (tmp_path / "x").exists(), extra  # refused before anything is written
        assert message in err and "\n" not in err, err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    assert _export(data, tmp_path / "full") == 2
    assert "not empty and holds no earlier export" in capsys.readouterr().err
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"


def test_asset_materializes_with_metadata(index) -> None:
    data, rows = index
    asset = export_asset(MODEL)
    resources = {"lancedb": LanceDBResource(uri=str(data / "lancedb")), "storage": StorageResource(data_dir=str(data))}
    config = {"ops": {f"{MODEL}_export": {"config": {"format": "jsonl"}}}}
    result = dg.materialize([asset], resources=resources, selection=[asset], run_config=config)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["rows"].value == len(rows) and meta["files"].value == 1 and meta["format"].value == "jsonl"
    lines = (data / "exports" / MODEL / "jsonl" / "clips.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["clip_id"] for line in lines) == sorted(rows)


def test_a_failed_export_leaves_the_earlier_one(index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, _ = index
    out = tmp_path / "out"
    assert _export(data, out, "--format", "webdataset", "--shard-size", "1", "--where", "clip_path IS NOT NULL") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def dies_on_third_clip(row, scratch, *, crf):
        calls.append(row["clip_id"])
        if len(calls) == 3:
            raise OSError("disk gone")
        return b"mp4", True

    monkeypatch.setattr(export_formats, "_clip_bytes", dies_on_third_clip)
    assert _export(data, out, "--format", "webdataset", "--shard-size", "1") == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and len(before) == 2  # 00000.tar + manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp dir, no half shard left beside it


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "webdataset"])
def test_progress_reads_then_writes_every_clip(index, tmp_path: Path, fmt: str) -> None:
    data, rows = index
    calls = ProgressCalls()
    db = connect(str(data / "lancedb"))
    result = export_clips(db, MODEL, tmp_path / fmt, fmt=fmt, data_dir=data, shard_size=3, on_progress=calls)
    assert calls.phases() == ["read", "write"] and calls.total("write") == result.rows == len(rows)
    if fmt == "webdataset":  # a step per sample: cutting a span from its source is the slow part
        assert [d for p, d, _ in calls if p == "write"] == list(range(len(rows) + 1))


def test_the_cli_draws_bars_on_a_terminal_only(index, tmp_path: Path, monkeypatch, capsys) -> None:
    data, _ = index
    base = ["export", "--model", MODEL, "--output", str(data), "--out", str(tmp_path / "out"), "--format", "jsonl"]
    assert main(base) == 0
    assert "%|" not in capsys.readouterr().err  # pytest's stderr is no terminal: the note line only
    for extra, drawn in (([], True), (["--quiet"], False), (["--json"], False)):
        code, err = on_terminal(monkeypatch, [*base, *extra])
        assert code == 0
        assert ("read: 100%" in err and "write: 100%" in err and "4/4" in err) is drawn, err
        assert ("%|" in err) is drawn and ("--json" not in extra or err == ""), err  # --json: the JSON alone


def test_a_killed_exports_temp_dir_is_removed_by_the_next_export(index, tmp_path: Path) -> None:
    data, _ = index
    out = tmp_path / "out"
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs (reaped)

    def leftover(pid: int, host: str, pid_start: str = "") -> Path:
        tmp = tmp_path / f".out.{pid}.tmp"
        tmp.mkdir()
        (tmp / "00000.mp4").write_bytes(b"partial")
        (tmp / ".owner.json").write_text(json.dumps(owner_tags(RunOwner(host, pid, pid_start))))
        return tmp

    dead = leftover(gone.pid, socket.gethostname())
    alive = leftover(os.getppid(), socket.gethostname(), process_start_time(os.getppid()) or "")
    elsewhere = leftover(gone.pid + 1, "another-host")
    no_owner = tmp_path / f".out.{gone.pid + 2}.tmp"
    no_owner.mkdir()
    other_out = tmp_path / f".other.{gone.pid}.tmp"
    shutil.copytree(dead, other_out)

    assert _export(data, out, "--format", "jsonl") == 0
    assert not dead.exists()  # its owner is gone: removed
    assert alive.exists() and elsewhere.exists() and no_owner.exists() and other_out.exists()
    assert not (out / ".owner.json").exists()  # the owner file does not travel into the export


def test_export_replaces_only_what_it_wrote(index, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Issue 23: a folder with someone else's export.json, or an export with a file the user added, is refused
    and left as it was; an export of ours holding only its own files is replaced."""
    data, _ = index
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "export.json").write_text('{"files": ["main.py"], "version": 3}')
    (project / "src" / "main.py").write_text("print('mine')")
    assert _export(data, project) == 2
    err = capsys.readouterr().err
    assert "export.json that video-assets export did not write" in err and str(project) in err
    assert (project / "src" / "main.py").read_text() == "print('mine')"
    assert json.loads((project / "export.json").read_text())["version"] == 3

    out = tmp_path / "out"
    assert _export(data, out, "--format", "jsonl") == 0
    assert _manifest(out)["format_id"] == "video-assets-export/1" and _manifest(out)["files"] == ["clips.jsonl"]
    (out / "notes.txt").write_text("my notes")
    assert _export(data, out, "--format", "parquet") == 2
    err = capsys.readouterr().err
    assert "1 entry the earlier export did not write (notes.txt)" in err
    assert (out / "notes.txt").read_text() == "my notes" and (out / "clips.jsonl").exists()
    (out / "notes.txt").unlink()
    assert _export(data, out, "--format", "parquet") == 0  # only its own files: replaced
    assert sorted(p.name for p in out.iterdir()) == ["clips.parquet", "export.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]  # nothing left beside it


def test_export_to_dot_is_the_current_directory(
    index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Issue 23: `export --out .` failed with "PosixPath('.') has an empty name"."""
    data, rows = index
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert _export(data, Path("."), "--format", "jsonl") == 0
    assert len((here / "clips.jsonl").read_text().splitlines()) == len(rows)
    (here / "mine.txt").write_text("x")
    assert _export(data, Path("."), "--format", "jsonl") == 2
    err = capsys.readouterr().err
    assert "mine.txt" in err and "PosixPath" not in err and (here / "mine.txt").exists()
