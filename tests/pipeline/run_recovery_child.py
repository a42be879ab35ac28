"""A `video-assets run` in a child process, for the crash tests of test_run_recovery.py.

usage: run_recovery_child.py INPUT_DIR DATA_DIR MARKER

The fingerprint index commit is replaced by one that creates MARKER and then
sleeps: the parent knows the run holds the `lancedb_fingerprint` pool slot
(inside step code) before it sends a signal. The run goes through the real CLI
(`video_assets.cli.main`), so its exit code is the one users get: 128 + signal
number on RunInterrupted.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import video_assets.orchestration.assets.embeddings as embedding_assets
from video_assets.cli.main import main as cli_main
from video_assets.settings.config import ClippingSettings, Settings


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
    settings_file = data_dir.parent / "child_settings.json"
    settings_file.write_text(settings.model_dump_json())
    os.environ["VIDEO_ASSETS_SETTINGS"] = str(settings_file)
    sys.stdout.reconfigure(line_buffering=True)
    return cli_main(["run", "--input", str(input_dir), "--output", str(data_dir)])


if __name__ == "__main__":
    sys.exit(main())
