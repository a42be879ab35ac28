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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from video_assets.catalog.shown_names import escape_name

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


# Kernel folders: files there are not videos, and /proc/<pid>/cwd leads into every other process's folders.
SYSTEM_DIRS = (Path("/proc"), Path("/sys"), Path("/dev"))
OUTSIDE_LINK = "follow_outside_links"  # the setting that lets links leave the input folder


def walk_inputs(
    input_dir: Path, extensions: Sequence[str], *, exclude: Sequence[Path] = (), follow_outside_links: bool = False
) -> InputWalk:
    """Video files under ``input_dir`` (recursive, hidden entries skipped), sorted by path.

    Each real folder is walked once (a symlink loop or a second link is reported, not walked
    again), with an explicit stack: any depth the file system allows. A symlink whose target
    lies outside the input folder is reported and not followed unless ``follow_outside_links``;
    /proc, /sys and /dev never are. Files under ``exclude`` are skipped silently: a data dir
    inside the input dir holds our own transcoded clips, which must not come back as new videos.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input directory {root} does not exist or is not a directory")
    walk = InputWalk()
    excluded = [Path(d).resolve() for d in exclude]
    _Walker(root, {e.lower() for e in extensions}, excluded, walk, follow_outside_links).run()
    walk.files.sort(key=lambda f: f.rel_path)
    return walk


class _Walker:
    """Depth-first, entries in name order, a stack of open folder listings instead of recursion."""

    def __init__(
        self, root: Path, wanted: set[str], excluded: list[Path], walk: InputWalk, follow_outside: bool
    ) -> None:
        self.root, self.wanted, self.excluded, self.walk = root, wanted, excluded, walk
        self.real_root = root.resolve()
        self.follow_outside = follow_outside
        self.visited: set[tuple[int, int]] = set()  # (device, inode) of folders walked
        self.stack: list[Iterator[os.DirEntry]] = []

    def skip(self, path: Path | str, reason: str) -> None:
        self.walk.skipped.append(SkippedInput(escape_name(str(path)), reason))

    def run(self) -> None:
        self.enter(self.root)
        while self.stack:
            entry = next(self.stack[-1], None)
            if entry is None:
                self.stack.pop()
            elif not entry.name.startswith("."):
                self.take(entry)

    def enter(self, folder: Path) -> None:
        try:
            info = folder.stat()
        except OSError as err:
            self.skip(folder, _os_reason(err, "folder"))
            return
        if (info.st_dev, info.st_ino) in self.visited:
            self.skip(folder, "already walked: a symlink loop, or a second link to the same folder")
            return
        self.visited.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            self.skip(folder, _os_reason(err, "folder"))
            return
        self.stack.append(iter(entries))

    def take(self, entry: os.DirEntry) -> None:
        path = Path(entry.path)
        try:
            st = path.stat()  # follows links
        except OSError as err:
            self.skip(path, _os_reason(err, "link" if entry.is_symlink() else "file"))
            return
        real = path.resolve()
        if any(real.is_relative_to(d) for d in self.excluded):
            return
        if any(real.is_relative_to(d) for d in SYSTEM_DIRS):
            self.skip(path, f"a link into {real}: system folders (/proc, /sys, /dev) are never walked")
            return
        if entry.is_symlink() and not self.follow_outside and not real.is_relative_to(self.real_root):
            self.skip(
                path, f"a link to {escape_name(str(real))}, outside the input folder: not followed ({OUTSIDE_LINK})"
            )
            return
        if stat.S_ISDIR(st.st_mode):
            self.enter(path)
            return
        suffix = path.suffix.lower()
        if suffix not in self.wanted:
            if suffix in AUDIO_EXTENSIONS:
                self.skip(path, f"audio-only file ({suffix}): no video stream")
            else:
                self.walk.other_extensions[suffix or "(none)"] += 1
        elif not stat.S_ISREG(st.st_mode):
            self.skip(path, "not a regular file (device, pipe or socket)")
        elif not os.access(path, os.R_OK):
            self.skip(path, "permission denied: the file is not readable")
        elif _not_utf8(entry.path):
            self.skip(path, "the file name is not valid UTF-8: rename it (e.g. `convmv -f latin1 -t utf8`)")
        else:
            rel = path.relative_to(self.root).as_posix()
            self.walk.files.append(DiscoveredFile(rel, str(real), st.st_size, st.st_mtime))


def _not_utf8(path: str) -> bool:
    """A name Python decoded with surrogate escapes: bytes that are not UTF-8 (SQLite and JSON need UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _os_reason(err: OSError, what: str) -> str:
    if isinstance(err, PermissionError):
        return f"permission denied: the {what} is not readable"
    if err.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(err, FileNotFoundError):
        return "broken symlink: its target does not exist" if what == "link" else f"the {what} vanished while walking"
    return f"cannot read the {what}: {err.strerror or err}"
