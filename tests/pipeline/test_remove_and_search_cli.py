"""`video-assets remove` and `search` through `cli.main`, on a small real data dir.

remove never wipes the index by mistake: a missing or empty input folder, a folder the
videos were not registered from, or too large a share of the registry is refused (exit
2, a message naming the folder and the counts) unless --force, and --dry-run shows what
would go and changes nothing. Search and remove errors are one line that names what the
user must look at (the table, the registry, the data dir, the query file).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.test_batches import fast_settings, index_rows, run_partitions, small_video
from video_assets.catalog.registry import VideoRegistry, video_id_for
from video_assets.cli.main import main
from video_assets.media.synthetic_damaged import make_text_file_as_video, make_truncated

pytestmark = pytest.mark.slow

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def indexed_folder(root: Path, names: list[str], instance: dg.DagsterInstance) -> tuple[Path, Path]:
    """Input folder of small videos (two clips each) run through the embed job; returns (input, data)."""
    folder, data = root / "in", root / "data"
    for seed, name in enumerate(names, 10):
        small_video(folder / name, seed=seed)
    settings = fast_settings(folder, data)
    assert all(run.success for run in run_partitions(settings, instance).values())
    assert len(index_rows(settings)) == 2 * len(names)
    return folder, data


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, instance: dg.DagsterInstance) -> tuple[Path, Path]:
    """Three indexed videos; the tests using it must leave it as they found it."""
    return indexed_folder(tmp_path_factory.mktemp("shared"), ["a.mp4", "b.mp4", "c.mp4"], instance)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def state(data: Path) -> tuple[list[tuple[str, str, str | None]], list[dict]]:
    """The registry's (id, status, error) and the index rows: what a refused command must not change."""
    registry = VideoRegistry(data / "registry.sqlite")
    settings = fast_settings(data, data)
    return [(v.video_id, v.status, v.error) for v in registry.all()], sorted(index_rows(settings), key=str)


# --- remove: refusals on the shared data dir (nothing may change) ----------------------------------


@pytest.mark.parametrize("case", ["empty", "missing", "elsewhere"])
def test_remove_refuses_a_folder_the_videos_are_not_in(
    case: str, shared: tuple[Path, Path], tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, data = shared
    wrong = tmp_path / "wrong"
    if case != "missing":
        wrong.mkdir()
    if case == "elsewhere":  # another folder with a video: the three registered files are still where they were
        small_video(wrong / "other.mp4", seed=99)
    before = state(data)
    code, out, err = cli(capsys, "remove", "--input", str(wrong), "--output", str(data), "--models", "fingerprint")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert str(wrong) in line and "--force" in line and "Traceback" not in err
    expected = {
        "empty": "holds no video file: every one of the 3 registered video(s) would count as gone",
        "missing": "does not exist: every one of the 3 registered video(s) would count as gone",
        "elsewhere": f"3 video(s) are not in {wrong} but their files still exist",
    }[case]
    assert expected in line
    assert state(data) == before
    assert not wrong.exists() if case == "missing" else True


def test_remove_dry_run_lists_what_would_go_and_changes_nothing(
    shared: tuple[Path, Path], tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, data = shared
    (tmp_path / "empty").mkdir()
    before = state(data)
    args = ("remove", "--output", str(data), "--models", "fingerprint", "--dry-run")
    code, out, err = cli(capsys, *args, "--input", str(tmp_path / "empty"))
    assert code == 2  # what the real run would answer
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        [line] = [x for x in out.splitlines() if video_id_for(name) in x]
        assert str(folder / name) in line and "clips_fingerprint 2" in line
    assert "3 of 3 registered video(s); clip rows: clips_fingerprint 6" in out
    assert "a real run would refuse" in err and str(tmp_path / "empty") in err
    assert state(data) == before

    code, out, err = cli(capsys, *args, "--input", str(folder))
    assert code == 0 and err == "" and "0 of 3 registered video(s)" in out
    assert state(data) == before

    # --json: the same plan, machine-readable, and still nothing changes.
    moved = tmp_path / "moved"
    moved.mkdir()
    (folder / "c.mp4").rename(moved / "c.mp4")
    try:
        code, out, err = cli(capsys, *args, "--input", str(folder), "--json")
    finally:
        (moved / "c.mp4").rename(folder / "c.mp4")
    plan = json.loads(out)
    assert code == 0 and err == "" and plan["dry_run"] is True and plan["removed"] is False
    assert [(v["video_id"], v["reason"], v["clip_rows"]) for v in plan["videos"]] == [
        (video_id_for("c.mp4"), "file gone", {"clips_fingerprint": 2})
    ]
    assert plan["registered"] == 3 and plan["refusals"] == []
    assert state(data) == before


def test_remove_unknown_id_is_one_line_naming_the_registry(
    shared: tuple[Path, Path], dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, data = shared
    before = state(data)
    code, out, err = cli(capsys, "remove", "no-such-video", "--input", str(folder), "--output", str(data))
    assert code == 2
    [line] = err.splitlines()
    assert "no-such-video" in line and str(data / "registry.sqlite") in line
    assert "(3 registered videos;" in line  # counted as the dry run counts ("0 of 3 registered video(s)")
    # A named video whose file is still there: the next scan would add it back.
    code, out, err = cli(capsys, "remove", video_id_for("a.mp4"), "--input", str(folder), "--output", str(data))
    assert code == 2 and str(folder / "a.mp4") in err and len(err.splitlines()) == 1
    assert "this video still has its file, so the next scan would add it back (delete or move it first" in err
    ids = [video_id_for(name) for name in ("a.mp4", "b.mp4")]
    code, out, err = cli(capsys, "remove", *ids, "--input", str(folder), "--output", str(data), "--dry-run")
    assert code == 2 and "2 of these 2 videos still have their file" in err
    assert state(data) == before


def test_remove_on_a_dir_that_is_no_data_dir_creates_nothing(
    tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-data"
    code, _, err = cli(capsys, "remove", "--input", str(tmp_path), "--output", str(missing))
    assert code == 2 and str(missing / "registry.sqlite") in err
    assert not missing.exists()


# --- remove: the real thing, on its own data dir ---------------------------------------------------


def test_remove_takes_gone_videos_and_needs_force_for_most_of_them(
    tmp_path: Path, instance: dg.DagsterInstance, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4"]
    folder, data = indexed_folder(tmp_path, names, instance)
    args = ("remove", "--input", str(folder), "--output", str(data), "--models", "fingerprint")
    ids = {name: video_id_for(name) for name in names}

    (folder / "v0.mp4").unlink()
    before = state(data)
    code, out, _ = cli(capsys, *args, "--dry-run")
    assert code == 0 and f"{ids['v0.mp4']}  {folder / 'v0.mp4'}  (file gone; clip rows: clips_fingerprint 2)" in out
    assert state(data) == before  # not even the registry noticed
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    assert {r["video_id"] for r in state(data)[1]} == {ids["v1.mp4"], ids["v2.mp4"], ids["v3.mp4"]}

    # Two of the three left: more than half, refused until forced.
    (folder / "v1.mp4").unlink()
    (folder / "v2.mp4").unlink()
    before = state(data)
    code, out, err = cli(capsys, *args)
    assert code == 2 and "would remove 2 of the 3 videos registered in" in err and "(67%" in err
    assert state(data) == before
    code, out, err = cli(capsys, *args, "--max-share", "0.7")  # a share the user allows
    assert code == 0, err
    assert {r["video_id"] for r in state(data)[1]} == {ids["v3.mp4"]}
    assert len(state(data)[1]) == 2
    registry = VideoRegistry(data / "registry.sqlite")
    assert [registry.get(ids[n]).status == "missing" for n in names] == [True, True, True, False]

    # The last one: the folder is empty now, which only --force gets past.
    (folder / "v3.mp4").unlink()
    code, _, err = cli(capsys, *args)
    assert code == 2 and f"{folder} holds no video file: every one of the 1 registered video(s)" in err
    assert len(state(data)[1]) == 2
    code, out, err = cli(capsys, *args, "--force")
    assert code == 0, err
    assert state(data)[1] == []


# --- search messages --------------------------------------------------------------------------------


def test_unknown_like_clip_names_the_table_and_where_ids_come_from(
    shared: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = shared
    args = ("search", "--model", "fingerprint", "--output", str(data))
    code, out, err = cli(capsys, *args, "--like-clip", "no-such-clip")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert "'no-such-clip'" in line and "clips_fingerprint" in line and str(data / "lancedb") in line
    assert "6 clips" in line and "--json" in line
    known = index_rows(fast_settings(data, data))[0]["clip_id"]
    code, out, err = cli(capsys, *args, "--like-clip", known, "-k", "2")
    assert code == 0 and err == "" and len(out.splitlines()) == 2


@pytest.mark.parametrize("model", [["--model", "fingerprint"], []], ids=["named", "default"])
def test_a_one_shot_like_clip_search_loads_neither_torch_nor_a_model(
    model: list[str], shared: tuple[Path, Path]
) -> None:
    """Also without --model, as users type it: the default model is told without the registry."""
    _, data = shared
    known = index_rows(fast_settings(data, data))[0]["clip_id"]
    argv = ["search", "--like-clip", known, *model, "--output", str(data), "-k", "2"]
    script = (
        "import sys; from video_assets.cli.main import main; "
        f"code = main({argv!r}); "
        "heavy = sorted(m for m in ('torch', 'dagster', 'video_assets.models.embedder_registry') if m in sys.modules); "
        "print('HEAVY', heavy); sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout and len(done.stdout.splitlines()) == 3  # two hits, then the check


@pytest.mark.parametrize("command", [["search", "--like-clip", "CLIP", "--model", "fingerprint"], ["clips"]])
def test_a_closed_pipe_ends_quietly(command: list[str], shared: tuple[Path, Path]) -> None:
    """`video-assets search ... | head -1`: the reader is gone before the output is written; no traceback."""
    _, data = shared
    known = index_rows(fast_settings(data, data))[0]["clip_id"]
    argv = [c.replace("CLIP", known) for c in command]
    child = subprocess.Popen(
        [sys.executable, "-m", "video_assets.cli", *argv, "--output", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.stdout.close()  # as `head -1` does once it has its line
    err = child.stderr.read()
    assert child.wait(timeout=120) == 141 and err == ""


def test_search_on_a_missing_data_dir_refuses_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here"
    code, out, err = cli(capsys, "search", "--like-clip", "x", "--model", "fingerprint", "--output", str(missing))
    assert code == 2 and f"data directory {missing} does not exist" in err
    assert not missing.exists()
    empty = tmp_path / "empty-data"
    empty.mkdir()
    code, out, err = cli(capsys, "search", "--like-clip", "x", "--model", "fingerprint", "--output", str(empty))
    assert code == 2 and f"no clip index at {empty / 'lancedb'}" in err
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "text", "too_short"])
def test_a_damaged_query_file_is_named_not_a_clip(
    damage: str, shared: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, data = shared
    query = tmp_path / f"query {damage}.mp4"
    if damage == "truncated":
        make_truncated(folder / "a.mp4", query, keep_fraction=0.6)
    elif damage == "text":
        make_text_file_as_video(query)
    else:
        from video_assets.media.synthetic import make_video

        make_video(query, duration_s=0.25, fps=12, size=(64, 48), seed=3)
    code, out, err = cli(capsys, "search", "--like-file", str(query), "--model", "fingerprint", "--output", str(data))
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"video-assets search: error: {query}: ")
    assert not UUID.search(line)
    if damage == "too_short":
        assert "no clip to embed" in line and "min_clip_len_s" in line


def test_a_removed_video_is_no_longer_reported_missing_by_run(
    tmp_path: Path, instance: dg.DagsterInstance, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23: after `remove`, every later run printed "MISSING ... (`video-assets remove` drops it)"."""
    from video_assets.app.runner import run_folder
    from video_assets.app.summary import summary_dict, summary_lines

    folder, data = indexed_folder(tmp_path, ["keep.mp4", "gone.mp4"], instance)
    (folder / "gone.mp4").unlink()
    settings = fast_settings(folder, data)
    before = run_folder(settings, progress=lambda _: None)
    assert any(line.startswith(f"MISSING {folder / 'gone.mp4'}") for line in summary_lines(before))
    code, _, err = cli(capsys, "remove", "--input", str(folder), "--output", str(data), "--models", "fingerprint")
    assert code == 0, err
    after = run_folder(settings, progress=lambda _: None)
    assert not any(line.startswith("MISSING") for line in summary_lines(after)) and after.complete
    assert summary_dict(after)["missing"] == [] and after.registered["removed"] == 1
    assert after.registered["missing"] == 0 and after.registered["done"] == 1
