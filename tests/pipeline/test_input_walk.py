"""The input walk reports every file it does not take, with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import video_assets.catalog.input_walk as input_walk
from video_assets.catalog.input_walk import walk_inputs
from video_assets.settings.config import VIDEO_EXTENSIONS

NOBODY = 65534
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _folder(root: Path) -> Path:
    for name in ("a.mp4", "sub/b.MKV", "notes.txt", "cover.jpg", "song.mp3", ".hidden.mp4"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
    return root


def test_videos_are_found_and_the_rest_reported_or_counted(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in")
    (root / "loop").mkdir()
    (root / "loop" / "again").symlink_to(root / "loop", target_is_directory=True)
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)  # followed once
    (root / "gone.mp4").symlink_to(root / "nowhere.mp4")
    os.mkfifo(root / "pipe.mp4")
    walk = walk_inputs(root, VIDEO_EXTENSIONS)
    # Entries go in name order: the link reaches sub/ first, and sub/ itself is not walked twice.
    assert [f.rel_path for f in walk.files] == ["a.mp4", "linked/b.MKV"]
    reasons = {Path(s.path).name: s.reason for s in walk.skipped}
    assert "already walked" in reasons["sub"]
    assert "audio-only" in reasons["song.mp3"]
    assert "broken symlink" in reasons["gone.mp4"]
    assert "not a regular file" in reasons["pipe.mp4"]
    assert "already walked" in reasons["again"]
    assert walk.other_extensions == {".txt": 1, ".jpg": 1}


def test_data_dir_inside_the_input_is_not_walked(tmp_path: Path) -> None:
    root = _folder(tmp_path / "in")
    (root / "data" / "clips").mkdir(parents=True)
    (root / "data" / "clips" / "c.mp4").write_bytes(b"x")
    walk = walk_inputs(root, VIDEO_EXTENSIONS, exclude=[root / "data"])
    assert "data/clips/c.mp4" not in [f.rel_path for f in walk.files]


def _walk_as_nobody(root: Path, module_dir: Path) -> dict:
    """Run the walk in a process without root's right to read everything."""
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from input_walk import walk_inputs; "
        "w = walk_inputs(sys.argv[2], ['.mp4']); "
        "print(json.dumps({'files': [f.rel_path for f in w.files], 'skipped': {s.path: s.reason for s in w.skipped}}))"
    )
    out = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", script, str(module_dir), str(root)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)),
    )
    return json.loads(out.stdout)


def test_unreadable_files_and_folders_are_reported(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="walk-", dir="/tmp"))  # reachable by an unprivileged user
    try:
        os.chmod(base, 0o755)
        module_dir = base / "module"
        module_dir.mkdir()
        shutil.copy(input_walk.__file__, module_dir / "input_walk.py")  # stdlib only: any python runs it
        root = base / "in"
        (root / "closed").mkdir(parents=True)
        for path in (root / "ok.mp4", root / "secret.mp4", root / "closed" / "inside.mp4"):
            path.write_bytes(b"x")
        for path in (module_dir, module_dir / "input_walk.py", root, root / "ok.mp4"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(root / "secret.mp4", 0o000)
        os.chmod(root / "closed", 0o000)
        if os.geteuid() == 0:
            if not SYSTEM_PYTHON.exists():
                pytest.skip("running as root without /usr/bin/python3 to drop privileges with")
            result = _walk_as_nobody(root, module_dir)
        else:
            walk = walk_inputs(root, [".mp4"])
            result = {"files": [f.rel_path for f in walk.files], "skipped": {s.path: s.reason for s in walk.skipped}}
        assert result["files"] == ["ok.mp4"]
        assert "permission denied: the file is not readable" in result["skipped"][str(root / "secret.mp4")]
        assert "permission denied: the folder is not readable" in result["skipped"][str(root / "closed")]
    finally:
        os.chmod(base / "in" / "closed", 0o755)
        shutil.rmtree(base)


def test_links_leaving_the_input_are_reported_not_followed(tmp_path: Path) -> None:
    """Issue 23: a link to / inside the input made `run` walk the whole machine (/proc/<pid>/cwd included)."""
    root = _folder(tmp_path / "in")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "deep").mkdir(parents=True)
    (elsewhere / "deep" / "theirs.mp4").write_bytes(b"x" * 10)
    (root / "slash").symlink_to("/", target_is_directory=True)
    (root / "out").symlink_to(elsewhere, target_is_directory=True)
    (root / "theirs.mp4").symlink_to(elsewhere / "deep" / "theirs.mp4")
    (root / "inside").symlink_to(root / "sub", target_is_directory=True)  # stays inside: followed
    walk = walk_inputs(root, VIDEO_EXTENSIONS)
    assert [f.rel_path for f in walk.files] == ["a.mp4", "inside/b.MKV"]
    reasons = {Path(s.path).name: s.reason for s in walk.skipped}
    for name in ("slash", "out", "theirs.mp4"):
        assert "outside the input folder: not followed (follow_outside_links)" in reasons[name], reasons
    # The setting follows them; kernel folders stay out even then.
    (root / "slash").unlink()
    (root / "proc").symlink_to("/proc/self", target_is_directory=True)
    walk = walk_inputs(root, VIDEO_EXTENSIONS, follow_outside_links=True)
    assert [f.rel_path for f in walk.files] == ["a.mp4", "inside/b.MKV", "out/deep/theirs.mp4", "theirs.mp4"]
    reasons = {Path(s.path).name: s.reason for s in walk.skipped}
    assert "system folders (/proc, /sys, /dev) are never walked" in reasons["proc"]


def test_a_tree_deeper_than_pythons_recursion_limit_is_walked(tmp_path: Path) -> None:
    root = tmp_path / "in"
    deep = root
    root.mkdir()
    for _ in range(1200):  # 2,400 characters: within PATH_MAX (4,096); mkdir(parents=True) recurses
        deep = deep / "d"
        deep.mkdir()
    (deep / "bottom.mp4").write_bytes(b"x" * 10)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default: a recursive walk fails before 1,200 levels
    try:
        walk = walk_inputs(root, VIDEO_EXTENSIONS)
    finally:
        sys.setrecursionlimit(limit)
        (deep / "bottom.mp4").unlink()
        while deep != root:  # pytest's own cleanup (a recursive rmtree on 3.11) would overflow
            deep.rmdir()
            deep = deep.parent
    assert [Path(f.rel_path).name for f in walk.files] == ["bottom.mp4"] and not walk.skipped


def test_a_name_that_is_not_utf8_is_skipped_with_its_bytes_shown(tmp_path: Path) -> None:
    """Issue 23: a Latin-1 name stopped the whole run (exit 2, the message named no file)."""
    root = _folder(tmp_path / "in")
    with open(os.fsencode(root) + b"/caf\xe9.mp4", "wb") as f:
        f.write(b"x" * 10)
    walk = walk_inputs(root, VIDEO_EXTENSIONS)
    assert [f.rel_path for f in walk.files] == ["a.mp4", "sub/b.MKV"]
    (skipped,) = [s for s in walk.skipped if "UTF-8" in s.reason]
    assert skipped.path == f"{root}/caf\\xe9.mp4" and skipped.path.encode("utf-8")
