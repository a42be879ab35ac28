"""Run the `video-assets` CLI and SIGKILL the process at a named point (crash tests).

``python -m tests.pipeline.kill_points POINT -- <cli args>``. The patches wrap the real
write paths, so the kill lands mid-work exactly where a crash (OOM killer, power loss,
`kill -9`) would, without any hook in the project's code.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pyarrow.parquet as pq


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _patch_frames_write() -> None:
    """Kill after the first clip's frames went into the partition's temp file."""
    from video_assets.stages import parquet_parts

    original = parquet_parts.StreamingParquetWriter.write

    def write(self, table):  # type: ignore[no-untyped-def]
        original(self, table)
        if self.path.parent.name == "frames":
            _die()

    parquet_parts.StreamingParquetWriter.write = write


def _patch_embeddings_write() -> None:
    """Kill with the embeddings half written: the temp file exists, the rename never happens."""
    from video_assets.orchestration.resources import storage

    original = storage.write_table_atomic

    def write_table_atomic(table, path: Path):  # type: ignore[no-untyped-def]
        if Path(path).parent.name.endswith("_embeddings"):
            tmp = Path(path).with_name(f".{Path(path).name}.killed.tmp")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(0, max(1, table.num_rows // 2)), tmp)
            _die()
        return original(table, path)

    storage.write_table_atomic = write_table_atomic


def _patch_commit(after: bool) -> None:
    """Kill inside the index step holding the table lock and the pool slot: before the
    LanceDB commit, or after it landed but before the ledger recorded it."""
    from video_assets.index import committer

    original = committer.commit_partition

    def commit_partition(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not after:
            _die()
        result = original(*args, **kwargs)
        _die()
        return result

    committer.commit_partition = commit_partition


POINTS = {
    "frames": _patch_frames_write,
    "embeddings": _patch_embeddings_write,
    "index_before_commit": lambda: _patch_commit(after=False),
    "index_after_commit": lambda: _patch_commit(after=True),
}


def main() -> None:
    point, sep, *cli_args = sys.argv[1:]
    assert sep == "--", "usage: kill_points POINT -- <cli args>"
    POINTS[point]()
    from video_assets.cli.main import main as cli_main

    sys.exit(cli_main(cli_args))


if __name__ == "__main__":
    main()
