"""The fingerprint's duplicate groups on a generated corpus are exactly the planted ones; CLI and asset.

Originals are generated videos (`tests/models/fingerprint_corpus`), clipped on the 10 s
grid. Each planted copy is a clip-for-clip edit of one original (re-encode, half size,
15 % area crop, brightness, letterbox, a trim of half a second or of a whole clip);
two identical static clips stand for a repeated still; the remaining originals are the
distinct clips. Vectors go through the real fingerprint into a real LanceDB table.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import torch

from tests.clip_rows import clip_row
from tests.models import fingerprint_corpus as corpus
from video_assets.cli.main import main
from video_assets.curation.dup_read import groups, read_duplicates
from video_assets.curation.duplicates import default_threshold, update_duplicates
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.index.schema import rows_to_table
from video_assets.models.fingerprint import FingerprintEmbedder
from video_assets.orchestration.assets.duplicates import duplicates_asset
from video_assets.orchestration.resources.lancedb import LanceDBResource
from video_assets.orchestration.resources.storage import StorageResource

MODEL = "fingerprint"
EDITS = {
    "reencode": lambda f: corpus.reencode_h264(f, 32),
    "half_size": lambda f: corpus.resize_swscale(f, 60, 80),
    "crop_15pct_area": lambda f: corpus.crop(f, top=0.04, bottom=0.04, left=0.04, right=0.04),
    "brighter": lambda f: corpus.shift_brightness(f, 25),
    "letterbox": corpus.letterbox,
}


def _clip(video: str, vector: np.ndarray, start: float, end: float) -> dict:
    created = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return clip_row(video, start, end, vector, model_id="fingerprint", model_revision="test", created_at=created)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[frozenset[str]], int]:
    """A data dir whose fingerprint table holds originals, planted copies and distinct clips;
    the planted groups as sets of clip ids; the number of clips."""
    torch.set_num_threads(1)
    embedder = FingerprintEmbedder()
    data = tmp_path_factory.mktemp("dedup_data")
    db = connect(str(data / "lancedb"))
    originals = [corpus.SyntheticVideo(seed, duration_s=20.0) for seed in range(8)]
    spans = corpus.clip_spans(20.0)  # two 10 s clips per video
    videos: dict[str, list[tuple[np.ndarray, float, float, str]]] = {}  # video -> (frames, start, end, group key)
    for v, original in enumerate(originals):
        videos[f"orig{v}"] = [(original.frames(corpus.clip_times(a, b)), a, b, f"{v}:{a}") for a, b in spans]
    for v, (name, edit) in enumerate(EDITS.items()):  # one copy per edit, of originals 0-4
        videos[f"{name}{v}"] = [(edit(f), a, b, key) for f, a, b, key in videos[f"orig{v}"]]
    # Trims: a copy starting 0.5 s in (spans shift by half a second), one that is the second clip alone.
    half = [(originals[5].frames(0.5 + corpus.clip_times(a, b)), a, b, f"5:{a}") for a, b in spans]
    videos["trim_half_s5"] = half
    videos["trim_clip6"] = [(originals[6].frames(corpus.clip_times(10.0, 20.0)), 0.0, 10.0, "6:10.0")]
    still = np.full((20, corpus.HEIGHT, corpus.WIDTH, 3), 90, np.uint8)
    still[:, 30:90, 40:120] = (200, 40, 40)
    videos["still_a"] = [(still, 0.0, 10.0, "still")]
    videos["still_b"] = [(still.copy(), 0.0, 10.0, "still")]
    members: dict[str, set[str]] = {}
    for video, clips in videos.items():
        vectors = corpus.embed_clips(embedder, [c[0] for c in clips]).numpy()
        rows = [_clip(video, vec, a, b) for (_, a, b, _), vec in zip(clips, vectors)]
        commit_partition(db, MODEL, rows_to_table(rows, vectors.shape[1]), [video])
        for row, (_, _, _, key) in zip(rows, clips):
            members.setdefault(key, set()).add(row["clip_id"])
    truth = {frozenset(m) for m in members.values() if len(m) > 1}
    return data, truth, sum(len(c) for c in videos.values())


def test_groups_are_exactly_the_planted_ones(planted) -> None:
    data, truth, clips = planted
    result = update_duplicates(connect(str(data / "lancedb")), MODEL, data / "curation_test")
    found = {frozenset(c["clip_id"] for c in g.clips) for g in groups(read_duplicates(data / "curation_test", MODEL))}
    assert result.threshold == default_threshold(MODEL) and result.clips == clips
    assert len(truth) == 5 * 2 + 2 + 1 + 1  # edited copies of 2 clips each, 0.5 s trim, clip trim, still
    assert found == truth
    assert result.clips_marked == sum(len(g) - 1 for g in truth)


def test_cli_prints_groups_kept_first(planted, capsys: pytest.CaptureFixture[str]) -> None:
    data, truth, _ = planted
    assert main(["duplicates", "--model", MODEL, "--output", str(data), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["mode"] in ("full", "incremental") and len(printed["groups"]) == len(truth)
    for group in printed["groups"]:
        first, *rest = group["clips"]
        assert first["dup_keep"] and first["clip_id"] == group["group"] and not any(c["dup_keep"] for c in rest)
        assert all(c["sim_to_kept"] >= default_threshold(MODEL) for c in rest)
    assert main(["duplicates", "--model", MODEL, "--output", str(data), "--threshold", "0.999", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "cosine >= 0.999" in out and "full run" in out and "group 1 (2 clips):" in out  # only the identical stills
    assert "threshold 0.999 (--threshold)" in out
    # Issue 23: --limit -1 said "2 more group(s)" of the one group.
    assert main(["duplicates", "--model", MODEL, "--output", str(data), "--threshold", "0.999", "--limit", "-1"]) == 0
    out = capsys.readouterr().out
    total = int(out.split("): ", 1)[1].split(" group(s)", 1)[0])
    assert "group 1 (" not in out and f"... {total} more group(s)" in out


def test_asset_materializes_with_metadata(planted) -> None:
    data, truth, _ = planted
    asset = duplicates_asset(MODEL)
    resources = {"lancedb": LanceDBResource(uri=str(data / "lancedb")), "storage": StorageResource(data_dir=str(data))}
    result = dg.materialize([asset], resources=resources, selection=[asset])
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["groups"].value == len(truth)
    assert meta["threshold_origin"].value.startswith("calibrated for fingerprint-")
    assert "| cosine | pairs |" in meta["histogram"].value
