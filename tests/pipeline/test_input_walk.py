"""The input walk reports every file it does not take, with the reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
