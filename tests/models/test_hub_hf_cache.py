"""Weights in a Hugging Face cache (HF_HOME / HF_HUB_CACHE) are found and used where they are.

The cache is laid out as huggingface_hub writes it: `models--org--name/blobs/<hash>` with
`snapshots/<commit>/<file>` symlinks to the blobs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from video_assets.cli.main import main
from video_assets.models.hub import ModelHub, status_rows
from video_assets.models.hub_errors import WeightsNotFoundError
from video_assets.models.weight_specs import WEIGHT_SPECS
from video_assets.models.weights import HubRepo, WeightSpec

COMMIT = "abc1234" + "9" * 33
REPO = HubRepo(
    repo_id="acme/tiny", revision="abc1234", allow_patterns=("*",), required_files=("weights.pt", "config.json")
)
SPEC = WeightSpec(name="tiny", repos=(REPO,))


class NoNetwork:
    """An HfApi stand-in: any use is a failure (the cache must be enough)."""

    endpoint = "https://hub.invalid"

    def __getattr__(self, name: str):
        raise AssertionError(f"the hub was contacted: HfApi.{name}")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "VIDEO_ASSETS_SETTINGS",
        "VIDEO_ASSETS_DATA_DIR",
    ):
        monkeypatch.delenv(name, raising=False)


def cache_snapshot(hub_cache: Path, repo_id: str, commit: str, files: dict[str, bytes]) -> Path:
    """Files as huggingface_hub caches them; returns the snapshot dir."""
    repo_dir = hub_cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    for name, content in files.items():
        blob = repo_dir / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(Path(name).parts) + 1)) / "blobs" / blob.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


def test_hf_home_cache_serves_weights_offline_without_copying(tmp_path, monkeypatch):
    snapshot = cache_snapshot(
        tmp_path / "hf" / "hub", REPO.repo_id, COMMIT, {"weights.pt": b"w" * 100, "config.json": b"{}"}
    )
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = ModelHub(tmp_path / "models", api=NoNetwork())

    status = hub.status(SPEC)
    (repo,) = status.repos
    assert (status.state, repo.source, repo.path, repo.commit) == ("present", "hf_cache", snapshot, COMMIT)
    assert repo.size_bytes == 102  # the blobs behind the symlinks
    assert hub.ensure(SPEC) == {REPO.repo_id: snapshot}  # offline: the cache is enough
    row = status_rows([status])[0]
    assert (row["path"], row["source"], row["status"]) == (str(snapshot), "hf_cache", "present")
    assert not (tmp_path / "models").exists()  # nothing copied into model_dir


def test_model_dir_comes_first_and_hf_hub_cache_overrides_hf_home(tmp_path, monkeypatch):
    cache_snapshot(tmp_path / "elsewhere", REPO.repo_id, COMMIT, {"weights.pt": b"w", "config.json": b"{}"})
    monkeypatch.setenv("HF_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    hub = ModelHub(tmp_path / "models", api=NoNetwork())
    assert hub.status(SPEC).repos[0].source == "hf_cache"

    own = tmp_path / "models" / REPO.repo_id / REPO.revision
    own.mkdir(parents=True)
    (own / "weights.pt").write_bytes(b"mine")
    (own / "config.json").write_bytes(b"{}")
    (repo,) = hub.status(SPEC).repos
    assert (repo.source, repo.path) == ("model_dir", own)


def test_cache_is_used_only_when_named_complete_and_at_the_pin(tmp_path, monkeypatch):
    hub_cache = tmp_path / "hf" / "hub"
    cache_snapshot(hub_cache, REPO.repo_id, COMMIT, {"weights.pt": b"w"})  # config.json missing
    cache_snapshot(hub_cache, REPO.repo_id, "f" * 40, {"weights.pt": b"w", "config.json": b"{}"})  # another commit
    # Not named by the environment: not searched.
    assert ModelHub(tmp_path / "models", api=NoNetwork()).status(SPEC).state == "absent"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    hub = ModelHub(tmp_path / "models", offline=True, api=NoNetwork())
    assert hub.status(SPEC).state == "absent"  # the pinned snapshot is incomplete, the complete one is not the pin
    with pytest.raises(WeightsNotFoundError) as info:
        hub.ensure(SPEC)
    assert str(tmp_path / "models" / REPO.repo_id / REPO.revision) in str(info.value)  # where to put them


def test_download_leaves_a_cached_snapshot_untouched(tmp_path, monkeypatch):
    snapshot = cache_snapshot(tmp_path / "hf" / "hub", REPO.repo_id, COMMIT, {"weights.pt": b"w", "config.json": b"{}"})
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    before = sorted(p.name for p in snapshot.iterdir())
    assert ModelHub(tmp_path / "models", api=NoNetwork()).download(SPEC) == {REPO.repo_id: snapshot}
    assert sorted(p.name for p in snapshot.iterdir()) == before  # no lock file written into the cache


def test_models_list_json_shows_where_each_model_lives(tmp_path, monkeypatch, capsys):
    spec = WEIGHT_SPECS["internvideo2"]
    snapshots = {}
    for repo in spec.repos:
        commit = repo.revision + "0" * (40 - len(repo.revision))
        snapshots[repo.repo_id] = cache_snapshot(
            tmp_path / "hf" / "hub", repo.repo_id, commit, {name: b"x" for name in repo.required_files}
        )
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(["models", "list", "--json", "--output", str(tmp_path / "data")]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    row = rows["internvideo2"]
    assert (row["status"], row["source"]) == ("present", "hf_cache")
    assert row["path"] == ", ".join(str(snapshots[repo.repo_id]) for repo in spec.repos)
    others = [r for name, r in rows.items() if name != "internvideo2"]
    assert others and all(r["source"] == "model_dir" and r["status"] == "absent" for r in others)
