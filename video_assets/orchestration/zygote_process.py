"""The launcher's handle on a warm zygote (video_assets.orchestration.warm_zygote): start it, wait until it
is warm, ask it to fork a run worker, tell whether it runs the code on disk, let it go. No Dagster here."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from video_assets.catalog.run_owner import process_start_time

PACKAGE = Path(__file__).resolve().parents[1]
SETTINGS_ENV = "VIDEO_ASSETS_SETTINGS"


class ZygoteError(RuntimeError):
    """The zygote could not start, or stopped answering."""


def code_fingerprint(package: Path = PACKAGE) -> tuple[tuple[str, int], ...]:
    """What a zygote has loaded and must not outlive: every module of the package and the settings file,
    with their modification times (a few hundred stat calls: cheap enough for every launch)."""
    files = sorted(package.rglob("*.py"))
    settings = os.environ.get(SETTINGS_ENV)
    if settings:
        files.append(Path(settings))
    stamps = []
    for path in files:
        try:
            stamps.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            stamps.append((str(path), -1))  # a file gone since: a change like any other
    return tuple(stamps)


def process_alive(pid: int) -> bool:
    """Whether `pid` runs and is still the session leader a run worker makes itself (so a recycled pid
    does not count); a zombie does not count either."""
    try:
        if os.getsid(pid) != pid:
            return False
    except (ProcessLookupError, PermissionError):
        return False
    return process_start_time(pid) is not None


class ZygoteProcess:
    """One zygote of code location `module`, started now in a session of its own, with the code
    fingerprint it loaded."""

    def __init__(self, module: str, ready_timeout_s: float, cwd: str | None = None) -> None:
        self.fingerprint = code_fingerprint()  # taken before it imports: a change during warm-up counts
        self.process = subprocess.Popen(
            [sys.executable, "-m", "video_assets.orchestration.warm_zygote", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
        self.pending = b""
        try:
            ready = self.answer(ready_timeout_s)
        except ZygoteError:
            self.kill()
            raise
        if not ready.get("ready"):
            self.kill()
            raise ZygoteError(f"the warm zygote could not load the code location:\n{ready.get('error', '')}")

    def answer(self, timeout_s: float) -> dict:
        """The zygote's next JSON line, waiting up to `timeout_s`."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(stdout.fileno(), selectors.EVENT_READ)
            while b"\n" not in self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ZygoteError(f"no answer from the warm zygote in {timeout_s:.0f} s")
                if not selector.select(timeout=left):
                    continue
                chunk = os.read(stdout.fileno(), 1 << 16)
                if not chunk:
                    raise ZygoteError(f"the warm zygote exited ({self.process.wait()})")
                self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def send(self, message: dict) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write((json.dumps(message) + "\n").encode())
            stdin.flush()
        except (OSError, ValueError) as e:
            raise ZygoteError(f"the warm zygote is gone ({e})") from e

    def fork(self, run_id: str, serialized_instance_ref: str, timeout_s: float = 60.0) -> int:
        """Have the zygote fork a worker for `run_id`; its pid."""
        self.send({"run_id": run_id, "instance_ref": serialized_instance_ref})
        reply = self.answer(timeout_s)
        if reply.get("run_id") != run_id or not isinstance(reply.get("pid"), int):
            raise ZygoteError(f"unexpected answer from the warm zygote: {reply}")
        return reply["pid"]

    def usable(self) -> bool:
        """Alive and loaded from the code and settings on disk now."""
        return self.process.poll() is None and self.fingerprint == code_fingerprint()

    def drain(self) -> None:
        """No more forks; it exits once its workers are done (their runs finish on the code they started)."""
        try:
            self.send({"drain": True})
        except ZygoteError:
            pass
        self.close_pipes()

    def close(self) -> None:
        """Let go: at EOF the zygote interrupts its workers and exits (the daemon is stopping)."""
        self.close_pipes()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass  # a dead zygote's stdin: nothing left to flush it to

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.close_pipes()
        self.process.wait()
