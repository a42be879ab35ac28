"""A `video-assets run` in a child process, for the crash tests of test_run_recovery.py.

usage: run_recovery_child.py INPUT_DIR DATA_DIR MARKER

The fingerprint index commit is replaced by one that creates MARKER and then
sleeps: the parent knows the run holds the `lancedb_fingerprint` pool slot
(inside step code) before it sends a signal. Exits as the CLI must: 128 +
signal number on RunInterrupted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import video_assets.assets.embeddings as embedding_assets
from video_assets.config import ClippingSettings, Settings
from video_assets.run_guard import RunInterrupted
from video_assets.runner import run_folder


def hold_index(marker: Path):
    def commit(*args, **kwargs):
        marker.write_text("holding the lancedb_fingerprint slot")
        # Short sleeps, like step code that returns to Python often: a signal that the
        # kernel hands to another thread (LanceDB runs one) wakes no long C-level sleep,
        # so Python would run the handler only when that call returns.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(0.05)
        raise AssertionError("the parent was to kill or interrupt this run")

    return commit


def main() -> int:
    input_dir, data_dir, marker = (Path(a) for a in sys.argv[1:4])
    embedding_assets.commit_partition_locked = hold_index(marker)
    settings = Settings(
        input_dir=input_dir,
        data_dir=data_dir,
        enabled_models=("fingerprint",),
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=1.0),
    )
    try:
        run_folder(settings, progress=lambda line: print(line, flush=True))
    except RunInterrupted as interrupted:
        print(f"interrupted: {interrupted}", flush=True)
        return interrupted.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
