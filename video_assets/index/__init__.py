"""The clip index: pure LanceDB code (no Dagster).

- `schema`: the clip table's columns and row validation.
- `commit`: the single committer's one-commit-per-partition upsert.
- `committer`: the per-table commit lock around commits and deletes.
- `recovery`: clearing what a committer killed during the first write left behind.
- `maintenance`, `vector_index`: compaction, old-version cleanup, the ANN index that fits.
- `filters`: user `--where` strings parsed into safe filters.
- `search`: nearest clips by cosine similarity (a `SearchRequest`); stored vectors by clip id.
- `sidecar`: the faiss IVF-SQ8 copy of a table version that answers unfiltered searches fast.
"""

from __future__ import annotations

from video_assets.index.commit import (
    CommitResult,
    DeleteResult,
    commit_partition,
    delete_videos,
)
from video_assets.index.committer import (
    CommitLock,
    CommitLockTimeout,
    commit_lock,
    commit_partition_locked,
    delete_videos_locked,
)
from video_assets.index.connection import clip_table_exists, connect, open_clip_table
from video_assets.index.errors import (
    ClipTableNotFoundError,
    IndexCommitError,
    IndexIntegrityError,
    InvalidFilterError,
    InvalidRowsError,
    InvalidSearchError,
    UnknownClipError,
)
from video_assets.index.filters import compile_where, parse_where
from video_assets.index.maintenance import (
    OptimizeResult,
    TableHealth,
    optimize_clip_table,
    table_health,
)
from video_assets.index.schema import (
    clip_schema,
    rows_to_table,
    table_name,
    validate_clip_table,
)
from video_assets.index.search import (
    SearchHit,
    SearchRequest,
    explain_search,
    get_vector,
    search_vector,
)
from video_assets.index.sidecar import SidecarInfo, build_sidecar, load_sidecar, sidecar_root
from video_assets.index.vector_index import VectorIndexPlan, plan_vector_index

__all__ = [
    "ClipTableNotFoundError",
    "CommitLock",
    "CommitLockTimeout",
    "CommitResult",
    "OptimizeResult",
    "TableHealth",
    "VectorIndexPlan",
    "commit_lock",
    "commit_partition_locked",
    "delete_videos_locked",
    "explain_search",
    "optimize_clip_table",
    "plan_vector_index",
    "table_health",
    "DeleteResult",
    "IndexCommitError",
    "IndexIntegrityError",
    "InvalidFilterError",
    "InvalidRowsError",
    "InvalidSearchError",
    "SearchHit",
    "SearchRequest",
    "SidecarInfo",
    "build_sidecar",
    "load_sidecar",
    "sidecar_root",
    "UnknownClipError",
    "clip_schema",
    "clip_table_exists",
    "commit_partition",
    "compile_where",
    "connect",
    "delete_videos",
    "get_vector",
    "open_clip_table",
    "parse_where",
    "rows_to_table",
    "search_vector",
    "table_name",
    "validate_clip_table",
]
