"""Drive a headless Chromium page through the DevTools protocol over a pipe: wait, click, read, screenshot.

The one-shot modes of `headless_chromium.Chromium` cannot click; some of the UI (a
Markdown metadata entry longer than 1000 characters) sits behind a link that opens a
dialog. `--remote-debugging-pipe` gives the protocol on file descriptors 3 (commands in)
and 4 (replies out), NUL-separated JSON, so no driver package or port is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.pipeline.headless_chromium import BROWSER_FLAGS, WINDOW, browser_env


class DevToolsPage:
    """One page of a browser started by `open_page`; every call waits at most `timeout_s`."""

    def __init__(self, commands: Any, replies: Any, timeout_s: float) -> None:
        self._commands, self._replies, self._timeout_s = commands, replies, timeout_s
        self._next_id, self._buffer, self._session = 0, b"", None

    def _send(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        self._commands.write(json.dumps(message).encode() + b"\0")
        self._commands.flush()
        while True:  # events arrive between replies; skip them
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict:
        deadline = time.monotonic() + self._timeout_s
        while b"\0" not in self._buffer:
            if not select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"chromium sent nothing for {self._timeout_s:.0f} s")
            chunk = os.read(self._replies.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def attach(self) -> None:
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False},
        )

    def goto(self, url: str) -> None:
        self._send("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        result = self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """The expression's value once truthy (the single-page app fetches and draws as it goes)."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''") or ""
                raise AssertionError(f"{what}: not there after {self._timeout_s:.0f} s; the page read:\n{text[:3000]}")
            time.sleep(0.25)

    def screenshot(self, png: Path) -> Path:
        png.write_bytes(base64.b64decode(self._send("Page.captureScreenshot", {"format": "png"})["data"]))
        return png


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


@contextmanager
def open_page(executable: str, workdir: Path, *, timeout_s: float = 60.0) -> Iterator[DevToolsPage]:
    """A headless Chromium with one blank page attached; the browser and its helpers go when the block ends."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    # Chromium's singleton socket lives under TMPDIR, and a Unix socket path has ~100 bytes at most:
    # a test's tmp dir can be longer, so the socket gets a short folder of its own.
    short_tmp = Path(tempfile.mkdtemp(prefix="cdp"))
    env = browser_env(home, short_tmp)
    flags = [*BROWSER_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={workdir / 'profile'}", "about:blank"]
    # The protocol wants its pipe ends as fds 3 and 4: bash places them there and execs the browser.
    # The child's ends move above 9 first, so placing one never overwrites the other.
    to_browser_r, from_browser_w = (_above_nine(fd) for fd in (to_browser_r, from_browser_w))
    placed = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
    log = workdir / "chromium.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", placed, executable, *flags],
            env=env,
            pass_fds=(to_browser_r, from_browser_w),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    os.close(to_browser_r)
    os.close(from_browser_w)
    with os.fdopen(to_browser_w, "wb") as commands, os.fdopen(from_browser_r, "rb") as replies:
        try:
            page = DevToolsPage(commands, replies, timeout_s)
            try:
                page.attach()
            except (OSError, RuntimeError) as err:
                raise RuntimeError(f"{err}; chromium's log:\n{log.read_text(errors='replace')[-3000:]}") from err
            yield page
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # already gone
            process.wait(timeout=10)
            shutil.rmtree(short_tmp, ignore_errors=True)
