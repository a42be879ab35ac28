"""What `video-assets run` shows while it works: a line per video and a progress bar with ETA;
and `PhaseBars`, the bars of `export`, `duplicates` and `filters` (one per phase of the work).

The bars (tqdm) go to stderr and only on a terminal: piped or logged output gets the
plain lines, and `--quiet` / `--json` leave only the summary. Lines are written through
the bar so they never tear it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from video_assets.curation.progress import Progress, no_progress

if TYPE_CHECKING:  # runner imports Dagster: export and duplicates draw their bars without it
    from video_assets.app.outcome import PartitionOutcome


def terminal_bar(total: int, *, stream: TextIO | None = None, **options: object) -> tqdm:
    """A tqdm bar on `stream` (stderr by default) that draws nothing unless the stream is a terminal."""
    # disable=None: no bar unless the stream is a terminal (CI logs, pipes, files).
    return tqdm(total=total, file=stream or sys.stderr, disable=None, dynamic_ncols=True, **options)


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
            print(line, flush=True)  # seen as it happens, also through `| tee`

    def start(self, partitions: int) -> None:
        if self.quiet or not partitions:
            return
        self.bar = terminal_bar(partitions, stream=self.stream, unit="partition")

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


class PhaseBars:
    """The `on_progress(phase, done, total)` callback the curation functions take, drawn as one bar per
    phase (the phase's name, then its bar): a new phase closes the previous bar, so finished phases stay
    on screen as lines. `units` names what a phase counts (default: nothing)."""

    def __init__(self, *, units: Mapping[str, str] | None = None, stream: TextIO | None = None) -> None:
        self.units = dict(units or {})
        self.stream = stream or sys.stderr
        self.phase: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.bar is None or phase != self.phase:
            self.close()
            self.phase = phase
            if not total:  # nothing to do in this phase (an empty table): no bar
                return
            unit = self.units.get(phase, "")
            # 12.3M/50.0M where the pair search counts vector pairs in the millions; small counts as they are.
            self.bar = terminal_bar(total, stream=self.stream, desc=phase, unit=unit, unit_scale=total >= 100_000)
        if total != self.bar.total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def phase_bars(*, quiet: bool = False, units: Mapping[str, str] | None = None) -> Iterator[Progress]:
    """`PhaseBars` for a command's `on_progress`, closed at the end; `no_progress` with `quiet` (`--quiet`,
    `--json`)."""
    if quiet:
        yield no_progress
        return
    bars = PhaseBars(units=units)
    try:
        yield bars
    finally:
        bars.close()
