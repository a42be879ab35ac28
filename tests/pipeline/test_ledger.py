"""The per-video ledger: a video is done only when its index rows landed, and a plain
`run` retries every video that is not, until none is failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.runner import run_folder
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.cli.main import main
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video
from video_assets.settings.config import FrameSettings
from video_assets.stages.engines import base as local_engine  # the frames step extracts through it

pytestmark = pytest.mark.slow


def _indexed_videos(data: Path) -> dict[str, int]:
    rows = open_clip_table(connect(str(data / "lancedb")), "fingerprint").to_arrow().column("video_id").to_pylist()
    return {v: rows.count(v) for v in set(rows)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    make_video(root / "a.mp4", duration_s=4.0, fps=12, size=(96, 64), seed=1)
    make_video(root / "b.mp4", duration_s=4.0, fps=12, size=(96, 64), seed=2)
    return root


def test_a_video_that_fails_after_its_probe_is_retried_until_done(folder, tmp_path, dagster_home, monkeypatch):
    data = tmp_path / "data"
    real = local_engine.extract_partition_frames

    def failing_for_b(clips, settings, writer, *signatures):  # a decode step that dies on b.mp4 only
        if any(p.endswith("b.mp4") for p in clips.column("source_path").to_pylist()):
            raise RuntimeError("simulated decoder crash")
        return real(clips, settings, writer, *signatures)

    monkeypatch.setattr(local_engine, "extract_partition_frames", failing_for_b)
    first = run_folder(settings_for(folder, data), progress=lambda _: None)
    registry = VideoRegistry(data / "registry.sqlite")
    b = registry.get(video_id_for("b.mp4"))
    assert b.status == "failed" and "simulated decoder crash" in b.error  # not "ok" because it probed
    assert registry.get(video_id_for("a.mp4")).status == "done"
    assert not first.complete and [v.rel_path for v in first.failed_videos] == ["b.mp4"]
    assert set(_indexed_videos(data)) == {video_id_for("a.mp4")}

    # Still failing: a plain run retries it (and only it), and still reports the failure.
    again = run_folder(settings_for(folder, data), progress=lambda _: None)
    assert [o.key for o in again.partitions] == [video_id_for("b.mp4")]
    assert not again.complete

    monkeypatch.setattr(local_engine, "extract_partition_frames", real)
    lines: list[str] = []
    fixed = run_folder(settings_for(folder, data), progress=lines.append)
    assert [o.key for o in fixed.partitions] == [video_id_for("b.mp4")]
    assert fixed.complete and registry.get(video_id_for("b.mp4")).status == "done"
    assert set(_indexed_videos(data)) == {video_id_for("a.mp4"), video_id_for("b.mp4")}
    assert any("b.mp4: ok: 2 of 2 clips indexed" in line for line in lines)
    # Nothing left: no partition runs, exit 0.
    assert run_folder(settings_for(folder, data), progress=lambda _: None).partitions == []


def test_the_cli_exit_code_stays_non_zero_while_a_video_is_failed(folder, tmp_path, dagster_home, capsys):
    data = tmp_path / "data"
    make_video(folder / "short.mp4", duration_s=0.5, fps=12, size=(96, 64), seed=3)
    args = ["run", "--input", str(folder), "--output", str(data), "--models", "fingerprint"]
    assert main(args) == 1
    out = capsys.readouterr().out
    # A video with no indexed clip is a failure, with the reason, never "ok (0 clips)".
    assert "short.mp4: FAILED: no clip planned: 0.50 s of video, shorter than the 2.0 s minimum clip" in out
    assert f"FAILED {folder / 'short.mp4'}" in out
    assert main(args) == 1  # retried, still failing
    (folder / "short.mp4").unlink()
    assert main(["remove", "--input", str(folder), "--output", str(data), "--models", "fingerprint"]) == 0
    assert main(args) == 0
    assert "every video is in the index" in capsys.readouterr().out


def test_dropped_clips_are_counted_with_their_reason(folder, tmp_path, dagster_home, monkeypatch):
    data = tmp_path / "data"
    real = local_engine.extract_partition_frames

    def drop_second_clip(clips, settings, writer, *signatures):  # the decoder loses the second clip of a.mp4
        summary = real(clips.slice(0, 1) if clips.num_rows > 1 else clips, settings, writer, *signatures)
        for clip in clips.slice(1).to_pylist():
            summary.dropped[clip["clip_id"]] = "decode failed: simulated"
        return summary

    monkeypatch.setattr(local_engine, "extract_partition_frames", drop_second_clip)
    lines: list[str] = []
    summary = run_folder(settings_for(folder, data), progress=lines.append)
    assert summary.complete  # partially decodable videos keep the clips that decode
    assert any("a.mp4: ok: 1 of 2 clips indexed; 1 dropped" in line for line in lines)
    assert any("dropped clip" in line and "frames: decode failed: simulated" in line for line in lines)
    assert _indexed_videos(data) == {video_id_for("a.mp4"): 1, video_id_for("b.mp4"): 1}


def test_a_changed_setting_or_model_makes_done_videos_pending_again(folder, tmp_path, dagster_home):
    data = tmp_path / "data"
    assert run_folder(settings_for(folder, data), progress=lambda _: None).complete
    assert run_folder(settings_for(folder, data), progress=lambda _: None).partitions == []
    changed = settings_for(folder, data, frames=FrameSettings(target_fps=(3.0,)))
    redo = run_folder(changed, progress=lambda _: None)
    assert len(redo.partitions) == 2 and redo.complete


def test_rehash_finds_content_changed_under_the_same_size_and_mtime(folder, tmp_path, dagster_home):
    data = tmp_path / "data"
    assert run_folder(settings_for(folder, data), progress=lambda _: None).complete
    path = folder / "a.mp4"
    stat = path.stat()
    blob = bytearray(path.read_bytes())
    blob[-8:] = bytes(8)  # same size, other content (the last bytes of the moov box)
    path.write_bytes(bytes(blob))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_folder(settings_for(folder, data), progress=lambda _: None).partitions == []  # the cheap check misses it
    lines: list[str] = []
    rehashed = run_folder(settings_for(folder, data), rehash=True, progress=lines.append)
    assert any("changed: a.mp4" in line for line in lines)
    assert [o.key for o in rehashed.partitions] == [video_id_for("a.mp4")]


def test_a_failed_ui_run_reaches_the_ledger_through_the_failure_sensor(folder, tmp_path, dagster_home, monkeypatch):
    import dagster as dg

    from video_assets.catalog.discovery import scan
    from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
    from video_assets.orchestration.resources.storage import StorageResource

    data = tmp_path / "data"
    settings = settings_for(folder, data)
    registry = VideoRegistry(data / "registry.sqlite")
    scan(settings, registry, seal_partial=True)
    key = video_id_for("b.mp4")

    def crash(clips, settings, writer, *signatures):
        raise RuntimeError("simulated decoder crash")

    monkeypatch.setattr(local_engine, "extract_partition_frames", crash)
    defs = build_definitions(settings)
    with dg.DagsterInstance.get() as instance:  # a run as the UI launches it: no runner around it
        instance.add_dynamic_partitions("videos", registry.partition_keys())
        run = defs.resolve_job_def(EMBED_JOB).execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )
        assert not run.success
        assert registry.get(key).status == "pending"  # nobody settled it yet
        sensor = next(s for s in defs.sensors if s.name == "failed_videos_to_ledger")
        failure = next(e for e in run.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run.dagster_run,
            dagster_event=failure,
            resources={"storage": StorageResource(data_dir=str(data))},
        ).for_run_failure()
        sensor(context)
    video = registry.get(key)
    assert video.status == "failed" and "frames: simulated decoder crash" in video.error
    assert registry.get(video_id_for("a.mp4")).status == "pending"  # another partition: untouched
