"""What went wrong with the registry file (SQLite), in words that name it and say what to do.

A bare `sqlite3.DatabaseError: file is not a database` names no file and no remedy. SQLite
rolls back the transaction a failed statement was in, so nothing is half-written; the user
needs to know which file, what happened (damaged, disk full, read-only) and the next step.
A lock wait is not handled here: `run` says who may hold the lock.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

FULL_BELOW_BYTES = 1 << 20  # free space under which an I/O error is taken for a full disk


class RegistryError(OSError):
    """The registry file cannot be read or written; the message names it and the remedy."""


def is_lock_wait(err: sqlite3.Error) -> bool:
    """A busy or locked database: another process holds it (not a fault of the file)."""
    return "locked" in str(err) or "busy" in str(err)


def registry_error(path: Path, err: sqlite3.Error) -> RegistryError:
    """`err` from SQLite on the registry at `path`, as a `RegistryError` that says what to do."""
    text = str(err)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        what = (
            "is damaged (truncated or overwritten)"
            ", so nothing was changed: restore it from a backup, or move it aside and run `video-assets run` "
            "again, which registers the input folder anew and re-checks every video against the index"
        )
    elif "full" in lowered or ("i/o error" in lowered and _nearly_full(path.parent)):
        what = (
            "could not be written because the disk is full; the change was rolled back: free space on "
            f"{path.parent} and run again"
        )
    elif "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        what = (
            "cannot be opened for writing (a read-only data directory or file, or a folder this user may "
            f"not write): make {path.parent} writable, or give another --output"
        )
    elif "i/o error" in lowered:
        what = f"could not be read or written (an I/O error of the disk holding {path.parent}): check that disk"
    else:
        what = "cannot be used; nothing was changed"
    return RegistryError(f"the registry {path} {what} (SQLite: {text})")


def _nearly_full(folder: Path) -> bool:
    """SQLite reports a full disk as a plain I/O error when WAL's shared memory cannot grow."""
    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False
