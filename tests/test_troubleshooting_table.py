"""README's Troubleshooting table quotes what the code prints: each quoted symptom is
matched against the message the code really produces for that case."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from video_assets.catalog.ledger import VideoAccount, no_clip_reason
from video_assets.media.errors import VideoReadError
from video_assets.media.probe import probe
from video_assets.media.synthetic_damaged import make_audio_only
from video_assets.models.oom import GpuOutOfMemoryError
from video_assets.models.weights_preflight import preflight_weights
from video_assets.settings.config import ClippingSettings, Settings
from video_assets.stages.clips import CLIP_SCHEMA, clip_plans

README = Path(__file__).resolve().parents[1] / "README.md"


def _symptoms() -> list[str]:
    text = README.read_text()
    table = text.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return [snippet for row in rows for snippet in re.findall(r"`([^`]+)`", row.split(" | ")[0])]


def _pattern(symptom: str) -> re.Pattern[str]:
    """A quoted symptom as a pattern: `…` stands for the parts that vary."""
    return re.compile(".*?".join(re.escape(part.strip()) for part in symptom.split("…")))


def _matching(fragment: str) -> str:
    found = [s for s in _symptoms() if fragment in s]
    assert found, f"README's Troubleshooting table has no row quoting {fragment!r}"
    return found[0]


def test_the_short_video_row(tmp_path):
    sources = pa.table({"video_id": ["v"], "duration_s": [0.5], "path": ["v.mp4"]})
    plans = clip_plans(sources, CLIP_SCHEMA.empty_table(), ClippingSettings())
    account = VideoAccount("v", "v.mp4", "/v.mp4", "failed", None, planned=0, plan_reason=plans["v"][1])
    assert _pattern(_matching("no clip planned")).search("FAILED: " + no_clip_reason(account))


def test_the_out_of_memory_row():
    error = GpuOutOfMemoryError(indices=[3], ids=["clip-a"], device=torch.device("cuda:0"), gpu_memory_gb=10)
    assert _pattern(_matching("out of memory on")).search(str(error))


def test_the_weights_row(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(data_dir=tmp_path / "data", enabled_models=("internvideo2",))
    [problem] = preflight_weights(settings)
    assert _pattern(_matching("are not available")).search(str(problem))


def test_the_no_video_stream_row(tmp_path):
    path = make_audio_only(tmp_path / "song.mp4")
    with pytest.raises(VideoReadError) as caught:
        probe(path)
    assert _pattern(_matching("no video stream")).search("FAILED: " + str(caught.value))  # the per-video line
    assert str(path) in str(caught.value)  # and it names the file
