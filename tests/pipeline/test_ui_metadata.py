"""What a partition's metadata shows in the UI after `run`: thumbnails, clip tables, typed values;
and a description on every check, sensor and job."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.outcome import PartitionOutcome
from video_assets.app.runner import run_folder
from video_assets.media.frame_codec import decode_jpeg
from video_assets.media.synthetic import make_video
from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import ClippingSettings
from video_assets.stages.clip_report import span_label

DATA_URI = re.compile(r"!\[([^\]]*)\]\(data:image/jpeg;base64,([A-Za-z0-9+/=]+)\)")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[PartitionOutcome, Path]:
    root = tmp_path_factory.mktemp("meta")
    # 2.3 s in 1 s clips: the last one (0.3 s, ~4 frames at 12 fps) is too short for the fingerprint's 8.
    make_video(root / "videos" / "walk.mp4", duration_s=2.3, fps=12, size=(96, 64), seed=5)
    settings = settings_for(root / "videos", root / "data").model_copy(
        update={"clipping": ClippingSettings(clip_len_s=1.0, stride_s=1.0, min_clip_len_s=0.25)}
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(root / "home"))
        (root / "home").mkdir()
        summary = run_folder(settings, progress=lambda _: None)
    (outcome,) = summary.partitions
    assert outcome.success, outcome.errors
    return outcome, root


def _records(value) -> list[dict]:
    return [record.data for record in value.records]


def test_frames_show_a_thumbnail_strip_and_a_clip_table(run) -> None:
    outcome, root = run
    meta = outcome.metadata["frames"]
    clips = _records(meta["clip_table"])
    (stored,) = (root / "data" / "assets" / "clips").rglob("*.parquet")
    spans = [span_label(c["span_start_s"], c["span_end_s"]) for c in pq.read_table(stored).to_pylist()]
    assert [c["span"] for c in clips] == spans and len(spans) == 3 and spans[0] == "0.00–1.00 s"
    assert all(c["status"] == "kept" and c["frames"] > 0 for c in clips)
    images = DATA_URI.findall(meta["thumbnails"])
    assert [label for label, _ in images] == [c["span"] for c in clips]
    folder = Path(meta["thumbnails_dir"])
    assert folder == root / "data" / "assets" / "frames_thumbs" / outcome.key
    on_disk = {p.stem: p.read_bytes() for p in folder.iterdir()}
    assert sorted(on_disk.values()) == sorted(base64.b64decode(data) for _, data in images)
    # 64 px high frames keep their height (never upscaled); up to three frames side by side
    # (one signature here, so a clip's frame count is that signature's).
    for (_, data), clip in zip(images, clips):
        width = 96 * min(3, clip["frames"])
        assert decode_jpeg([base64.b64decode(data)], [1, 64, width, 3]).shape == (1, 64, width, 3)
    assert len(meta["thumbnails"]) < 100_000
    assert meta["dagster/row_count"] >= len(clips)


def test_tensors_list_the_skipped_clip_and_why(run) -> None:
    outcome, _ = run
    meta = outcome.metadata["fingerprint_tensors"]
    rows = _records(meta["clip_table"])
    # 1 s at 2 fps is too few for 8 frames: re-extracted at a higher rate; 0.3 s is too few even then.
    assert [r["status"] for r in rows] == ["re-extracted", "re-extracted", "skipped"]
    assert meta["reextracted_clips"] == 2 and all(r["fps"] > 2.0 and r["frames"] >= 8 for r in rows[:2])
    (skipped,) = meta["skipped"]
    assert rows[2]["reason"] and rows[2]["reason"] in skipped
    assert meta["dagster/row_count"] == 3


def test_source_videos_show_path_codec_size_and_plain_values(run) -> None:
    outcome, root = run
    meta = outcome.metadata["source_videos"]
    (video,) = _records(meta["video_table"])
    size = (root / "videos" / "walk.mp4").stat().st_size
    assert (video["path"], video["codec"], video["resolution"]) == ("walk.mp4", "h264", "96x64")
    assert video["size_mb"] == pytest.approx(size / 1e6, abs=0.005) and video["duration_s"] == pytest.approx(
        2.3, abs=0.1
    )
    # One video: its values, not one-element lists; rounded.
    assert meta["fps"] == pytest.approx(12.0) and meta["resolution"] == "96x64" and isinstance(meta["sha256"], str)
    assert meta["seconds"] == round(meta["seconds"], 2) and meta["dagster/row_count"] == 1


def test_every_check_sensor_and_job_has_a_description(tmp_path: Path) -> None:
    defs = build_definitions(settings_for(tmp_path / "in", tmp_path / "data"))
    graph = defs.resolve_asset_graph()
    specs = [spec for key in graph.asset_check_keys for spec in [graph.get_check_spec(key)]]
    assert specs and all(spec.description for spec in specs), [s.name for s in specs if not s.description]
    sensors = defs.sensors or []
    assert len(sensors) == 4 and all(s.description for s in sensors), [s.name for s in sensors if not s.description]
    jobs = [defs.resolve_job_def(name) for name in ("embed_videos", "remove_videos", "ask")]
    assert all(job.description for job in jobs)
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, key
    schemas = {
        k.to_user_string() for k in graph.get_all_asset_keys() if "dagster/column_schema" in graph.get(k).metadata
    }
    assert {"source_videos", "clips", "frames", "fingerprint_tensors", "fingerprint_embeddings"} <= schemas
