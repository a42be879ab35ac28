"""The graph with its LanceDB index on S3: a local S3 server (moto), the real runner, search.

LanceDB (its Rust object store) takes the endpoint, region, keys and plain-HTTP permission
from the usual AWS_* environment variables, as a deployment against S3 or MinIO would set them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from video_assets.app.runner import run_folder
from video_assets.catalog.registry import video_id_for
from video_assets.curation.query import search
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic import make_video

moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.slow

BUCKET = "video-assets-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access line per request otherwise
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def two_videos(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    for seed in (11, 12):
        make_video(folder / f"clip {seed}.mp4", duration_s=4.0, fps=24, size=(160, 120), seed=seed, pattern="moving")
    return folder


def _objects(endpoint: str, prefix: str) -> list[str]:
    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_graph_indexes_into_s3_searches_and_reruns_without_duplicates(s3_endpoint, two_videos, dagster_home, tmp_path):
    uri = f"s3://{BUCKET}/index"
    settings = settings_for(two_videos, tmp_path / "data", lancedb_uri=uri)

    first = run_folder(settings, progress=lambda _: None)
    assert [o.errors for o in first.partitions if not o.success] == []
    assert len(first.partitions) == 2
    # No local directory to lock: the pool of size 1 is the guard, and the metadata says so.
    assert {o.metadata["fingerprint_clip_index"]["commit_lock"] for o in first.partitions} == {"none"}
    # The table lives in the bucket, nothing of it on local disk.
    assert any(key.startswith("index/clips_fingerprint.lance/_versions/") for key in _objects(s3_endpoint, "index/"))
    assert not (tmp_path / "data" / "lancedb").exists()

    table = open_clip_table(connect(uri), "fingerprint")
    rows = table.to_arrow().select(["clip_id", "video_id"]).to_pylist()
    assert {r["video_id"] for r in rows} == {video_id_for("clip 11.mp4"), video_id_for("clip 12.mp4")}
    assert len(rows) == 4 and len({r["clip_id"] for r in rows}) == 4  # 2 videos x 2 clips of 2 s
    version = table.version

    # A search against the bucket: a video's own clips come first.
    hits = search(settings, like_file=two_videos / "clip 11.mp4")
    assert hits and hits[0].video_id == video_id_for("clip 11.mp4")
    assert hits[0].score > 0.99

    # A plain second run finds every video done: no partition runs, no commit.
    second = run_folder(settings, progress=lambda _: None)
    assert second.partitions == []
    assert open_clip_table(connect(uri), "fingerprint").version == version

    # Redoing everything replaces each partition's rows in place: no duplicates.
    third = run_folder(settings, rerun_all=True, progress=lambda _: None)
    assert len(third.partitions) == 2 and all(o.success for o in third.partitions)
    again = open_clip_table(connect(uri), "fingerprint").to_arrow().select(["clip_id"]).to_pylist()
    assert sorted(r["clip_id"] for r in again) == sorted(r["clip_id"] for r in rows)
