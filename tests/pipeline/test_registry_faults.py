"""A damaged registry, a full disk, a read-only data directory: one line that names the registry file,
what happened and what to do; nothing half-written (issue 23: bare sqlite3 tracebacks)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from video_assets.catalog.input_walk import DiscoveredFile
from video_assets.catalog.registry import VideoRegistry
from video_assets.catalog.registry_errors import RegistryError
from video_assets.cli.main import main


def _files(root: Path, n: int, prefix: str = "v") -> list[DiscoveredFile]:
    return [DiscoveredFile(f"{prefix}{i:05d}.mp4", str(root / f"{prefix}{i:05d}.mp4"), 10, 1.0) for i in range(n)]


def _truncated_registry(data: Path) -> Path:
    path = data / "registry.sqlite"
    VideoRegistry(path).register(_files(data, 50))
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 3)
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    path.write_bytes(b"garbage, not SQLite" + path.read_bytes()[19:])
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--input", "{videos}", "--models", "fingerprint"],
        ["remove", "--input", "{videos}", "--models", "fingerprint"],
    ],
    ids=["run", "remove"],
)
def test_a_damaged_registry_is_named_with_the_remedy(tmp_path: Path, dagster_home, capsys, argv) -> None:
    data, videos = tmp_path / "data", tmp_path / "videos"
    videos.mkdir()
    path = _truncated_registry(data)
    before = path.read_bytes()
    code = main([a.format(videos=videos) for a in argv] + ["--output", str(data)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err, err
    assert f"the registry {path} is damaged" in err and "restore it from a backup" in err
    assert path.read_bytes() == before  # left as it was for the user to restore


@contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]).returncode
    ):
        pytest.skip("needs root and mount (a small tmpfs) to make a full or read-only disk")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_rolls_back_and_says_so(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "small", "600k") as disk:
        registry = VideoRegistry(disk / "registry.sqlite")
        registry.register(_files(disk, 10))
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # fill what is left
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        with pytest.raises(RegistryError) as raised:
            registry.register(_files(disk, 3000, prefix="w"))
        message = str(raised.value)
        assert f"the registry {disk / 'registry.sqlite'}" in message and "disk is full" in message
        assert "rolled back" in message
        filler.unlink()
        assert len(registry.all()) == 10  # nothing of the failed batch was written


def test_a_read_only_data_dir_says_so(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ro", "2m") as disk:
        VideoRegistry(disk / "registry.sqlite").register(_files(disk, 3))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(RegistryError) as raised:
            VideoRegistry(disk / "registry.sqlite").register(_files(disk, 5, prefix="w"))
        message = str(raised.value)
        assert f"the registry {disk / 'registry.sqlite'}" in message and f"make {disk} writable" in message
