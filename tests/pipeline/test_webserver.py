"""The definitions load in a real dagster-webserver, which shows what the CLI materialized."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline.conftest import settings_for
from video_assets.media.synthetic import make_video
from video_assets.registry import video_id_for
from video_assets.runner import run_folder, write_settings

pytestmark = pytest.mark.slow

QUERY = """
{
  assetNodes { assetKey { path } }
  assetNodeOrError(assetKey: {path: ["fingerprint_clip_index"]}) {
    ... on AssetNode {
      partitionKeysByDimension { partitionKeys }
      assetMaterializations(limit: 10) { partition }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, deadline_s: float = 90.0) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())["data"]
        except OSError:
            if time.monotonic() - started > deadline_s:
                raise
            time.sleep(1.0)


def test_webserver_shows_the_graph_and_the_materialized_partition(tmp_path: Path, dagster_home: Path) -> None:
    make_video(tmp_path / "videos" / "walk.mp4", duration_s=2.0, fps=12, size=(96, 64), seed=4)
    settings = settings_for(tmp_path / "videos", tmp_path / "data")
    assert not run_folder(settings, progress=lambda _: None).failed
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "VIDEO_ASSETS_SETTINGS": str(write_settings(settings))}
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-m", "video_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        data = _graphql(port)
    finally:
        server.terminate()
        server.wait(timeout=30)
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    assert {"source_videos", "clips", "frames", "fingerprint_tensors", "fingerprint_embeddings",
            "fingerprint_clip_index"} <= keys  # fmt: skip
    node = data["assetNodeOrError"]
    assert node["partitionKeysByDimension"][0]["partitionKeys"] == [video_id_for("walk.mp4")]
    assert [m["partition"] for m in node["assetMaterializations"]] == [video_id_for("walk.mp4")]
