"""`video-assets ui` starts this interpreter's Dagster, whatever is on PATH; `--version` answers."""

from __future__ import annotations

import os
import sys

import pytest

from video_assets import cli


def test_ui_runs_dagster_dev_with_this_interpreter(tmp_path, dagster_home, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((path, argv, env)))
    monkeypatch.setenv("PATH", "/nonexistent")  # a bare `dagster` would not be found
    cli.main(["ui", "--output", str(tmp_path / "data"), "--port", "3999"])
    [(path, argv, env)] = calls
    assert path == sys.executable and argv[:4] == [sys.executable, "-m", "dagster", "dev"]
    assert argv[-2:] == ["-p", "3999"]
    assert env["DAGSTER_HOME"] == str(dagster_home) and env["VIDEO_ASSETS_SETTINGS"].endswith("settings.json")


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("video-assets ")
