"""Checks on the `on_progress(phase, done, total)` calls of the curation functions, and a fake terminal."""

from __future__ import annotations

import io
import sys

import pytest

from video_assets.cli.main import main


class Terminal(io.StringIO):
    """A stderr that says it is a terminal: tqdm draws its bar there."""

    def isatty(self) -> bool:
        return True


class ProgressCalls(list):
    """An `on_progress` recording its calls."""

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.append((phase, done, total))

    def phases(self) -> list[str]:
        """The phases in the order they ran, after checking that each ran once, from 0, with its count
        never falling and ending at its total (which stays the same)."""
        order: list[str] = []
        for phase, done, _ in self:
            if not order or order[-1] != phase:
                assert phase not in order, f"{phase} reported again after another phase: {self}"
                assert done == 0, f"{phase} starts at {done}: {self}"
                order.append(phase)
        for phase in order:
            counts = [(d, t) for p, d, t in self if p == phase]
            assert len({t for _, t in counts}) == 1, f"{phase}: total changed: {counts}"
            assert all(a[0] <= b[0] for a, b in zip(counts, counts[1:])), f"{phase}: count fell: {counts}"
            assert counts[-1][0] == counts[-1][1], f"{phase} ends at {counts[-1]}, not its total"
        return order

    def total(self, phase: str) -> int:
        return next(t for p, _, t in self if p == phase)


def on_terminal(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[int, str]:
    """`video-assets <argv>` with a terminal as sys.stderr: its exit code and what it wrote there."""
    terminal = Terminal()
    with monkeypatch.context() as patch:  # only stderr: the test's other patches stay
        patch.setattr(sys, "stderr", terminal)
        code = main(argv)
    return code, terminal.getvalue()
