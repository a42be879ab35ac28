"""`video-assets models list`: every embedder in rows of at most 100 columns, with download sizes."""

from __future__ import annotations

import json
from pathlib import Path

from video_assets.cli.main import main
from video_assets.cli.model_table import WIDTH, model_row, table_lines
from video_assets.models.embedder_registry import get
from video_assets.models.hub import ModelHub
from video_assets.models.registered_embedder import RegisteredEmbedder
from video_assets.models.weights import HubRepo, WeightSpec


def test_models_list_fits_100_columns_and_lists_every_embedder(tmp_path: Path, capsys) -> None:
    assert main(["models", "list", "--output", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines.pop() == f"model dir: {tmp_path / 'models'}"  # a path as long as it is
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "no weights needed" in rows["fingerprint"]
    assert "~2.2 GiB" in rows["cosmos_embed1_336p"] and "absent" in rows["cosmos_embed1_336p"]
    assert "unknown" in rows["internvideo2"] and "(gated)" in rows["internvideo2"]
    assert not any(" 0 B " in line for line in lines)
    assert main(["models", "list", "--output", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["model"] for e in listed["embedders"]][:2] == ["fingerprint", "internvideo2"]
    assert {m["model"] for m in listed["models"]} >= {"internvideo2", "cosmos_embed1_224p"}


def test_present_weights_show_their_size_on_disk(tmp_path: Path) -> None:
    repo = HubRepo("org/tiny", "abc1234", ("w.bin",), ("w.bin",), download_bytes=2048)
    entry = RegisteredEmbedder(get("fingerprint").spec, WeightSpec("tiny", (repo,)), get("fingerprint").load)
    hub = ModelHub(tmp_path)
    assert model_row(entry, hub)["size"] == "~2.0 KiB"  # absent: the pinned download size
    target = hub.local_dir(repo) / "w.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * 3000)
    row = model_row(entry, hub)
    assert row["status"] == "present" and row["size"] == "2.9 KiB" and row["weights"] == "org/tiny@abc1234"


def test_a_long_last_column_is_cut_at_the_width() -> None:
    rows = [{"model": "m", "status": "absent", "size": "unknown", "weights": "r" * 200}]
    lines = table_lines(rows, width=60)
    assert len(lines[1]) == 60 and lines[1].endswith("…")
