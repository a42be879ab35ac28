"""The processes a test started: their children and descendants (read from /proc), and stopping one."""

from __future__ import annotations

import subprocess
from pathlib import Path


def children(pid: int) -> list[int]:
    """The direct children of `pid` (none once it is gone)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    """Every process below `pid`: children, their children, ... (e.g. workers forked by a server it started)."""
    found, todo = [], children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children(child))
    return found


def stop(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM, and SIGKILL if it is still there after `timeout_s`; waits for it either way."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)
