"""The browse JSON API over a real data dir (`run` + `duplicates`): same answers and messages as the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.pipeline.browse_data import BROKEN, GOOD, MODEL
from video_assets.app.browse.server import create_app
from video_assets.catalog.registry import video_id_for
from video_assets.cli.main import main
from video_assets.curation.dup_read import groups, read_duplicates
from video_assets.settings.options import settings_from_options

pytestmark = pytest.mark.slow

ORIGINAL, COPY = video_id_for(GOOD[0]), video_id_for(GOOD[2])
CLIPS = 2 * len(GOOD)


@pytest.fixture(scope="module")
def client(browse_data: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_from_options("browse", output=browse_data))) as test_client:
        yield test_client


def cli_json(capsys: pytest.CaptureFixture, *argv: str) -> object:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def cli_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """The message the CLI prints for bad input (exit 2), without its `video-assets CMD: error: ` prefix."""
    capsys.readouterr()
    assert main(list(argv)) == 2
    return capsys.readouterr().err.strip().split(": error: ", 1)[1]


def test_clips_pages_are_the_cli_pages(client: TestClient, browse_data: Path, capsys) -> None:
    first = client.get("/api/clips", params={"limit": 4}).json()
    second = client.get("/api/clips", params={"limit": 4, "offset": 4}).json()
    assert first["total"] == second["total"] == CLIPS
    ids = [r["clip_id"] for r in first["rows"] + second["rows"]]
    assert len(first["rows"]) == 4 and len(ids) == len(set(ids)) == CLIPS
    cli = cli_json(capsys, "clips", "--output", str(browse_data), "--limit", "4", "--offset", "4", "--json")
    assert [r["clip_id"] for r in second["rows"]] == [r["clip_id"] for r in cli["rows"]]
    row = first["rows"][0]
    assert row["thumb_url"] == f"/media/thumb/{row['video_id']}/{row['clip_id']}.jpg"
    assert "vector" not in row and "dup_keep" in row  # curation columns beside the index's


def test_the_filter_reads_the_curation_columns(client: TestClient, browse_data: Path, capsys) -> None:
    where = "dup_keep = false"
    answer = client.get("/api/clips", params={"where": where}).json()
    assert answer["total"] >= 1
    assert {r["video_id"] for r in answer["rows"]} == {COPY}  # the near copy's clips are the dropped ones
    cli = cli_json(capsys, "clips", "--output", str(browse_data), "--where", where, "--json")
    assert [r["clip_id"] for r in answer["rows"]] == [r["clip_id"] for r in cli["rows"]]
    # No filters were materialized: the note the CLI prints says why reason(...) matches nothing.
    noted = client.get("/api/clips", params={"where": "reason('static')"}).json()
    assert noted["total"] == 0 and any("no clip filters" in n for n in noted["notes"]), noted["notes"]


@pytest.mark.parametrize(
    ("api", "params", "argv"),
    [
        ("/api/clips", {"where": "nope = 1"}, ["clips", "--where", "nope = 1"]),
        ("/api/clips", {"where": "duration_s >"}, ["clips", "--where", "duration_s >"]),
        ("/api/search", {"like": "no-such-clip"}, ["search", "--like-clip", "no-such-clip"]),
        ("/api/search", {"q": "a dog"}, ["search", "a dog"]),
        ("/api/search", {}, ["search"]),
        ("/api/clips", {"limit": "0"}, ["clips", "--limit", "0"]),
    ],
    ids=["unknown-column", "malformed-filter", "unknown-clip", "no-text-tower", "no-query", "bad-limit"],
)
def test_bad_input_answers_4xx_with_the_cli_message(
    client: TestClient, browse_data: Path, capsys, api: str, params: dict, argv: list[str]
) -> None:
    response = client.get(api, params=params)
    assert 400 <= response.status_code < 500
    assert response.json() == {"error": cli_error(capsys, *argv, "--output", str(browse_data))}


def test_an_unknown_clip_is_404_and_a_missing_data_dir_too(client: TestClient, tmp_path: Path, capsys) -> None:
    assert client.get("/api/search", params={"like": "no-such-clip"}).status_code == 404
    missing = tmp_path / "no-data"
    with TestClient(create_app(settings_from_options("browse", output=missing))) as other:
        for api in ("/api/clips", "/api/videos", "/api/info"):
            response = other.get(api)
            assert response.status_code == 404
            assert response.json() == {"error": cli_error(capsys, "clips", "--output", str(missing))}
    # The command refuses it before taking a port, with the same message.
    assert cli_error(capsys, "browse", "--output", str(missing)) == response.json()["error"]
    assert not missing.exists()  # browsing never creates a data dir
    assert client.get("/api/nothing").status_code == 404


def test_more_like_this_finds_the_near_copy_first(client: TestClient, browse_data: Path, capsys) -> None:
    rows = client.get("/api/clips", params={"where": f"video_id = '{ORIGINAL}' AND span_start_s = 0"}).json()["rows"]
    (clip,) = rows
    answer = client.get("/api/search", params={"like": clip["clip_id"], "k": 3}).json()
    hits = answer["hits"]
    assert hits[0]["video_id"] == COPY and hits[0]["span_start_s"] == 0.0
    assert hits[0]["score"] > hits[1]["score"] and clip["clip_id"] not in {h["clip_id"] for h in hits}
    cli = cli_json(capsys, "search", "--like-clip", clip["clip_id"], "-k", "3", "--output", str(browse_data), "--json")
    assert [(h["clip_id"], h["score"]) for h in hits] == [(h["clip_id"], h["score"]) for h in cli]
    assert hits[0]["video_url"] == f"/media/video/{COPY}"


def test_duplicate_groups_have_the_kept_clip_first(client: TestClient, browse_data: Path) -> None:
    answer = client.get("/api/duplicates").json()
    stored = groups(read_duplicates(browse_data / "curation", MODEL))
    assert answer["total"] == len(stored) >= 1 and answer["model"] == MODEL and float(answer["threshold"]) > 0
    assert [g["group"] for g in answer["groups"]] == [g.group for g in stored]
    for group in answer["groups"]:
        kept, *rest = group["clips"]
        assert kept["dup_keep"] and kept["clip_id"] == group["group"] and not any(c["dup_keep"] for c in rest)
        assert all(0 < c["sim_to_kept"] <= 1 for c in rest) and group["size"] == len(group["clips"])
    assert {c["video_id"] for g in answer["groups"] for c in g["clips"]} == {ORIGINAL, COPY}


def test_clusters_cover_every_clip_and_each_is_a_filter(client: TestClient) -> None:
    answer = client.get("/api/clusters").json()
    sizes = {c["cluster_id"]: c["size"] for c in answer["clusters"]}
    assert sum(sizes.values()) == CLIPS
    for cluster_id, size in sizes.items():
        listed = client.get("/api/clips", params={"where": f"cluster_id = {cluster_id}"}).json()
        assert listed["total"] == size


def test_videos_by_status_with_each_failure_reason_and_file(client: TestClient) -> None:
    failed = client.get("/api/videos", params={"status": "failed"}).json()
    assert failed["counts"] == {"pending": 0, "done": len(GOOD), "failed": 1, "missing": 0, "settled": 0}
    (video,) = failed["videos"]
    assert video["video_id"] == video_id_for(BROKEN) and video["path"].endswith(BROKEN)
    assert "cannot open as a video" in video["reason"]
    assert video["path"] not in video["reason"]  # the reason, as `run` prints it beside the file
    done = client.get("/api/videos", params={"status": "done", "limit": 2}).json()
    assert done["total"] == len(GOOD) and len(done["videos"]) == 2
    assert all(v["reason"] is None for v in done["videos"])
    bad = client.get("/api/videos", params={"status": "gone"})
    assert bad.status_code == 400 and "unknown status 'gone'" in bad.json()["error"]


def test_media_serves_registered_files_only_with_ranges(client: TestClient, browse_data: Path) -> None:
    row = client.get("/api/clips", params={"limit": 1}).json()["rows"][0]
    thumb = client.get(row["thumb_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:3] == b"\xff\xd8\xff"
    video = client.get(row["video_url"], headers={"Range": "bytes=100-199"})
    assert video.status_code == 206 and video.headers["content-type"] == "video/mp4"
    assert video.content == Path(row["source_path"]).read_bytes()[100:200]
    assert client.get(f"/media/video/{video_id_for(BROKEN)}").status_code == 200  # registered, if unreadable
    assert client.get("/media/video/not-registered").status_code == 404
    dots = client.get(f"/media/thumb/{row['video_id']}/%2e%2e")
    assert dots.status_code == 400 and "not a clip id" in dots.json()["error"]
    escape = client.get(f"/media/thumb/{row['video_id']}/..%2F..%2Fsettings.json")
    assert escape.status_code == 404 and escape.content != (browse_data / "settings.json").read_bytes()
    assert client.get(f"/media/thumb/{row['video_id']}/no-such-clip.jpg").status_code == 404
