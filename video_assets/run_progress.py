"""What `video-assets run` shows while it works: a line per video and a progress bar with ETA.

The bar (tqdm) goes to stderr and only on a terminal: piped or logged output gets the
plain lines, and `--quiet` / `--json` leave only the summary. Lines are written through
the bar so they never tear it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from video_assets.runner import PartitionOutcome


class RunProgress:
    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.bar: tqdm | None = None
        self.done = self.failed = self.clips = 0
        self.seconds = 0.0

    def __call__(self, line: str) -> None:
        """A per-video (or notice) line."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line)

    def start(self, partitions: int) -> None:
        if self.quiet or not partitions:
            return
        # disable=None: no bar unless the stream is a terminal (CI logs, pipes, files).
        self.bar = tqdm(total=partitions, unit="partition", file=self.stream, disable=None, dynamic_ncols=True)

    def partition_done(self, outcome: PartitionOutcome) -> None:
        self.done += sum(v.status == "done" for v in outcome.videos)
        self.failed += sum(v.status == "failed" for v in outcome.videos)
        self.clips += sum(v.indexed_clips for v in outcome.videos)
        self.seconds += outcome.seconds
        if self.bar is not None:
            rate = self.clips / self.seconds if self.seconds else 0.0
            self.bar.set_postfix_str(
                f"videos done {self.done}, failed {self.failed}, {rate:.1f} clips/s", refresh=False
            )
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def progress_printer(*, quiet: bool = False) -> Iterator[RunProgress]:
    progress = RunProgress(quiet=quiet)
    try:
        yield progress
    finally:
        progress.close()
