"""`video-assets ui` (webserver and daemon) for tests, and what the UI's buttons send it over GraphQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pipeline.ui_server import WORKSPACE_QUERY, free_port, graphql

PIPELINE = [
    "source_videos",
    "clips",
    "frames",
    "fingerprint_tensors",
    "fingerprint_embeddings",
    "fingerprint_clip_index",
]
LOCATION = "video_assets.definitions"
REPOSITORY = "__repository__"

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
    ... on PythonError { message }
  }
}
"""
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""
RUN_STATUS = """
query($id: ID!) {
  runOrError(runId: $id) { __typename ... on Run { status } }
}
"""
DONE_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
DONE_RUN = {"SUCCESS", "FAILURE", "CANCELED"}


def asset_keys(names: list[str]) -> list[dict]:
    return [{"path": [name]} for name in names]


def launch_backfill(base_url: str, assets: list[str], partitions: list[str]) -> str:
    """What the UI's "Launch backfill" sends for these assets and partitions; returns the backfill id."""
    params = {"assetSelection": asset_keys(assets), "partitionNames": partitions}
    result = graphql(base_url, LAUNCH_BACKFILL, variables={"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def launch_job_backfill(base_url: str, job: str, partitions: list[str]) -> str:
    """What "Launch backfill" on a job's Partitions page sends; returns the backfill id."""
    repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    params = {"selector": {"partitionSetName": f"{job}_partition_set", "repositorySelector": repository}}
    params["partitionNames"] = partitions
    result = graphql(base_url, LAUNCH_BACKFILL, variables={"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def launch_materialization(base_url: str, assets: list[str], partition: str) -> str:
    """What the UI's "Materialize" on one partition of these assets sends; returns the run id."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "pipelineName": "__ASSET_JOB",
            "assetSelection": asset_keys(assets),
        },
        "mode": "default",
        "runConfigData": "{}",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    result = graphql(base_url, LAUNCH_RUN, variables={"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def wait_for(base_url: str, query: str, variables: dict, field: str, done: set[str], deadline_s: float) -> str:
    started = time.monotonic()
    while True:
        status = graphql(base_url, query, variables=variables)[field].get("status")
        if status in done:
            return status
        assert time.monotonic() - started < deadline_s, f"{field} still {status} after {deadline_s:.0f} s"
        time.sleep(1.0)


@contextmanager
def running_ui(
    home: Path, videos: Path, data: Path, log: Path, *, deadline_s: float = 180.0, env_extra: dict | None = None
) -> Iterator[str]:
    """`video-assets ui` on a free loopback port (dg dev: webserver, daemon, code server); yields its URL
    once the code location is loaded, and stops the whole process group however the block ends."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(home), **(env_extra or {})}
    env.pop("VIDEO_ASSETS_SETTINGS", None)
    command = [sys.executable, "-m", "video_assets.cli", "ui", "--input", str(videos), "--output", str(data)]
    with log.open("wb") as out:
        ui = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = time.monotonic()
        while True:
            assert ui.poll() is None, f"video-assets ui exited with {ui.returncode}:\n{log.read_text()[-4000:]}"
            try:
                entries = graphql(base_url, WORKSPACE_QUERY, timeout_s=10)["workspaceOrError"]["locationEntries"]
            except OSError:
                entries = []
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                break
            assert time.monotonic() - started < deadline_s, (
                f"UI not loaded after {deadline_s:.0f} s:\n" + (log.read_text()[-4000:])
            )
            time.sleep(1.0)
        yield base_url
    finally:
        os.kill(ui.pid, signal.SIGTERM)  # video-assets ui stops dg dev's whole group
        try:
            ui.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            ui.wait(timeout=10)
