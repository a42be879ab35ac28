"""Start a real `dagster-webserver` on our definitions for tests, and stop it whatever happens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pipeline.conftest import settings_for
from tests.pipeline.processes import stop
from video_assets.app.outcome import RunSummary
from video_assets.app.runner import run_folder
from video_assets.media.synthetic import make_video

WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def materialize_tiny_videos(root: Path, names: list[str]) -> RunSummary:
    """Generate tiny videos under root/videos and run the whole graph on them (DAGSTER_HOME must be set)."""
    for seed, name in enumerate(names, start=4):
        make_video(root / "videos" / name, duration_s=2.0, fps=12, size=(96, 64), seed=seed)
    return run_folder(settings_for(root / "videos", root / "data"), progress=lambda _: None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base_url: str, query: str, *, variables: dict | None = None, timeout_s: float = 30.0) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def _log_tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def _wait_until_loaded(server: subprocess.Popen, base_url: str, log: Path, deadline_s: float) -> None:
    """Poll until the code location is LOADED: the UI renders a spinner before that, not our assets."""
    started = time.monotonic()
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {server.returncode}:\n{_log_tail(log)}")
        try:
            entries = graphql(base_url, WORKSPACE_QUERY, timeout_s=10)["workspaceOrError"]["locationEntries"]
        except OSError:
            entries = []  # not listening yet
        errors = [
            e["locationOrLoadError"]["message"]
            for e in entries
            if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"
        ]
        if errors:
            raise RuntimeError(f"the code location failed to load: {errors[0]}")
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            return
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"dagster-webserver not ready after {deadline_s:.0f} s:\n{_log_tail(log)}")
        time.sleep(0.5)


@contextmanager
def running_webserver(dagster_home: Path, settings_path: Path, *, deadline_s: float = 90.0) -> Iterator[str]:
    """Serve video_assets.definitions on a free port; yields the base URL once the code location is loaded.

    The server's output goes to a log next to dagster_home (shown when it fails to start), and the
    process is terminated (killed if it ignores SIGTERM) when the block exits, however it exits.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "VIDEO_ASSETS_SETTINGS": str(settings_path)}
    log = dagster_home.parent / f"webserver-{port}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_webserver",
                "-m",
                "video_assets.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_loaded(server, base_url, log, deadline_s)
            yield base_url
        finally:
            stop(server, 30)
