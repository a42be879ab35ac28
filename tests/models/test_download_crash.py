"""SIGKILL during a weight download: the next download completes, no half file counts as weights.

A child process (`download_crash_child.py`, same interpreter) runs the real ModelHub and
the real `snapshot_download` against a fake hub over HTTP (`fake_hub_server.py`) and is
killed at each step of a download: mid-transfer (the fake hub cuts the file and the
parent sends SIGKILL once huggingface_hub's `.incomplete` file holds bytes), after the
checksums, after the lock file, midway through a merge into a hand-placed directory.
Then, as after an OOM kill or a power cut: status must not call the weights present,
a plain download in a new process completes (the dead process's download lock does not
block it), the files match the hub's checksums, and no leftover remains.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.models.download_crash_child import (
    BIG_SHARD,
    CUT_AT,
    SPEC,
    crash_repos,
    files_of,
)
from tests.models.fake_hub_server import Cut, FakeHub, serve
from tests.models.test_hub import COMMIT_B, SHARDED, FakeApi
from video_assets.models.hub import LOCK_FILE, ModelHub

REPO_ROOT = Path(__file__).resolve().parents[2]
HUB_FILES = crash_repos()[SHARDED.repo_id].commits[COMMIT_B]
# What the repo's allow/ignore patterns take (examples/ is left out).
WANTED = sorted(name for name in HUB_FILES if "/" not in name)


@pytest.fixture
def fake_hub():
    with serve(files_of) as hub:
        yield hub


def run_child(tmp_path: Path, hub: FakeHub, point: str) -> subprocess.Popen:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf_home")}
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.models.download_crash_child", str(tmp_path / "models"), point],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(child: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        pytest.fail(f"the download hung (a stale lock?); stderr:\n{err[-3000:]}")
    return child.returncode, out + err


def kill_when_bytes_land(staging: Path, child: subprocess.Popen) -> None:
    """SIGKILL `child` once huggingface_hub's `.incomplete` file of the cut shard holds bytes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [p for p in staging.rglob("*.incomplete") if p.stat().st_size > 0]
        if partial:
            os.kill(child.pid, signal.SIGKILL)
            return
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    raise AssertionError("no .incomplete file with bytes appeared within 60 s")


def final_dir(tmp_path: Path) -> Path:
    return tmp_path / "models" / SHARDED.repo_id / SHARDED.revision


def assert_no_half_file_in_place(tmp_path: Path) -> None:
    """Whatever sits in the model dir proper is a whole file of the hub's (never a cut one)."""
    final = final_dir(tmp_path)
    for path in final.rglob("*") if final.is_dir() else ():
        name = path.relative_to(final).as_posix()
        if path.is_file() and name != LOCK_FILE:
            assert path.read_bytes() == HUB_FILES[name], name


def assert_complete_and_clean(tmp_path: Path) -> None:
    models = tmp_path / "models"
    final = final_dir(tmp_path)
    status = ModelHub(models, offline=True).status(SPEC)
    assert status.state == "present" and status.repos[0].commit == COMMIT_B
    on_disk = sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file())
    assert on_disk == sorted([*WANTED, LOCK_FILE])
    for name in WANTED:
        assert (final / name).read_bytes() == HUB_FILES[name], name
    lock = json.loads((final / LOCK_FILE).read_text())
    assert sorted(lock["files"]) == WANTED and lock["commit"] == COMMIT_B
    verification = FakeApi(crash_repos()).verify_repo_checksums(SHARDED.repo_id, revision=COMMIT_B, local_dir=final)
    assert verification.mismatches == []
    assert sorted(verification.missing_paths) == sorted(set(HUB_FILES) - set(WANTED))  # examples/
    leftovers = [p.name for p in models.rglob("*") if p.name.endswith((".incomplete", ".download", ".tmp"))]
    assert leftovers == []


def test_sigkill_mid_transfer_then_a_plain_download_completes(tmp_path, fake_hub):
    staging = final_dir(tmp_path).parent / f".{SHARDED.revision}.download"
    child = None
    fake_hub.cut = Cut(BIG_SHARD, CUT_AT, then=lambda: kill_when_bytes_land(staging, child))
    child = run_child(tmp_path, fake_hub, "transfer")

    code, output = finish(child)

    assert code == -signal.SIGKILL, output
    half = [p for p in staging.rglob("*.incomplete") if p.stat().st_size > 0]
    assert half and all(p.stat().st_size < len(HUB_FILES[BIG_SHARD]) for p in half)
    assert not final_dir(tmp_path).exists()
    assert ModelHub(tmp_path / "models", offline=True).status(SPEC).state == "absent"

    fake_hub.cut = None
    code, output = finish(run_child(tmp_path, fake_hub, "none"))
    assert code == 0 and "downloaded" in output, output
    assert_complete_and_clean(tmp_path)


@pytest.mark.parametrize("point", ["before_lock", "before_publish"])
def test_sigkill_between_download_and_publish(tmp_path, fake_hub, point):
    code, output = finish(run_child(tmp_path, fake_hub, point))

    assert code == -signal.SIGKILL, output
    assert not final_dir(tmp_path).exists()  # nothing looks complete before the rename
    assert ModelHub(tmp_path / "models", offline=True).status(SPEC).state == "absent"
    assert (final_dir(tmp_path).parent / f".{SHARDED.revision}.lock").exists()  # the dead holder's

    fake_hub.served.clear()
    code, output = finish(run_child(tmp_path, fake_hub, "none"))
    assert code == 0 and "downloaded" in output, output
    assert fake_hub.served == []  # the verified files were kept, not fetched again
    assert_complete_and_clean(tmp_path)


@pytest.mark.parametrize(("moved", "offline"), [(1, False), (3, False), (3, True)])
def test_sigkill_midway_through_a_merge_into_a_hand_placed_dir(tmp_path, fake_hub, moved, offline):
    final = final_dir(tmp_path)
    final.mkdir(parents=True)
    (final / "config.json").write_bytes(HUB_FILES["config.json"])  # placed by hand

    code, output = finish(run_child(tmp_path, fake_hub, f"mid_merge_{moved}"))

    assert code == -signal.SIGKILL, output
    assert_no_half_file_in_place(tmp_path)
    # After 3 moves every required file is in place, but modeling.py and the lock file are not.
    status = ModelHub(tmp_path / "models", offline=True).status(SPEC)
    assert status.state == "partial" and "modeling.py" in status.repos[0].missing_files

    fake_hub.served.clear()
    if offline:  # the rest is on disk already: finishing the move needs no hub
        api = FakeApi(crash_repos())
        ModelHub(tmp_path / "models", offline=True, api=api).ensure(SPEC)
        assert api.calls == []
    else:
        code, output = finish(run_child(tmp_path, fake_hub, "none"))
        assert code == 0 and "downloaded" in output, output
    assert fake_hub.served == []  # the rest of the verified files moved in, none fetched again
    assert_complete_and_clean(tmp_path)


def test_a_soft_lock_left_by_a_dead_process_is_taken_over(tmp_path, fake_hub):
    """On a filesystem without flock huggingface_hub falls back to a lock *file*: a dead holder's
    must not block the next download (filelock breaks it when the recorded pid is gone)."""
    lock_path = final_dir(tmp_path).parent / f".{SHARDED.revision}.lock"
    lock_path.parent.mkdir(parents=True)
    holder = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import os, signal, sys; from filelock import SoftFileLock; "
                "lock = SoftFileLock(sys.argv[1]); lock.acquire(); os.kill(os.getpid(), signal.SIGKILL)"
            ),
            str(lock_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert holder.returncode == -signal.SIGKILL and lock_path.exists(), holder.stderr

    code, output = finish(run_child(tmp_path, fake_hub, "no_flock"), timeout=60)

    assert code == 0 and "downloaded" in output, output
    assert_complete_and_clean(tmp_path)
