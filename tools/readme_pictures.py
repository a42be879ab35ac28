"""Make the README's pictures from real runs: a terminal `run`, the Dagster partition page, the browse page.

    PYTHONPATH=$PWD .venv/bin/python tools/readme_pictures.py          # writes docs/images/*.png

Generates sample videos (two scenes, a re-encoded near copy, a broken file), runs `video-assets run`
and `duplicates` on them in a temporary folder, renders the terminal output as a picture, opens
`video-assets ui` and `video-assets browse` on the result and screenshots both in headless Chromium
(Debian's `chromium`). Nothing is mocked: the pictures show what these commands print and serve.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pipeline.browse_data import make_browse_videos  # noqa: E402 (the repository root first)
from tests.pipeline.chromium_devtools import open_page  # noqa: E402
from tests.pipeline.headless_chromium import find_chromium  # noqa: E402
from tests.pipeline.test_browse_browser import DRAWN_THUMBNAILS, browse_process  # noqa: E402
from tests.pipeline.ui_daemon import running_ui  # noqa: E402
from video_assets.catalog.registry import VideoRegistry  # noqa: E402

IMAGES = ROOT / "docs" / "images"
TERMINAL_PAGE = """<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e1e1e; }}
pre {{ margin: 0; padding: 18px 22px; color: #d4d4d4; font: 14px/1.45 "DejaVu Sans Mono", monospace;
       white-space: pre-wrap; }}
.prompt {{ color: #6a9955; }} .failed {{ color: #f48771; }} .ok {{ color: #9cdcfe; }}
</style><pre>{body}</pre>"""


def cli(args: list[str], env: dict[str, str]) -> str:
    """A real `video-assets` command; its output as a terminal shows it (stdout and stderr)."""
    proc = subprocess.run([sys.executable, "-m", "video_assets.cli", *args], env=env, capture_output=True, text=True)
    return proc.stderr + proc.stdout


def terminal_html(command: str, output: str) -> str:
    lines = [f'<span class="prompt">$ {html.escape(command)}</span>']
    for line in output.rstrip().splitlines():
        css = "failed" if "FAILED" in line else "ok" if ": ok:" in line else ""
        lines.append(f'<span class="{css}">{html.escape(line)}</span>' if css else html.escape(line))
    return TERMINAL_PAGE.format(body="\n".join(lines))


def screenshot(executable: str, work: Path, url: str, ready: str, png: Path, *, crop: bool = False) -> None:
    with open_page(executable, work / f"chromium-{png.stem}", timeout_s=120) as page:
        page.goto(url)
        page.wait_for(ready, f"{png.stem} drawn")
        page.screenshot(png)
    if crop:  # the terminal text, not the empty window below it
        from PIL import Image, ImageChops

        picture = Image.open(png).convert("RGB")
        box = ImageChops.difference(picture, Image.new("RGB", picture.size, picture.getpixel((0, 0)))).getbbox()
        if box:
            picture.crop((0, 0, picture.width, min(picture.height, box[3] + 18))).save(png)
    print(f"wrote {png.relative_to(ROOT)}")


def main() -> None:
    executable = find_chromium()
    if executable is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    IMAGES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="readme_pictures_"))
    videos, data, home = make_browse_videos(work / "videos"), work / "data", work / "home"
    (home / ".nux").mkdir(parents=True)  # no newsletter dialog over the page (as after its "Skip")
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT), "VIDEO_ASSETS_WORKERS": "1"}
    env.pop("VIDEO_ASSETS_SETTINGS", None)
    run_args = ["run", "--input", str(videos), "--output", str(data), "--models", "fingerprint"]
    output = cli(run_args, env).replace(str(work) + "/", "")
    cli(["duplicates", "--output", str(data), "--model", "fingerprint", "--quiet"], env)
    page = work / "terminal.html"
    page.write_text(terminal_html("video-assets run --input videos --output data --models fingerprint", output))
    screenshot(
        executable,
        work,
        page.as_uri(),
        "document.querySelector('pre') !== null",
        IMAGES / "terminal_run.png",
        crop=True,
    )
    key = next(v.partition_key for v in VideoRegistry(data / "registry.sqlite").all() if v.status == "done")
    os.environ["DAGSTER_HOME"] = str(home)
    with running_ui(home, videos, data, work / "ui.log") as base_url:
        url = f"{base_url}/assets/frames?view=partitions&partition={key}"
        ready = "!!document.body && document.body.innerText.includes('thumbnails')"
        screenshot(executable, work, url, ready, IMAGES / "dagster_partition.png")
    with browse_process(data, work / "browse.log") as base_url:
        screenshot(executable, work, base_url + "/", DRAWN_THUMBNAILS, IMAGES / "browse.png")


if __name__ == "__main__":
    main()
