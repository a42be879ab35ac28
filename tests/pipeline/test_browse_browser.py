"""`video-assets browse` as a user opens it: a real server process and a real headless Chromium.

The page must draw a decoded thumbnail per clip, play a clip's span on hover, find the near
copy first with "more like this", and show why the broken video failed. The screenshots are
kept in the test's tmp dir; the clips view is copied to docs/images/browse.png (the README's) when VIDEO_ASSETS_README_PICTURES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.pipeline.browse_data import GOOD
from tests.pipeline.chromium_devtools import DevToolsPage, open_page
from tests.pipeline.headless_chromium import chromium_or_skip
from tests.pipeline.processes import stop
from tests.pipeline.ui_server import free_port
from video_assets.catalog.registry import video_id_for

pytestmark = pytest.mark.slow

ORIGINAL, COPY = video_id_for(GOOD[0]), video_id_for(GOOD[2])
README_PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "browse.png"
DRAWN_THUMBNAILS = """(() => {
  const images = [...document.querySelectorAll('.card img')];
  return images.length && images.every(i => i.complete && i.naturalWidth > 0) ? images.length : 0;
})()"""
HOVER_PLAYS = """(() => {
  const video = document.querySelector('.card video');
  return video && video.readyState >= 2 && video.videoWidth > 0 && !video.paused
    ? [video.currentTime, video.getAttribute('src')] : null;
})()"""
FIRST_CARD = "(() => { const c = document.querySelector('#view .card'); return c && c.dataset.videoId; })()"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@contextmanager
def browse_process(data: Path, log: Path) -> Iterator[str]:
    """`video-assets browse` on a free loopback port; yields its base URL once /api/info answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "video_assets.cli", "browse", "--output", str(data), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "VIDEO_ASSETS_SETTINGS"}
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"browse exited with {server.returncode}:\n{log.read_text(errors='replace')}")
            try:
                get_json(f"{base}/api/info")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"browse not answering after 60 s:\n{log.read_text(errors='replace')}") from None
                time.sleep(0.2)
        yield base
    finally:
        stop(server, 20)
    assert f"at {base}/" in log.read_text()  # it said where it listens: loopback, as by default


def click(page: DevToolsPage, selector: str) -> None:
    assert page.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e && e.click(); return !!e; }})()"
    )


def test_the_page_shows_clips_finds_the_near_copy_and_the_failed_video(browse_data: Path, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    with browse_process(browse_data, tmp_path / "browse.log") as base, open_page(chromium, tmp_path / "cdp") as page:
        clips = get_json(f"{base}/api/clips")
        page.goto(f"{base}/")
        # One decoded thumbnail per clip of the (first, only) page.
        assert page.wait_for(DRAWN_THUMBNAILS, "every clip's thumbnail decoded") == clips["total"] == 2 * len(GOOD)
        shot = page.screenshot(tmp_path / "browse_clips.png")

        # Hovering a clip plays its span of the source video, served with ranges by the file endpoint.
        original = next(r for r in clips["rows"] if r["video_id"] == ORIGINAL and r["span_start_s"] > 0)
        media = f'.card[data-clip-id="{original["clip_id"]}"] .media'
        page.evaluate(f"document.querySelector({json.dumps(media)}).dispatchEvent(new MouseEvent('mouseenter'))")
        now, src = page.wait_for(HOVER_PLAYS, "the hovered clip playing")
        assert src == f"/media/video/{ORIGINAL}#t={original['span_start_s']:g},{original['span_end_s']:g}"
        assert original["span_start_s"] - 0.3 <= now <= original["span_end_s"] + 0.3

        # "More like this" on the original's first clip: the near copy's first clip comes first.
        first = next(r for r in clips["rows"] if r["video_id"] == ORIGINAL and r["span_start_s"] == 0)
        click(page, f'.card[data-clip-id="{first["clip_id"]}"] button.like')
        page.wait_for("document.getElementById('summary').innerText.includes('more like clip')", "the search")
        assert page.wait_for(FIRST_CARD, "the hits") == COPY
        assert page.evaluate("document.querySelector('#view .card .span').innerText").startswith("0.00")
        page.screenshot(tmp_path / "browse_more_like_this.png")

        # The videos tab opens on the failed ones, each with its file and its reason.
        failed = get_json(f"{base}/api/videos?status=failed")["videos"]
        click(page, '#tabs button[data-view="videos"]')
        page.wait_for(f"document.querySelectorAll('#view tr[data-video-id]').length === {len(failed)}", "failed videos")
        rows = page.evaluate(
            "[...document.querySelectorAll('#view tr[data-video-id]')].map(r => [r.dataset.videoId, r.innerText])"
        )
        for video in failed:
            (text,) = [t for vid, t in rows if vid == video["video_id"]]
            assert video["path"] in text and video["reason"] in text and "failed" in text
        page.screenshot(tmp_path / "browse_videos.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000  # a drawn page, not a blank one
    if os.environ.get("VIDEO_ASSETS_README_PICTURES") == "1":  # tools/readme_pictures.sh: the README's picture
        README_PICTURE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_PICTURE)
    print(f"screenshots in {tmp_path}")
