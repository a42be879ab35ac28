"""What a user sees when they open the Dagster UI in a real (headless) browser after `run`.

Three generated videos go through the graph: two good ones and a text file named
.mp4, whose partition fails. The pages are rendered by Chromium from a live
dagster-webserver, and the checks read the text a user would read (and, for the
thumbnails, click the link a user clicks: `chromium_devtools.py`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.pipeline.chromium_devtools import open_page
from tests.pipeline.headless_chromium import WINDOW, Chromium, chromium_or_skip, visible_text
from tests.pipeline.ui_server import materialize_tiny_videos, running_webserver
from video_assets.app.outcome import RunSummary
from video_assets.catalog.registry import video_id_for
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic_damaged import make_text_file_as_video
from video_assets.orchestration.definitions import EMBED_JOB
from video_assets.settings.config import Settings

pytestmark = pytest.mark.slow

GOOD = ["walk.mp4", "street/run.mp4"]
BROKEN = "notes.mp4"
MEDIA = ["source_videos", "clips", "frames"]
FINGERPRINT = ["fingerprint_tensors", "fingerprint_embeddings", "fingerprint_clip_index"]
# Partitioned too, but run by the curation sensor, not by `run`: every partition missing here.
CURATION = ["fingerprint_clip_filters"]
PARTITIONED = MEDIA + FINGERPRINT


@dataclass(frozen=True)
class LiveUI:
    base_url: str
    browser: Chromium
    summary: RunSummary

    def text(self, path: str, *, ready: str | Callable[[str], bool], attempts: int = 4) -> str:
        """The page's visible text once `ready` shows (a marker, or a test of the whole text): the SPA
        may still be fetching, or drawing part of a graph, on a slow machine."""
        is_ready = ready if callable(ready) else (lambda text: ready in text)
        text = ""
        for _ in range(attempts):
            text = visible_text(self.browser.dump_dom(self.base_url + path))
            if is_ready(text):
                return text
        raise AssertionError(f"{path} never became ready ({ready!r}); the page read:\n{text[:3000]}")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveUI]:
    browser = Chromium(chromium_or_skip(), tmp_path_factory.mktemp("chromium"))  # skip before the slow setup
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    # Dagster shows a newsletter dialog over every page until this file exists (as after "Skip").
    (home / ".nux").mkdir(parents=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    make_text_file_as_video(root / "videos" / BROKEN)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        summary = materialize_tiny_videos(root, GOOD)
    assert sorted(p.key for p in summary.failed) == [video_id_for(BROKEN)]
    with running_webserver(home, summary.settings_path) as base_url:
        yield LiveUI(base_url, browser, summary)


def test_catalog_lists_every_asset_with_its_partition_count(ui: LiveUI) -> None:
    text = ui.text("/assets", ready=f"{len(GOOD) + 1} partitions")
    words = set(text.split())
    assert set(PARTITIONED) | {"fingerprint_clip_index_optimized"} <= words
    # One "3 partitions" status per partitioned asset: every video is a partition, the broken one too.
    assert text.count(f"{len(GOOD) + 1} partitions") == len(PARTITIONED + CURATION), text
    assert "Never materialized" in text  # the unpartitioned index optimizer did not run


def test_partitions_tab_counts_materialized_and_failed_videos(ui: LiveUI) -> None:
    # The last asset of the graph: the broken video's failure reaches it through the failed run.
    text = ui.text("/assets/fingerprint_clip_index?view=partitions", ready="Materialized (")
    assert "Materialized (2)" in text and "Failed (1)" in text and "Missing (0)" in text, text
    for name in [*GOOD, BROKEN]:
        assert video_id_for(name) in text


def test_a_selected_partition_shows_its_own_metadata(ui: LiveUI) -> None:
    # The first video run, not the latest: its table_version differs from the asset's latest one.
    first, latest = [p for p in ui.summary.partitions if p.success]
    meta = first.metadata["fingerprint_clip_index"]
    assert meta["table_version"] != latest.metadata["fingerprint_clip_index"]["table_version"]
    text = ui.text(f"/assets/fingerprint_clip_index?view=partitions&partition={first.key}", ready=f"Job {EMBED_JOB}")
    for key in ("table", "table_version", "inserted"):
        assert f"{key} {meta[key]}" in text, text


def test_the_failed_partition_says_that_its_run_failed(ui: LiveUI) -> None:
    key = video_id_for(BROKEN)
    text = ui.text(f"/assets/source_videos?view=partitions&partition={key}", ready="did not materialize this asset")
    assert "Latest materialization None" in text, text


def test_the_failed_partitions_events_say_why(ui: LiveUI) -> None:
    # The partition's page links its events ("View all historical events"): the failure is one of them.
    key = video_id_for(BROKEN)
    text = ui.text(f"/assets/source_videos?view=events&partition={key}", ready="observed in run")
    assert f"no video of partition {key} could be read" in text, text
    assert "cannot open as a video container" in text and "status failed" in text, text
    assert f"{BROKEN} failed" in text  # the video table's row: path, status, reason


def test_the_index_row_count_is_the_tables(ui: LiveUI) -> None:
    settings = Settings.model_validate_json(ui.summary.settings_path.read_text())
    rows = open_clip_table(connect(settings.paths.lancedb_uri), "fingerprint").count_rows()
    per_partition = [
        p.metadata["fingerprint_clip_index"]["rows_for_videos"] for p in ui.summary.partitions if p.success
    ]
    assert rows == sum(per_partition) > max(per_partition)  # the table's count differs from a partition's
    text = ui.text("/assets/fingerprint_clip_index", ready="Row count")
    assert f"Row count {rows}" in text, text


# The check's Partitions tab is React state, not a URL: clicked like a user does.
OPEN_CHECK_PARTITIONS = """(() => {
  const tab = [...document.querySelectorAll('[role=tab]')].find(t => t.innerText.trim() === 'Partitions'
    && !t.closest('[role=tablist]').innerText.includes('Lineage'));
  if (tab) tab.click();
  return Boolean(tab);
})()"""


def test_the_index_check_passed_for_the_good_partitions(ui: LiveUI, tmp_path: Path) -> None:
    body = "(document.body ? document.body.innerText : '')"
    with open_page(ui.browser.executable, tmp_path / "devtools") as page:
        page.goto(f"{ui.base_url}/assets/fingerprint_clip_index?view=checks&checkDetail=index_rows_match")
        page.wait_for(f"{body}.includes('Latest execution')", "the check's page")
        assert page.wait_for(OPEN_CHECK_PARTITIONS, "the check's Partitions tab")
        page.wait_for(f"{body}.includes('Passed (')", "the check's partition statuses")
        text = page.evaluate(body)
        png = page.screenshot(tmp_path / "index_check_partitions.png")
    print(f"screenshot of the check's partitions: {png}")
    # The good partitions' passes stand; the broken video's partition recorded no evaluation (its
    # asset did not materialize): "Missing", not "Execution failed", and the check's header in the
    # list reads the last real evaluation.
    assert f"Passed ({len(GOOD)})" in text and "Missing (1)" in text, text
    assert "Execution Failed (0)" in text and "\nFailed (0)" in text, text
    assert "index_rows_match\nSucceeded" in text and "Execution failed" not in text, text


# The fingerprint group has seven assets (curation and index upkeep too): zoomed out to fit them
# the graph draws bare names, so its chain that `run` builds is selected by key.
@pytest.mark.parametrize(
    ("selection", "assets"),
    [('group:"media"', MEDIA), (" or ".join(f'key:"{a}"' for a in FINGERPRINT), FINGERPRINT)],
    ids=["media", "fingerprint"],
)
def test_lineage_of_a_group_shows_each_asset_with_its_failed_partition(
    ui: LiveUI, selection: str, assets: list[str]
) -> None:
    # Ready once every node of the group is drawn with its partition health (the graph lays out
    # its nodes one by one; under load a read can catch it half drawn).
    text = ui.text(f"/asset-groups~{quote(selection)}", ready=lambda t: t.count("(1 failed)") >= len(assets))
    assert set(assets) <= set(text.split())
    assert text.count("(1 failed)") == len(assets), text


def test_asset_page_shows_the_latest_materialization_and_its_metadata(ui: LiveUI) -> None:
    latest = [p for p in ui.summary.partitions if p.success][-1]  # run_folder runs partitions in key order
    text = ui.text("/assets/fingerprint_clip_index", ready=latest.key)
    assert "Latest materialization" in text
    assert latest.metadata["fingerprint_clip_index"]["table"] in text
    assert "fingerprint_embeddings" in text and EMBED_JOB in text  # upstream asset and the job that builds it


def test_screenshot_of_the_partitions_tab(ui: LiveUI, tmp_path: Path) -> None:
    png = ui.browser.screenshot(
        f"{ui.base_url}/assets/frames?view=partitions&partition={video_id_for(GOOD[0])}", tmp_path / "partitions.png"
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == WINDOW  # IHDR width, height
    # A blank 1600x1000 page compresses to ~7 KB; the rendered partitions tab is several times that.
    assert len(data) > 30_000, len(data)


# The UI inlines Markdown metadata under 1000 characters only; the strips (data: JPEGs) are
# longer, so their row shows a "[Show Markdown]" link that opens them in a dialog.
OPEN_THUMBNAILS = """(() => {
  const row = [...document.querySelectorAll('tr')].find(r => r.cells.length > 1 && r.cells[0].innerText.trim() === 'thumbnails');
  const link = row && [...row.querySelectorAll('a')].find(a => a.innerText.includes('Show Markdown'));
  if (link) link.click();
  return Boolean(link);
})()"""
DRAWN_THUMBNAILS = """[...document.querySelectorAll('img')]
  .filter(i => i.src.startsWith('data:image/jpeg;base64,') && i.complete && i.naturalWidth > 0)
  .map(i => [i.alt, i.naturalWidth, i.naturalHeight])"""


def test_a_frames_partition_shows_its_clip_table_and_thumbnail_strips(ui: LiveUI, tmp_path: Path) -> None:
    key = video_id_for(GOOD[0])
    (outcome,) = [p for p in ui.summary.partitions if p.key == key]
    spans = [record.data["span"] for record in outcome.metadata["frames"]["clip_table"].records]
    assert spans
    with open_page(ui.browser.executable, tmp_path / "devtools") as page:
        page.goto(f"{ui.base_url}/assets/frames?view=partitions&partition={key}")
        # The clip table is drawn inline: a cell per clip span.
        page.wait_for(
            f"(() => {{ const cells = [...document.querySelectorAll('td')].map(td => td.innerText.trim());"
            f" return {json.dumps(spans)}.every(s => cells.includes(s)); }})()",
            "the clip table's spans",
        )
        assert page.wait_for(OPEN_THUMBNAILS, "the thumbnails row and its link")
        drawn = page.wait_for(DRAWN_THUMBNAILS, "the thumbnail strips")
        png = page.screenshot(tmp_path / "frames_partition_thumbnails.png")
    print(f"screenshot of the thumbnail strips: {png}")
    assert [alt for alt, _, _ in drawn] == spans  # one decoded strip per clip, labelled with its span
    assert all(0 < height <= 96 and width >= height for _, width, height in drawn), drawn
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == WINDOW
