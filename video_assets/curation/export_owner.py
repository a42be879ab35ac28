"""Which export directories `export` may replace: only one it wrote itself, holding nothing else.

An export's manifest (`export.json`) carries `format_id` and `files`, the names it wrote. A
directory is replaced only when its manifest has our format id (or is a manifest of ours from
before the id existed: every field an export writes) and every entry in it is a listed file or
the manifest: a folder holding someone else's `export.json`, or a file the user added to an
export, is refused with the names, never deleted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST = "export.json"
FORMAT_ID = "video-assets-export/1"
# Manifests written before `format_id`: an export wrote every one of these fields.
LEGACY_KEYS = frozenset({"model", "format", "path", "table_version", "rows", "files", "duplicates", "created_at"})
SHOWN = 5  # names listed in a refusal


class NotAnExport(FileExistsError):
    """The export destination holds something `export` did not write: it is left alone."""


def absolute_out_dir(out_dir: str | Path) -> Path:
    """`out_dir` made absolute without following links (`.` has no name to put a temp dir beside)."""
    path = Path(os.path.abspath(out_dir))
    if not path.name:
        raise NotAnExport(f"export destination {out_dir} is the file system root: give a directory under it")
    return path


def check_replaceable(out_dir: Path) -> list[str]:
    """The files of an earlier export in `out_dir` (empty when it is absent or empty); raise when it is not ours."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotAnExport(f"export destination {out_dir} is a file: give a directory")
    if not out_dir.is_dir():
        return []
    entries = sorted(e.name for e in os.scandir(out_dir))
    if not entries:
        return []
    if MANIFEST not in entries:
        raise NotAnExport(
            f"export destination {out_dir} is not empty and holds no earlier export "
            f"({MANIFEST}): give a new or empty directory"
        )
    files = _listed_files(out_dir / MANIFEST)
    if files is None:
        raise NotAnExport(
            f"export destination {out_dir} holds a {MANIFEST} that video-assets export did not write "
            f"(no format id {FORMAT_ID!r}): nothing was replaced; give a new or empty directory"
        )
    foreign = [name for name in entries if name != MANIFEST and (name not in files or not _plain_file(out_dir, name))]
    if foreign:
        shown = ", ".join(foreign[:SHOWN]) + (f" and {len(foreign) - SHOWN} more" if len(foreign) > SHOWN else "")
        raise NotAnExport(
            f"export destination {out_dir} holds {len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} the "
            f"earlier export did not write ({shown}): move them out or give another directory; nothing was replaced"
        )
    return [name for name in entries if name != MANIFEST]


def manifest_mark(files: list[str]) -> dict[str, Any]:
    """The owner fields a manifest carries: our format id and the files written beside it."""
    return {"format_id": FORMAT_ID, "files": list(files)}


def remove_export(old: Path, files: list[str]) -> None:
    """Delete an earlier export moved aside: its listed files and manifest, then the folder if now empty."""
    for name in [*files, MANIFEST]:
        try:
            (old / name).unlink()
        except FileNotFoundError:
            pass
    try:
        old.rmdir()
    except OSError:
        pass  # something appeared in it after the check: left in place rather than deleted


def move_files_in(tmp: Path, out_dir: Path, earlier: list[str]) -> None:
    """Replace an export in the current directory file by file: the earlier manifest and files go first,
    the new manifest last, so a crash midway leaves no manifest over files it does not list."""
    (out_dir / MANIFEST).unlink(missing_ok=True)
    for name in earlier:
        (out_dir / name).unlink(missing_ok=True)
    names = sorted(p.name for p in tmp.iterdir() if p.name != MANIFEST)
    for name in [*names, MANIFEST]:
        os.replace(tmp / name, out_dir / name)


def _listed_files(manifest: Path) -> set[str] | None:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    ours = data.get("format_id") == FORMAT_ID or (data.get("format_id") is None and LEGACY_KEYS <= data.keys())
    files = data.get("files")
    if not ours or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return {f for f in files if f and "/" not in f and f not in (".", "..")}


def _plain_file(folder: Path, name: str) -> bool:
    path = folder / name
    return path.is_file() and not path.is_symlink()
