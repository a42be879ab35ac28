"""`video-assets ui` starts this interpreter's Dagster, whatever is on PATH; `--version` answers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from video_assets import cli


def test_ui_runs_dagster_dev_with_this_interpreter(tmp_path, dagster_home, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((path, argv, env)))
    monkeypatch.setenv("PATH", "/nonexistent")  # a bare `dagster` would not be found
    cli.main(["ui", "--output", str(tmp_path / "data"), "--port", "3999"])
    [(path, argv, env)] = calls
    dg = Path(sys.executable).parent / "dg"  # dagster-dg-cli (the dev extra) beside this interpreter
    expected = [str(dg), "dev"] if dg.is_file() else [sys.executable, "-m", "dagster", "dev"]
    assert path == expected[0] and argv[: len(expected)] == expected
    assert argv[len(expected) :] == ["-m", "video_assets.definitions", "-p", "3999"]
    assert env["DAGSTER_HOME"] == str(dagster_home) and env["VIDEO_ASSETS_SETTINGS"].endswith("settings.json")


def test_a_new_dagster_home_gets_the_packaged_instance_settings(tmp_path, monkeypatch):
    from video_assets.runner import PROJECT_DAGSTER_YAML, dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = dagster_home()
    # Shipped inside the package, so a non-editable install has it too.
    assert PROJECT_DAGSTER_YAML.parent.name == "video_assets"
    assert (home / "dagster.yaml").read_text() == PROJECT_DAGSTER_YAML.read_text()
    assert "default_limit: 1" in PROJECT_DAGSTER_YAML.read_text()


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("video-assets ")


def test_every_command_and_option_says_what_it_does():
    import argparse

    parser = cli.build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    silent = []
    for name, sub in commands.choices.items():
        if not sub.description and not any(c.dest == name and c.help for c in commands._choices_actions):
            silent.append(name)
        silent += [f"{name} {a.option_strings or a.dest}" for a in sub._actions if not a.help]
    assert silent == []
