"""The definitions load in a real dagster-webserver, which shows what the CLI materialized."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.ui_daemon import PIPELINE
from tests.pipeline.ui_server import graphql, materialize_tiny_videos, running_webserver
from video_assets.catalog.registry import video_id_for

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


def test_webserver_shows_the_graph_and_the_materialized_partition(tmp_path: Path, dagster_home: Path) -> None:
    summary = materialize_tiny_videos(tmp_path, ["walk.mp4"])
    assert not summary.failed
    with running_webserver(dagster_home, summary.settings_path) as base_url:
        data = graphql(base_url, QUERY)
    keys = {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}
    assert set(PIPELINE) <= keys  # the six pipeline assets of the fingerprint model
    node = data["assetNodeOrError"]
    assert node["partitionKeysByDimension"][0]["partitionKeys"] == [video_id_for("walk.mp4")]
    assert [m["partition"] for m in node["assetMaterializations"]] == [video_id_for("walk.mp4")]
