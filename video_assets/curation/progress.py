"""The progress callback the long curation functions take (export, duplicates): `on_progress(phase, done,
total)`, called with `done` rising to `total` within each phase. The library stays UI-agnostic: the CLI
draws it as bars (`app.progress.PhaseBars`), the Dagster assets pass none."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    """The default `on_progress`: nobody is watching."""
