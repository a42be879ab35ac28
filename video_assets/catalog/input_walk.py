"""Walk an input folder for video files, and say what was skipped and why.

A curator must be able to trust that every file either reached the index or was
reported: unreadable files and folders, broken links, symlink loops and audio-only
files are listed with the reason instead of vanishing. Files with other extensions
are counted per extension (listing every .txt would drown the report).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Audio containers: a file named like this holds no video, so it is reported, not ignored.
AUDIO_EXTENSIONS = (".m4a", ".mp3", ".aac", ".wav", ".flac", ".ogg", ".opus", ".wma")


@dataclass(frozen=True)
class DiscoveredFile:
    rel_path: str  # POSIX path relative to the input root
    abs_path: str
    size_bytes: int
    mtime: float


@dataclass(frozen=True)
class SkippedInput:
    path: str
    reason: str


@dataclass
class InputWalk:
    files: list[DiscoveredFile] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)
    other_extensions: Counter = field(default_factory=Counter)  # ".txt" -> count, not listed one by one


def walk_inputs(input_dir: Path, extensions: Sequence[str], *, exclude: Sequence[Path] = ()) -> InputWalk:
    """Video files under ``input_dir`` (recursive, hidden entries skipped), sorted by path.

    Symlinked folders are followed once (a loop is reported, not walked forever); files
    under ``exclude`` are skipped silently: a data dir inside the input dir holds our own
    transcoded clips, which must not come back as new videos.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input directory {root} does not exist or is not a directory")
    wanted = {e.lower() for e in extensions}
    excluded = [Path(d).resolve() for d in exclude]
    walk = InputWalk()
    visited: set[tuple[int, int]] = set()  # (device, inode) of folders walked: loop guard

    def visit(folder: Path) -> None:
        try:
            info = folder.stat()
        except OSError as err:
            walk.skipped.append(SkippedInput(str(folder), _os_reason(err, "folder")))
            return
        if (info.st_dev, info.st_ino) in visited:
            walk.skipped.append(
                SkippedInput(str(folder), "already walked: a symlink loop, or a second link to the same folder")
            )
            return
        visited.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            walk.skipped.append(SkippedInput(str(folder), _os_reason(err, "folder")))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                st = path.stat()  # follows links
            except OSError as err:
                walk.skipped.append(SkippedInput(str(path), _os_reason(err, "link" if entry.is_symlink() else "file")))
                continue
            if any(path.resolve().is_relative_to(d) for d in excluded):
                continue
            if stat.S_ISDIR(st.st_mode):
                visit(path)
                continue
            suffix = path.suffix.lower()
            if suffix not in wanted:
                if suffix in AUDIO_EXTENSIONS:
                    walk.skipped.append(SkippedInput(str(path), f"audio-only file ({suffix}): no video stream"))
                else:
                    walk.other_extensions[suffix or "(none)"] += 1
                continue
            if not stat.S_ISREG(st.st_mode):
                walk.skipped.append(SkippedInput(str(path), "not a regular file (device, pipe or socket)"))
            elif not os.access(path, os.R_OK):
                walk.skipped.append(SkippedInput(str(path), "permission denied: the file is not readable"))
            else:
                rel = path.relative_to(root).as_posix()
                walk.files.append(DiscoveredFile(rel, str(path.resolve()), st.st_size, st.st_mtime))

    visit(root)
    walk.files.sort(key=lambda f: f.rel_path)
    return walk


def _os_reason(err: OSError, what: str) -> str:
    if isinstance(err, PermissionError):
        return f"permission denied: the {what} is not readable"
    if err.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(err, FileNotFoundError):
        return "broken symlink: its target does not exist" if what == "link" else f"the {what} vanished while walking"
    return f"cannot read the {what}: {err.strerror or err}"
