"""`video-assets ui` starts this interpreter's Dagster, whatever is on PATH; `--version` answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline.processes import children
from tests.pipeline.ui_server import free_port
from video_assets.app import ui_process
from video_assets.cli import main as cli


def test_ui_runs_dagster_dev_with_this_interpreter(tmp_path, dagster_home, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(ui_process, "run_process_group", lambda argv, env, cwd=None: calls.append((argv, env)) or 0)
    monkeypatch.setenv("PATH", "/nonexistent")  # a bare `dagster` would not be found
    assert cli.main(["ui", "--output", str(tmp_path / "data"), "--port", "3999"]) == 0
    [(argv, env)] = calls
    dg = Path(sys.executable).parent / "dg"  # dagster-dg-cli (the dev extra) beside this interpreter
    expected = [str(dg), "dev"] if dg.is_file() else [sys.executable, "-m", "dagster", "dev"]
    assert argv[: len(expected)] == expected
    assert argv[len(expected) :] == ["-m", "video_assets.definitions", "-p", "3999"]
    assert env["DAGSTER_HOME"] == str(dagster_home) and env["VIDEO_ASSETS_SETTINGS"].endswith("settings.json")
    assert "http://127.0.0.1:3999 (press Ctrl-C to stop it)" in capsys.readouterr().out


# A stand-in for `dg dev` at its worst: it and a grandchild ignore SIGINT and SIGTERM.
STUBBORN = """
import os, signal, subprocess, sys, time
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
if len(sys.argv) > 1:
    subprocess.Popen([sys.executable, "-c", sys.argv[1]])
    print(os.getpgrp(), flush=True)
time.sleep(300)
"""


def _members(pgid: int) -> list[str]:
    """`pid state command` of each process of group/session `pgid` that is not a zombie."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, _ppid, pgrp, session = text[text.rfind(")") + 2 :].split()[:4]
        if pgid in (int(pgrp), int(session)) and state not in ("Z", "X"):
            found.append(f"{stat.parent.name} {state} {text[: text.rfind(')') + 1]}")
    return found


def _kill_group(pgid: int | None) -> None:
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_gone(pgid: int, timeout_s: float) -> list[str]:
    """Polls until no process of the group is left (zombies not reaped yet aside); what is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        left = _members(pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _stop_script(body: str, *, grace_s: float) -> str:
    return (
        "import os, sys\n"
        "from video_assets.app.ui_process import run_process_group\n"
        f"sys.exit(run_process_group([sys.executable, '-c', {STUBBORN!r}, {body!r}], os.environ, "
        f"interrupt_grace_s={grace_s}, terminate_grace_s={grace_s}))\n"
    )


def test_a_signal_kills_a_child_group_that_ignores_sigint_and_sigterm():
    wrapper = subprocess.Popen(
        [sys.executable, "-c", _stop_script(STUBBORN, grace_s=0.5)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    child_group = None
    try:
        child_group = int(wrapper.stdout.readline())  # the grandchild is started once this is printed
        assert child_group != wrapper.pid  # a session of its own
        started = time.monotonic()
        os.kill(wrapper.pid, signal.SIGTERM)
        assert wrapper.wait(timeout=15) == 0  # a clean stop by signal
        # SIGINT, 0.5 s, SIGTERM, 0.5 s, SIGKILL: well under the 10 + 5 s of the defaults.
        assert time.monotonic() - started < 8
        assert _wait_gone(child_group, 5) == []
    finally:
        _kill_group(child_group)
        _kill_group(wrapper.pid)
        wrapper.wait(timeout=10)


def test_the_child_exit_code_passes_through_and_its_orphans_are_stopped(tmp_path):
    group_file = tmp_path / "pgid"
    leader = (
        "import os, subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        f"open({str(group_file)!r}, 'w').write(str(os.getpgrp())); sys.exit(3)"
    )
    try:
        assert ui_process.run_process_group([sys.executable, "-c", leader], os.environ) == 3
        assert _wait_gone(int(group_file.read_text()), 1) == []  # the sleeping orphan was stopped
    finally:
        _kill_group(int(group_file.read_text()) if group_file.exists() else None)
    killed = "import os; os.kill(os.getpid(), 9)"
    assert ui_process.run_process_group([sys.executable, "-c", killed], os.environ) == 128 + 9


@pytest.mark.slow
def test_sigterm_to_ui_stops_dagster_and_every_process_it_started(tmp_path):
    """`dg dev` alone outlives SIGTERM/SIGINT without a terminal; `video-assets ui` must not."""
    port = free_port()
    (tmp_path / "videos").mkdir()
    home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.pop("VIDEO_ASSETS_SETTINGS", None)
    command = [sys.executable, "-m", "video_assets.cli", "ui", "--input", str(tmp_path / "videos")]
    command += ["--output", str(tmp_path / "data"), "--port", str(port)]
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        ui = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    dagster_groups: list[int] = []
    try:
        started = time.monotonic()
        while True:  # until the web server answers
            assert ui.poll() is None, f"video-assets ui exited with {ui.returncode}:\n{log.read_text()[-4000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() - started < 120, f"not serving after 120 s:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        dagster_groups = children(ui.pid)  # `dg dev`, leader of its own group
        assert dagster_groups and dagster_groups != [ui.pid]
        assert len(_members(dagster_groups[0])) >= 3  # dg, webserver, daemon, code servers

        stopping = time.monotonic()
        os.kill(ui.pid, signal.SIGTERM)  # to `video-assets ui` only, as a process manager would
        assert ui.wait(timeout=30) == 0
        assert time.monotonic() - stopping < 30
        for group in [ui.pid, *dagster_groups]:
            assert _wait_gone(group, 5) == [], log.read_text()[-4000:]
        assert "press Ctrl-C to stop it" in log.read_text()
        # Started inside its home, Dagster sees no dagster.yaml other than the home's copy.
        assert "will not be used" not in log.read_text()
        assert (home / "dagster.yaml").read_text() == REPO_DAGSTER_YAML.read_text()
    finally:
        dagster_groups = dagster_groups or children(ui.pid)
        for group in [*dagster_groups, ui.pid]:
            _kill_group(group)
        ui.wait(timeout=10)


REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def test_a_new_dagster_home_gets_the_repository_instance_settings(tmp_path, monkeypatch):
    from video_assets.app.instance_home import PROJECT_DAGSTER_YAML, dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = dagster_home()
    # One source: the package's copy (shipped inside it, so an installed wheel has it) is the
    # repository root's dagster.yaml, which `dagster dev` run there reads.
    assert PROJECT_DAGSTER_YAML.parent.name == "app"
    assert os.path.samefile(PROJECT_DAGSTER_YAML, REPO_DAGSTER_YAML)
    assert (home / "dagster.yaml").read_text() == REPO_DAGSTER_YAML.read_text()
    assert "default_limit: 1" in REPO_DAGSTER_YAML.read_text()


def test_dagster_dev_in_the_repository_root_reads_its_dagster_yaml_without_warning(tmp_path):
    """`dagster dev` here without DAGSTER_HOME: Dagster's own instance loading takes the root's file."""
    from dagster._cli.utils import get_possibly_temporary_instance_for_cli

    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    script = (
        "import logging, sys\n"
        "from dagster._cli.utils import get_possibly_temporary_instance_for_cli\n"
        "with get_possibly_temporary_instance_for_cli('dagster dev') as instance:\n"
        "    print('POOL_LIMIT', instance.get_concurrency_config().pool_config.default_pool_limit)\n"
    )
    assert get_possibly_temporary_instance_for_cli  # the function the script uses exists in this Dagster
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_DAGSTER_YAML.parent, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "POOL_LIMIT 1" in out.stdout
    assert "will not be used" not in out.stdout + out.stderr


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
