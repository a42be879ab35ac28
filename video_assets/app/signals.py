"""Notice SIGINT / SIGTERM / SIGHUP even while Dagster owns the signal handlers.

`execute_in_process` swaps the SIGINT handler (and maps SIGTERM onto it) for
its own while a run executes: outside step code it only sets a private flag,
which it clears when the run ends, so the caller never learns that Ctrl-C was
pressed. Python's wakeup fd is written by the interpreter for every handled
signal whoever's handler runs, so draining it tells us reliably. No Dagster
import here.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

# SIGHUP (the terminal or ssh session closed) stops a run as SIGTERM does; its default would kill
# the process mid-run and leave the run STARTED holding its pool slots.
WATCHED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalWatch:
    """Context manager: records SIGINT/SIGTERM received inside it.

    A reader thread drains the wakeup pipe, so a signal is seen even while the main
    thread sits in a step; once one has arrived it calls `while_signalled` every
    tick (app/guard.py uses that to keep Dagster's own interrupt flag raised).

    Off the main thread it watches nothing (Python delivers signals to the main
    thread only, and Dagster captures none there either): `first` stays None.

    While no one else has replaced them, its own handlers only record the signal, so
    a Ctrl-C between two partitions never tears a half-written bookkeeping step; a
    second one there raises KeyboardInterrupt for a user who insists.
    """

    TICK_S = 0.02

    def __init__(self, while_signalled: Callable[[], None] | None = None) -> None:
        self.received: list[int] = []
        self.active = False
        self._while_signalled = while_signalled
        self._handler_calls = 0
        self._read_fd = -1
        self._write_fd = -1
        self._old_wakeup_fd = -1
        self._old_handlers: dict[int, object] = {}
        self._closing = threading.Event()
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> SignalWatch:
        self.active = threading.current_thread() is threading.main_thread()
        if not self.active:
            return self
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)  # the interpreter must never block writing it
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in WATCHED:
            self._old_handlers[signum] = signal.signal(signum, self._record)
        self._reader = threading.Thread(target=self._read, name="video-assets-signal-watch", daemon=True)
        self._reader.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.active:
            return
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_wakeup_fd)
        self._closing.set()
        assert self._reader is not None
        self._reader.join()
        with self._lock:
            self.active = False  # what was received stays readable in `received`
            os.close(self._read_fd)
            os.close(self._write_fd)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        # The reader thread records it (from the wakeup byte); this handler only keeps the
        # interpreter from raising KeyboardInterrupt in the middle of our own bookkeeping.
        if signum == signal.SIGHUP:
            forward = signal.getsignal(signal.SIGINT)
            if callable(forward) and forward != self._record:
                forward(signal.SIGINT, _frame)  # Dagster's interrupt handler, as it maps SIGTERM onto it
                return
        self._handler_calls += 1
        if self._handler_calls > 1:
            raise KeyboardInterrupt

    def _read(self) -> None:
        while not self._closing.is_set():
            select.select([self._read_fd], [], [], self.TICK_S)
            if self.poll() is not None and self._while_signalled is not None:
                self._while_signalled()

    def poll(self) -> int | None:
        """Drain the wakeup pipe now (from any thread); the first signal received, or None."""
        with self._lock:
            while self.active:
                try:
                    data = os.read(self._read_fd, 512)
                except BlockingIOError:
                    break
                if not data:
                    break
                self.received.extend(b for b in data if b in WATCHED)
        return self.first

    @property
    def first(self) -> int | None:
        """The first SIGINT/SIGTERM received so far, or None."""
        return self.received[0] if self.received else None


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name
