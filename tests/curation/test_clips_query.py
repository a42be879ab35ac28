"""`video-assets clips --where`: clips listed by condition from a real LanceDB clip table."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from video_assets.cli.main import main
from video_assets.curation.clip_list import list_clips, scored_texts
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.index.errors import InvalidFilterError, InvalidSearchError
from video_assets.index.schema import rows_to_table

MODEL = "tiny"
DIM = 8
TEXTS = ("a dog", "a bike")


def _row(video: str, index: int, dog: float | None) -> dict:
    start = 5.0 * index
    end = start + 2.0 + index % 3  # durations 2, 3, 4
    vector = np.zeros(DIM, np.float32)
    vector[index % DIM] = 1.0
    return {
        "clip_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}:{start}:{end}")),
        "video_id": video,
        "partition_key": f"p-{video}",
        "source_path": f"/videos/{video}.mp4",
        "span_start_s": start,
        "span_end_s": end,
        "vector": vector,
        "model_id": "test/tiny",
        "model_revision": "r1",
        "text_match": None if dog is None else ("a dog" if dog >= 0.5 else "a bike"),
        "text_match_prob": None if dog is None else max(dog, 1 - dog),
        "text_scores": None if dog is None else {"a dog": dog, "a bike": 1 - dog},
        "created_at": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
    }


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir whose index holds 'b' (committed first) and 'a': 7 + 6 clips, some unscored."""
    for name in ("VIDEO_ASSETS_SETTINGS", "VIDEO_ASSETS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    db = connect(str(data / "lancedb"))
    for video, count in (("b", 7), ("a", 6)):
        rows = [_row(video, i, None if i == 3 else round(0.1 + 0.13 * i, 2)) for i in range(count)]
        commit_partition(db, MODEL, rows_to_table(rows, DIM), [video])
    return data


def _all_rows(data: Path) -> list[dict]:
    rows = connect(str(data / "lancedb")).open_table(f"clips_{MODEL}").search().limit(None).to_arrow().to_pylist()
    for row in rows:
        row["text_scores"] = json.loads(row["text_scores"]) if row["text_scores"] else None
    return rows


def _in_order(rows: list[dict]) -> list[str]:
    return [r["clip_id"] for r in sorted(rows, key=lambda r: (r["source_path"], r["span_start_s"], r["clip_id"]))]


CASES = {
    None: lambda r: True,
    "duration_s >= 3 AND video_id = 'a'": lambda r: r["duration_s"] >= 3 and r["video_id"] == "a",
    "text_score('a dog') > 0.5": lambda r: r["text_scores"] is not None and r["text_scores"]["a dog"] > 0.5,
    "text_score('a bike') >= 0.6 OR text_score('a dog') IS NULL": lambda r: (
        r["text_scores"] is None or r["text_scores"]["a bike"] >= 0.6
    ),
}


@pytest.mark.parametrize("where", CASES, ids=[str(w) for w in CASES])
def test_lists_exactly_the_matching_clips_in_path_then_span_order(data_dir, where):
    expected = _in_order([r for r in _all_rows(data_dir) if CASES[where](r)])
    assert 0 < len(expected) <= 13
    listing = list_clips(connect(str(data_dir / "lancedb")), MODEL, where=where, limit=1000)
    assert listing.total == len(expected)
    assert [r["clip_id"] for r in listing.rows] == expected
    assert all("vector" not in r for r in listing.rows)


def test_pages_partition_the_listing(data_dir):
    db = connect(str(data_dir / "lancedb"))
    whole = [r["clip_id"] for r in list_clips(db, MODEL, limit=1000).rows]
    pages = [list_clips(db, MODEL, limit=4, offset=offset) for offset in range(0, 16, 4)]
    assert [r["clip_id"] for page in pages for r in page.rows] == whole
    assert [len(page.rows) for page in pages] == [4, 4, 4, 1] and {page.total for page in pages} == {13}
    # Video 'a' sorts first although it was committed second.
    assert whole[0] == _in_order(_all_rows(data_dir))[0] and pages[0].rows[0]["video_id"] == "a"


def test_a_text_nobody_scored_is_named(data_dir):
    db = connect(str(data_dir / "lancedb"))
    listing = list_clips(db, MODEL, where="text_score('a dgo') > 0.1 OR text_score('a dog') > 2")
    assert listing.total == 0 and listing.unscored_texts == ["a dgo"]
    assert sorted(scored_texts(db, MODEL)) == sorted(TEXTS)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"where": "duration_s > 3; DROP TABLE clips_tiny"}, InvalidFilterError),
        ({"where": "text_score(video_id) > 1"}, InvalidFilterError),
        ({"limit": 0}, InvalidSearchError),
        ({"limit": 1001}, InvalidSearchError),
        ({"offset": -1}, InvalidSearchError),
    ],
)
def test_bad_requests_are_refused(data_dir, kwargs, error):
    with pytest.raises(error):
        list_clips(connect(str(data_dir / "lancedb")), MODEL, **kwargs)


def test_cli_json_and_text(data_dir, capsys):
    where = "text_score('a dog') > 0.5"
    assert main(["clips", "--where", where, "--model", MODEL, "--output", str(data_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = _in_order([r for r in _all_rows(data_dir) if CASES[where](r)])
    assert [r["clip_id"] for r in out["rows"]] == expected and out["total"] == len(expected)
    assert all(r["text_scores"]["a dog"] > 0.5 for r in out["rows"])

    assert main(["clips", "--where", where, "--model", MODEL, "--output", str(data_dir), "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{len(expected)} clip(s) of {MODEL} match; 1-2 shown"
    assert expected[0] in lines[1] and "a dog=0." in lines[1]
    assert lines[-1].strip() == f"... {len(expected) - 2} more: --offset 2"


def test_cli_errors_are_one_line(data_dir, capsys):
    assert main(["clips", "--where", "video_id = 'a' OR 1=1", "--model", MODEL, "--output", str(data_dir)]) == 2
    assert "invalid filter at character 18" in capsys.readouterr().err
    assert main(["clips", "--model", "nope", "--output", str(data_dir)]) == 2
    err = capsys.readouterr().err
    # A --model typo is named as such, with the registered models, not "materialize that model's clip_index".
    assert "no clip table 'clips_nope'" in err and "unknown embedder 'nope'" in err and "fingerprint" in err, err
    assert "materialize" not in err and "\n" not in err.strip(), err
    # A registered model without a table yet keeps the advice to materialize it.
    assert main(["clips", "--model", "fingerprint", "--output", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "no clip table 'clips_fingerprint'" in err and "materialize" in err and "unknown" not in err, err
    assert main(["clips", "--where", "text_score('a cat') > 0", "--model", MODEL, "--output", str(data_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("0 clip(s)") and "no clip of tiny has a score for 'a cat'" in captured.err
