"""Opening the database and the per-model clip tables."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import lancedb
from lancedb.table import Table

from video_assets.index.errors import ClipTableNotFoundError
from video_assets.index.schema import table_name


def connect(
    uri: str,
    *,
    read_consistency_interval_s: float = 0.0,
    storage_options: Mapping[str, str] | None = None,
) -> lancedb.DBConnection:
    """Connect to a LanceDB database (local dir or `s3://...`).

    LanceDB's default (no interval) never re-reads a table another process
    wrote; 0 s checks on every read, so search sees each committed partition.
    `storage_options` go to the object store (credentials, endpoint, region).
    """
    interval = float(read_consistency_interval_s)
    if not math.isfinite(interval) or interval < 0:
        raise ValueError(f"read_consistency_interval_s must be >= 0, got {read_consistency_interval_s!r}")
    return lancedb.connect(
        uri,
        read_consistency_interval=timedelta(seconds=interval),
        storage_options=dict(storage_options) if storage_options else None,
    )


def local_db_dir(uri: str) -> Path | None:
    """The database's directory on this machine; None for object storage and LanceDB Cloud
    (s3://, gs://, az://, memory://, db://), where there are no local files to lock or to keep beside it."""
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" in uri:
        return None
    return Path(uri)


def table_dir(db: lancedb.DBConnection, model: str) -> Path | None:
    """The model's table directory on this machine (`<db>/clips_<model>.lance`); None off local disk."""
    local = local_db_dir(str(db.uri))
    return None if local is None else local / f"{table_name(model)}.lance"


def has_committed_version(path: Path) -> bool:
    """Whether a local table directory holds at least one committed version.

    LanceDB commits a version by writing its manifest into `_versions/` last, after the data
    files; a writer killed before that leaves data files (or an empty `data/`) and no manifest.
    """
    versions = path / "_versions"
    if not versions.is_dir():
        return False
    with os.scandir(versions) as entries:  # stops at the first manifest, however many versions there are
        return any(entry.name.endswith(".manifest") for entry in entries)


def clip_table_exists(db: lancedb.DBConnection, model: str) -> bool:
    """Whether the model's clip table exists with at least one committed version.

    A directory left by a first write that was killed before its commit is listed by LanceDB
    but cannot be opened; it does not count (the next commit creates the table over it).
    """
    name = table_name(model)
    page_token: str | None = None
    while True:
        # list_tables pages; walk them rather than trusting the first page.
        response = db.list_tables(page_token=page_token)
        if name in response.tables:
            return _committed(db, model)
        page_token = response.page_token
        if not page_token:
            return False


def open_clip_table(db: lancedb.DBConnection, model: str) -> Table:
    """The model's clip table at its latest version; `ClipTableNotFoundError` if never committed."""
    if not clip_table_exists(db, model):
        raise ClipTableNotFoundError(model, table_name(model), str(db.uri), detail=uncommitted_note(db, model))
    table = db.open_table(table_name(model))
    table.checkout_latest()
    return table


def uncommitted_note(db: lancedb.DBConnection, model: str) -> str | None:
    """Says so when the table's directory holds only an interrupted first write; else None."""
    path = table_dir(db, model)
    if path is None or not path.exists() or has_committed_version(path):
        return None
    return f"{path} holds only an interrupted first write (no committed version); the next commit replaces it"


def _committed(db: lancedb.DBConnection, model: str) -> bool:
    path = table_dir(db, model)
    if path is not None:
        return has_committed_version(path)
    # Object storage: no directory to look into; LanceDB itself says whether a version exists.
    try:
        db.open_table(table_name(model))
    except ValueError as err:
        if "was not found" in str(err):
            return False
        raise
    return True
