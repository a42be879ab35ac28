"""Thumbnail strips (stages/thumbnails.py) and the clip rows of the UI (stages/clip_report.py)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from video_assets.media.frame_codec import decode_jpeg
from video_assets.media.frames import ClipFrames
from video_assets.stages.clip_report import MAX_ROWS, frames_clip_rows, span_label, tensor_clip_rows
from video_assets.stages.clips import CLIP_SCHEMA
from video_assets.stages.thumbnails import ThumbnailStrips, strip_frames, strips_markdown, write_strips


def _frames(n: int, h: int = 120, w: int = 160) -> np.ndarray:
    # Frame i is filled with grey level 20 * i, so a strip shows which frames it took.
    return np.stack([np.full((h, w, 3), 20 * i, np.uint8) for i in range(n)])


def test_a_strip_takes_evenly_spaced_frames_scaled_to_the_height() -> None:
    strip = strip_frames(_frames(9), count=3, height=60)
    assert strip.shape == (60, 3 * 80, 3)  # 160x120 -> 80x60, three side by side
    assert [int(strip[30, 40 + 80 * k, 0]) for k in range(3)] == [0, 80, 160]  # frames 0, 4, 8


def test_a_strip_never_upscales_and_copes_with_fewer_frames_than_asked() -> None:
    strip = strip_frames(_frames(2, h=40, w=50), count=3, height=96)
    assert strip.shape == (40, 2 * 50, 3)
    with pytest.raises(ValueError):
        strip_frames(np.zeros((0, 8, 8, 3), np.uint8))


def test_strips_pick_the_richest_signature_and_decode_as_jpeg() -> None:
    strips = ThumbnailStrips(count=3, height=60)
    strips.add(
        "c0", {"middle-0": ClipFrames(_frames(1), np.zeros(1)), "sequence-2.0": ClipFrames(_frames(5), np.arange(5.0))}
    )
    (jpeg,) = strips.jpegs.values()
    decoded = decode_jpeg([jpeg], [1, 60, 240, 3])[0]
    assert abs(int(decoded[30, 200, 0]) - 80) <= 3  # the sequence's last frame (grey 80), not the middle one


def test_markdown_stays_under_its_budget_and_says_what_it_left_out(tmp_path: Path) -> None:
    jpeg = ThumbnailStrips(height=32)
    for i in range(6):
        jpeg.add(f"c{i}", {"s": ClipFrames(_frames(3), np.arange(3.0))})
    labelled = [(span_label(i, i + 1.0), data) for i, data in enumerate(jpeg.jpegs.values())]
    everything = strips_markdown(labelled)
    assert everything.shown == everything.total == 6 and "not shown" not in everything.text
    images = re.findall(r"!\[[^\]]*\]\(data:image/jpeg;base64,([A-Za-z0-9+/=]+)\)", everything.text)
    assert [base64.b64decode(i) for i in images] == list(jpeg.jpegs.values())
    assert "| 2.00–3.00 s |" in everything.text

    budget = len(everything.text) // 2
    half = strips_markdown(labelled, budget=budget, folder=tmp_path)
    assert 0 < half.shown < 6 and len(half.text.split("\n\n")[0]) <= budget
    assert f"{6 - half.shown} more clip(s) not shown" in half.text and str(tmp_path) in half.text


def test_written_strips_replace_the_earlier_set(tmp_path: Path) -> None:
    folder = tmp_path / "thumbs" / "p1"
    write_strips({"a": b"1", "b": b"2"}, folder)
    write_strips({"b": b"3"}, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {"b.jpg": b"3"}
    assert sorted(p.name for p in folder.parent.iterdir()) == ["p1"]  # no staging folder left


def _clips(n: int) -> pa.Table:
    rows = [
        {
            "clip_id": f"c{i}",
            "video_id": "v",
            "partition_key": "v",
            "source_path": "/x.mp4",
            "clip_index": i,
            "span_start_s": float(i),
            "span_end_s": i + 1.0,
            "duration_s": 1.0,
            "clip_path": None,
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)


def test_frames_rows_count_every_signature_and_name_drops() -> None:
    stored = pa.table({"clip_id": ["c0", "c0", "c2"], "timestamps": [[0.0, 0.5], [0.5], [2.0, 2.5, 3.0]]})
    rows = frames_clip_rows(_clips(3), stored, {"c1": "decode error"})
    assert [(r["span"], r["frames"], r["status"], r["reason"]) for r in rows] == [
        ("0.00–1.00 s", 3, "kept", ""),
        ("1.00–2.00 s", 0, "dropped", "decode error"),
        ("2.00–3.00 s", 3, "kept", ""),
    ]
    assert len(frames_clip_rows(_clips(MAX_ROWS + 5), stored, {})) == MAX_ROWS


def test_tensor_rows_tell_kept_reextracted_and_skipped_apart() -> None:
    made = pa.table({"clip_id": ["c0", "c1"], "num_frames": [8, 12], "fps": [2.0, 6.0], "reextracted": [False, True]})
    rows = tensor_clip_rows(_clips(3), made, {"c2": "no decoded frames"})
    assert [(r["status"], r["frames"], r["fps"], r["reason"]) for r in rows] == [
        ("kept", 8, 2.0, ""),
        ("re-extracted", 12, 6.0, ""),
        ("skipped", 0, 0.0, "no decoded frames"),
    ]
