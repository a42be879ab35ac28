"""Clearing what a killed first write leaves behind, so the next commit creates the table cleanly.

LanceDB writes a new table's data files first and commits version 1 by writing its
manifest last. A committer killed in between (kill -9, OOM, power loss) leaves
`clips_<model>.lance/` with data files, or an empty `data/`, and no manifest:
LanceDB lists the table but cannot open it. `connection.clip_table_exists` does
not count such a directory, so search says the table is not there yet and the
next commit creates it; this module removes the leftover files first, so they
neither linger (a killed write can leave gigabytes) nor mix with the new table's.

Only ever call it under the table's commit lock: a directory without a manifest
is also what a live creator's table looks like until its commit lands, and the
lock is what proves no one is creating it now.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import lancedb

from video_assets.index.connection import has_committed_version, table_dir


def discard_uncommitted_table(db: lancedb.DBConnection, model: str) -> Path | None:
    """Remove the model's table directory if it holds no committed version; returns what was removed.

    Never touches a directory with a committed version (real data), nor anything on object
    storage (there LanceDB's create simply writes version 1 over the leftover objects).
    """
    path = table_dir(db, model)
    if path is None or not path.exists() or has_committed_version(path):
        return None
    if not path.is_dir():
        raise FileExistsError(f"{path}: expected the table directory of {model!r}, found a file; move it away")
    # Killed half-way through this, the directory still has no manifest: the next commit finishes the job.
    shutil.rmtree(path)
    return path
