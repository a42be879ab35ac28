"""Which process owns a Dagster run, and is it still alive?

`video-assets run` tags every run it starts with the host, the pid and the
process start time. A run left unfinished by a process that is gone (kill -9,
a crash, a reboot) can then be told apart from one that is still working, and
a pid reused by an unrelated process is not mistaken for the owner because its
start time differs. Plain library code: no Dagster import.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

HOST_TAG = "video_assets/host"
PID_TAG = "video_assets/pid"
PID_START_TAG = "video_assets/pid_start"  # /proc/<pid>/stat start time (clock ticks since boot); "" off Linux


class Liveness(Enum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"  # another host, or no owner tags: nothing here can tell


@dataclass(frozen=True)
class RunOwner:
    host: str
    pid: int
    pid_start: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}"

    def liveness(self) -> Liveness:
        if self.host != socket.gethostname():
            return Liveness.UNKNOWN
        start = process_start_time(self.pid)
        if start is None:
            return Liveness.GONE
        # A different start time means the pid now belongs to another process.
        if self.pid_start and start and start != self.pid_start:
            return Liveness.GONE
        return Liveness.ALIVE


def this_process() -> RunOwner:
    return RunOwner(socket.gethostname(), os.getpid(), process_start_time(os.getpid()) or "")


def owner_tags(owner: RunOwner | None = None) -> dict[str, str]:
    owner = owner or this_process()
    return {HOST_TAG: owner.host, PID_TAG: str(owner.pid), PID_START_TAG: owner.pid_start}


def owner_from_tags(tags: Mapping[str, str]) -> RunOwner | None:
    """The owner recorded on a run, or None for runs not started by `video-assets run`."""
    if HOST_TAG not in tags or PID_TAG not in tags:
        return None
    try:
        pid = int(tags[PID_TAG])
    except ValueError:
        return None
    return RunOwner(tags[HOST_TAG], pid, tags.get(PID_START_TAG, ""))


def process_start_time(pid: int) -> str | None:
    """The process's start time as a string ("" where the OS does not say), None when it is gone.

    A zombie (killed, not yet reaped by its parent) counts as gone: it runs nothing
    and holds nothing.
    """
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = text[text.rindex(")") + 2 :].split()
        state, start_ticks = fields[0], fields[19]  # fields 3 and 22 of proc(5)
        return None if state in ("Z", "X") else start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""  # exists, owned by another user
    return ""
