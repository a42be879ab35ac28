"""Drive a real headless Chromium from tests: render a page's DOM or take a screenshot.

Uses the browser's own one-shot modes (`--dump-dom`, `--screenshot`) so no driver
package is needed. `--virtual-time-budget` lets the single-page app run its
GraphQL fetches and timers before the DOM is printed or the picture taken; the
browser exits by itself once the budget is spent.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
REQUIRE_ENV = "VIDEO_ASSETS_REQUIRE_BROWSER"
WINDOW = (1600, 1000)
# Headless, no sandbox (containers), no GPU, a clean profile and no background traffic: on a
# closed network Chromium's own connections fail by the dozen.
BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


def browser_env(home: Path, tmp: Path) -> dict[str, str]:
    """A private HOME and config/cache dirs for one browser, and its TMPDIR (singleton socket)."""
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(tmp),
    }


def find_chromium() -> str | None:
    for name in EXECUTABLES:
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_required() -> bool:
    """CI (and anyone who sets VIDEO_ASSETS_REQUIRE_BROWSER=1) must not skip the browser checks silently."""
    ci = os.environ.get("CI", "").strip().lower()
    return os.environ.get(REQUIRE_ENV) == "1" or ci not in ("", "0", "false")


def chromium_or_skip() -> str:
    path = find_chromium()
    if path:
        return path
    message = f"no headless browser on PATH (looked for {', '.join(EXECUTABLES)}); install Debian's `chromium` package"
    if browser_required():
        pytest.fail(f"{message} (required because CI or {REQUIRE_ENV}=1 is set)", pytrace=False)
    pytest.skip(message)


def visible_text(dom: str) -> str:
    """The page's text as a user reads it: no scripts or styles, tags dropped, whitespace collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


@dataclass(frozen=True)
class Chromium:
    executable: str
    workdir: Path  # profile, HOME and caches live here, so nothing is written outside the test's tmp dir
    budget_ms: int = 10_000
    timeout_s: float = 60.0

    def dump_dom(self, url: str) -> str:
        return self._run(["--dump-dom", url])

    def screenshot(self, url: str, png: Path) -> Path:
        self._run([f"--screenshot={png}", "--hide-scrollbars", url])
        if not png.exists():
            raise RuntimeError(f"chromium wrote no screenshot for {url}")
        return png

    def _run(self, args: list[str]) -> str:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = browser_env(home, home)
        command = [
            self.executable,
            *BROWSER_FLAGS,
            f"--user-data-dir={self.workdir / 'profile'}",
            f"--virtual-time-budget={self.budget_ms}",
            *args,
        ]
        # Own process group: the renderer and GPU helpers go down with the browser on any exit path.
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            stdout, stderr = process.communicate(timeout=self.timeout_s)
        finally:
            _kill_group(process)
        if process.returncode != 0:
            raise RuntimeError(f"chromium exited with {process.returncode}:\n{stderr.decode(errors='replace')[-3000:]}")
        return stdout.decode(errors="replace")


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the browser and all its helpers already exited: the normal case
    process.wait(timeout=10)
