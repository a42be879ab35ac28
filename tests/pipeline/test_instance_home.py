"""A Dagster home made by an earlier version: an untouched copy of an older project dagster.yaml is
replaced by the current one (UI backfills get the run queue, warm launcher and cadence); an edited file is
kept and `video-assets ui` names what it lacks."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from video_assets.app import instance_home
from video_assets.app.instance_home import PROJECT_DAGSTER_YAML, SHIPPED_BEFORE, dagster_home, missing_ui_sections

ROOT = Path(__file__).resolve().parents[2]
OLD_FILE = (
    "# an older project dagster.yaml\nconcurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n"
)


def test_an_untouched_older_copy_is_replaced_by_the_current_file(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(OLD_FILE)
    monkeypatch.setattr(instance_home, "SHIPPED_BEFORE", {hashlib.sha256(OLD_FILE.encode()).hexdigest()})
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert missing_ui_sections(home) == ["run_coordinator", "run_launcher"]
    assert dagster_home() == home.resolve()
    assert (home / "dagster.yaml").read_bytes() == PROJECT_DAGSTER_YAML.read_bytes()
    assert missing_ui_sections(home) == []


def test_an_edited_file_is_kept_and_ui_names_what_it_lacks(tmp_path, monkeypatch, capsys) -> None:
    from video_assets.cli.main import main

    home = tmp_path / "home"
    home.mkdir()
    edited = OLD_FILE + "# my own edit\n"
    (home / "dagster.yaml").write_text(edited)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    started = []
    monkeypatch.setattr("video_assets.app.ui_process.run_process_group", lambda *a, **k: started.append(a) or 0)
    assert main(["ui", "--output", str(tmp_path / "data")]) == 0
    assert (home / "dagster.yaml").read_text() == edited
    out = capsys.readouterr().out
    assert f"{home.resolve() / 'dagster.yaml'} (edited) has no run_coordinator or run_launcher section" in out
    assert started  # the UI still starts, on the user's settings


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git history")
def test_every_earlier_project_file_is_known(tmp_path) -> None:
    """When dagster.yaml changes, its previous text must join SHIPPED_BEFORE, or homes made with it stay old."""
    current = hashlib.sha256(PROJECT_DAGSTER_YAML.read_bytes()).hexdigest()
    assert current not in SHIPPED_BEFORE
    paths = ["dagster.yaml", "video_assets/dagster_instance.yaml"]
    log = subprocess.run(["git", "log", "--format=%H", "--", *paths], cwd=ROOT, capture_output=True, text=True)
    unknown = []
    for commit in log.stdout.split():
        for path in paths:
            shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True)
            digest = hashlib.sha256(shown.stdout).hexdigest()
            if shown.returncode == 0 and digest not in SHIPPED_BEFORE | {current}:
                unknown.append(f"{commit[:7]}:{path} {digest}")
    assert not unknown, f"add these to instance_home.SHIPPED_BEFORE: {unknown}"


def test_an_older_copy_that_cannot_be_replaced_is_kept(tmp_path, monkeypatch) -> None:
    """A read-only home (a dagster.yaml mounted read-only in a container) holding an untouched older
    copy: the commands start on it, as they did before homes were upgraded, instead of failing."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(OLD_FILE)
    monkeypatch.setattr(instance_home, "SHIPPED_BEFORE", {hashlib.sha256(OLD_FILE.encode()).hexdigest()})
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system", str(home / "dagster.yaml"))

    monkeypatch.setattr(instance_home.shutil, "copy", read_only)
    assert dagster_home() == home.resolve()
    assert (home / "dagster.yaml").read_text() == OLD_FILE


def test_a_linked_older_copy_is_not_written_through(tmp_path, monkeypatch) -> None:
    """A home's dagster.yaml that links to an older copy elsewhere (another checkout) stays as it is."""
    elsewhere = tmp_path / "old_checkout" / "dagster.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(OLD_FILE)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(elsewhere)
    monkeypatch.setattr(instance_home, "SHIPPED_BEFORE", {hashlib.sha256(OLD_FILE.encode()).hexdigest()})
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    dagster_home()
    assert (home / "dagster.yaml").is_symlink()
    assert elsewhere.read_text() == OLD_FILE
