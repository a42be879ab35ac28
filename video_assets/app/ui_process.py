"""Run `dg dev` / `dagster dev` so that a signal to `video-assets ui` stops all of it.

`dg dev` (dagster-dg-cli 1.13) started without a terminal ignores SIGINT and SIGTERM for
a minute or more: its web server stops serving, but `dg`, the webserver, the daemon and
the code servers stay alive. Dagster starts them all in its own process group on POSIX
(dagster_shared/ipc.py adds no flags there), so the child runs in a session of its own,
and on SIGINT/SIGTERM/SIGHUP we signal that whole group: SIGINT (Dagster's graceful
stop) first, then SIGTERM, then SIGKILL, until no process of the group is left. A
further signal skips to the next step. No Dagster import here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPT_GRACE_S = 10.0  # Dagster's own graceful stop after SIGINT
TERMINATE_GRACE_S = 5.0  # after SIGTERM, before SIGKILL
KILL_WAIT_S = 5.0  # for the kernel to remove SIGKILLed processes
POLL_S = 0.1


def group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` is still running (zombies waiting to be reaped do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
        state, _ppid, pgrp = stat[stat.rfind(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            return True
    return False


@dataclass
class _Stops:
    """Signal handlers that only record: the main loop does the stopping, outside signal context."""

    received: list[int] = field(default_factory=list)

    def record(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # every process of the group is gone already


def run_process_group(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: str | None = None,
    interrupt_grace_s: float = INTERRUPT_GRACE_S,
    terminate_grace_s: float = TERMINATE_GRACE_S,
) -> int:
    """Run `command` (in `cwd`) in a new session until it exits or SIGINT/SIGTERM/SIGHUP arrives here.

    On a signal the whole process group gets SIGINT, after `interrupt_grace_s` SIGTERM, after
    `terminate_grace_s` SIGKILL (each further signal received skips ahead one step). Returns 0
    when stopped by a signal, else the command's exit code (128 + N when signal N killed it).
    """
    stops = _Stops()
    previous = {signum: signal.signal(signum, stops.record) for signum in STOP_SIGNALS}
    try:
        # Its own session: a terminal's Ctrl-C reaches only us, never Dagster directly, so the
        # sequence below is the same with or without a terminal.
        child = subprocess.Popen(list(command), env=dict(env), cwd=cwd, start_new_session=True)
        pgid = child.pid
        try:
            while not stops.received and child.poll() is None:
                time.sleep(POLL_S)
            if not stops.received:
                _stop_group(pgid, stops, steps=[(signal.SIGTERM, terminate_grace_s)])  # orphans of a child that quit
                code = child.returncode
                return 128 - code if code < 0 else code
            print(
                f"video-assets ui: {signal.Signals(stops.received[0]).name} received, stopping Dagster "
                f"(SIGINT, then SIGTERM after {interrupt_grace_s:.0f} s, SIGKILL after {terminate_grace_s:.0f} more)",
                file=sys.stderr,
                flush=True,
            )
            _stop_group(
                pgid,
                stops,
                steps=[(signal.SIGINT, interrupt_grace_s), (signal.SIGTERM, terminate_grace_s)],
                child=child,
            )
            return 0
        except BaseException:
            _signal_group(pgid, signal.SIGKILL)  # never leave Dagster behind, whatever went wrong here
            raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_group(
    pgid: int,
    stops: _Stops,
    *,
    steps: list[tuple[signal.Signals, float]],
    child: subprocess.Popen | None = None,
) -> None:
    """Send each step's signal to the group and wait its grace (cut short by a new signal), then SIGKILL."""
    for signum, grace_s in [*steps, (signal.SIGKILL, KILL_WAIT_S)]:
        if not _group_running(pgid, child):
            return
        seen = len(stops.received)
        _signal_group(pgid, signum)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and len(stops.received) == seen:
            if not _group_running(pgid, child):
                return
            time.sleep(POLL_S)


def _group_running(pgid: int, child: subprocess.Popen | None) -> bool:
    if child is not None:
        child.poll()  # reap the leader, so that it does not count as alive while a zombie
    return group_alive(pgid)
