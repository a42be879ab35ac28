"""ModelHub against a fake hub: real ModelHub code, real huggingface_hub checksum code.

`FakeApi` is an `HfApi` whose network calls (commit list, repo info, file tree)
answer from in-memory repos, so `HfApi.verify_repo_checksums` runs for real.
`FakeDownloader` stands in for `snapshot_download`: it applies the same
allow/ignore filtering (huggingface_hub's own `filter_repo_objects`), reuses
completed files like huggingface_hub does, and can fail midway or corrupt a file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import GitCommitInfo, RepoFile
from huggingface_hub.utils import filter_repo_objects

from video_assets.models import hub as hub_module
from video_assets.models.hub import LOCK_FILE, ROW_COLUMNS, ModelHub, status_rows
from video_assets.models.hub_errors import ChecksumMismatchError, HubOfflineError, WeightsNotFoundError
from video_assets.models.hub_reach import UnavailableRepos
from video_assets.models.weight_specs import WEIGHT_SPECS
from video_assets.models.weights import HubRepo, WeightSpec

COMMIT_A = "abc1234" + "5" * 33  # pinned by its short form
COMMIT_B = "0123456789" * 4  # pinned in full
OTHER = "f" * 40

GATED = HubRepo(
    repo_id="acme/tiny-gated",
    revision="abc1234",
    allow_patterns=("weights.pt",),
    required_files=("weights.pt",),
    gated=True,
)
SHARDED = HubRepo(
    repo_id="acme/tiny-sharded",
    revision=COMMIT_B,
    allow_patterns=("*.safetensors", "model.safetensors.index.json", "config.json", "*.py"),
    required_files=("config.json", "model.safetensors.index.json"),
    ignore_patterns=("*/*",),
)
SPEC = WeightSpec(name="tiny", repos=(GATED, SHARDED))
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
INDEX = json.dumps({"metadata": {}, "weight_map": {"a.weight": SHARDS[0], "b.weight": SHARDS[1]}}).encode()


@dataclass
class FakeRepo:
    commits: dict[str, dict[str, bytes]]
    main_history: list[str]
    error: Exception | None = None


def make_repos() -> dict[str, FakeRepo]:
    return {
        GATED.repo_id: FakeRepo(
            commits={COMMIT_A: {"weights.pt": b"w" * 1000, "README.md": b"# card"}, OTHER: {}},
            main_history=[OTHER, COMMIT_A],
        ),
        SHARDED.repo_id: FakeRepo(
            commits={
                COMMIT_B: {
                    "config.json": b'{"dim": 4}',
                    "model.safetensors.index.json": INDEX,
                    SHARDS[0]: b"s1" * 300,
                    SHARDS[1]: b"s2" * 200,
                    "modeling.py": b"x = 1\n",
                    "examples/demo.py": b"print()\n",
                    "examples/nb.ipynb": b"{}",
                }
            },
            main_history=[COMMIT_B],
        ),
    }


def http_error(cls: type[HfHubHTTPError], status: int) -> HfHubHTTPError:
    request = httpx2.Request("GET", "https://huggingface.co/api/models/acme/x")
    return cls(f"{status} error", response=httpx2.Response(status, request=request))


class FakeApi(HfApi):
    def __init__(self, repos: dict[str, FakeRepo]) -> None:
        super().__init__()
        self.repos = repos
        self.calls: list[tuple[str, str]] = []

    def _repo(self, name: str, repo_id: str) -> FakeRepo:
        self.calls.append((name, repo_id))
        repo = self.repos[repo_id]
        if repo.error is not None:
            raise repo.error
        return repo

    def model_info(self, repo_id, *, timeout=None, token=None, **kwargs):
        self._repo("model_info", repo_id)
        return SimpleNamespace(id=repo_id)

    def list_repo_commits(self, repo_id, *, token=None, **kwargs):
        repo = self._repo("list_repo_commits", repo_id)
        when = datetime(2024, 1, 1, tzinfo=timezone.utc)
        return [GitCommitInfo(c, [], when, "", "", None, None) for c in repo.main_history]

    def repo_info(self, repo_id, *, revision=None, token=None, **kwargs):
        repo = self._repo("repo_info", repo_id)
        found = [c for c in repo.commits if c.startswith(revision)]
        if len(found) != 1:
            raise http_error(RevisionNotFoundError, 404)
        return SimpleNamespace(sha=found[0])

    def list_repo_tree(self, repo_id, path_in_repo=None, *, recursive=False, revision=None, **kwargs):
        repo = self._repo("list_repo_tree", repo_id)
        for path, data in repo.commits[revision].items():
            lfs = {"size": len(data), "oid": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            yield RepoFile(path=path, size=len(data), oid="0" * 40, lfs=lfs)


@dataclass
class FakeDownloader:
    api: FakeApi
    calls: list[dict] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    crash_after: int | None = None
    corrupt: set[str] = field(default_factory=set)

    def __call__(self, repo_id, *, revision, local_dir, allow_patterns=None, ignore_patterns=None, token=None, **kw):
        local_dir = Path(local_dir)
        leftovers = sorted(p.name for p in local_dir.rglob("*.incomplete"))
        self.calls.append(
            {
                "repo_id": repo_id,
                "revision": revision,
                "token": token,
                "ignore": ignore_patterns,
                "leftovers": leftovers,
            }
        )
        assert re.fullmatch(r"[0-9a-f]{40}", revision), "the hub needs a full commit hash"
        repo = self.api._repo("snapshot_download", repo_id)
        files = repo.commits[revision]
        metadata = local_dir / ".cache" / "huggingface" / "download"
        metadata.mkdir(parents=True, exist_ok=True)
        done = 0
        for name in sorted(filter_repo_objects(files, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)):
            target = local_dir / name
            if target.exists():  # huggingface_hub reuses a completed file of the same commit
                continue
            if self.crash_after is not None and done >= self.crash_after:
                (metadata / f"{name}.etag.1a2b3c4d.incomplete").write_bytes(files[name][:5])
                raise httpx2.ReadError("connection reset by peer")
            data = b"garbage" + files[name] if name in self.corrupt else files[name]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.written.append(name)
            done += 1
        return str(local_dir)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi(make_repos())


@pytest.fixture
def downloader(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> FakeDownloader:
    fake = FakeDownloader(api)
    monkeypatch.setattr(hub_module, "snapshot_download", fake)
    return fake


def place(root: Path, repo: HubRepo, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = root / repo.repo_id / repo.revision / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def test_download_expands_short_pin_and_writes_the_layout(tmp_path, api, downloader):
    hub = ModelHub(tmp_path, offline=False, token="hf_test", api=api)

    dirs = hub.ensure(SPEC)

    assert dirs == {
        GATED.repo_id: tmp_path / "acme/tiny-gated/abc1234",
        SHARDED.repo_id: tmp_path / "acme/tiny-sharded" / COMMIT_B,
    }
    assert [c["revision"] for c in downloader.calls] == [COMMIT_A, COMMIT_B]
    assert {c["token"] for c in downloader.calls} == {"hf_test"}
    assert (tmp_path / "acme/tiny-gated/abc1234/weights.pt").read_bytes() == b"w" * 1000
    sharded = sorted(p.relative_to(dirs[SHARDED.repo_id]).as_posix() for p in dirs[SHARDED.repo_id].rglob("*"))
    assert sharded == sorted([LOCK_FILE, "config.json", "model.safetensors.index.json", *SHARDS, "modeling.py"])
    assert not list(tmp_path.rglob("*.download"))  # staging dirs are renamed away
    lock = json.loads((dirs[GATED.repo_id] / LOCK_FILE).read_text())
    assert (lock["revision"], lock["commit"], lock["files"]) == ("abc1234", COMMIT_A, {"weights.pt": 1000})
    status = hub.status(SPEC)
    assert status.state == "present" and [r.commit for r in status.repos] == [COMMIT_A, COMMIT_B]

    calls_before = list(api.calls)
    assert hub.ensure(SPEC) == dirs  # present: no hub traffic at all
    assert api.calls == calls_before and len(downloader.calls) == 2


def test_short_pin_outside_main_is_resolved_by_the_hub(tmp_path, api, downloader):
    api.repos[GATED.repo_id].main_history = [OTHER]
    ModelHub(tmp_path, offline=False, api=api).ensure(WeightSpec("g", (GATED,)))
    assert downloader.calls[0]["revision"] == COMMIT_A
    assert ("repo_info", GATED.repo_id) in api.calls


def test_ambiguous_short_pin_is_refused(tmp_path, api, downloader):
    twin = "abc1234" + "9" * 33
    api.repos[GATED.repo_id].main_history = [COMMIT_A, twin]
    with pytest.raises(WeightsNotFoundError, match="ambiguous") as info:
        ModelHub(tmp_path, offline=False, api=api).ensure(WeightSpec("g", (GATED,)))
    assert info.value.reason == "revision_not_found" and twin in str(info.value)
    assert downloader.calls == []


def test_branch_names_are_not_accepted_as_pins(tmp_path, api, downloader):
    spec = WeightSpec("g", (HubRepo("acme/tiny-gated", "main", ("weights.pt",), ("weights.pt",)),))
    with pytest.raises(ValueError, match="commit hash"):
        ModelHub(tmp_path, offline=False, api=api).ensure(spec)


def test_interrupted_download_leaves_no_complete_looking_dir_and_resumes(tmp_path, api, downloader):
    hub = ModelHub(tmp_path, offline=False, api=api)
    downloader.crash_after = 2  # config.json and the first shard land, then the connection drops

    with pytest.raises(WeightsNotFoundError) as info:
        hub.ensure(SPEC)

    assert info.value.reason == "network" and isinstance(info.value.__cause__, httpx2.ReadError)
    assert not (tmp_path / "acme/tiny-sharded" / COMMIT_B).exists()
    assert hub.status(SPEC).repos[1].state == "absent"
    assert list(tmp_path.rglob("*.incomplete"))  # what a killed process leaves behind

    downloader.crash_after = None
    downloader.written.clear()
    hub.ensure(SPEC)

    assert downloader.calls[-1]["leftovers"] == []  # stale partial files removed before the retry
    assert sorted(downloader.written) == sorted(
        ["model-00002-of-00002.safetensors", "model.safetensors.index.json", "modeling.py"]
    )
    assert hub.status(SPEC).state == "present"
    assert not list(tmp_path.rglob("*.incomplete"))


def test_checksum_mismatch_deletes_the_bad_file_and_the_retry_fetches_only_it(tmp_path, api, downloader):
    hub = ModelHub(tmp_path, offline=False, api=api)
    spec = WeightSpec("s", (SHARDED,))
    downloader.corrupt = {SHARDS[1]}

    with pytest.raises(ChecksumMismatchError, match=SHARDS[1]) as info:
        hub.ensure(spec)

    assert [m[0] for m in info.value.mismatches] == [SHARDS[1]]
    assert not (tmp_path / "acme/tiny-sharded" / COMMIT_B).exists()
    downloader.corrupt = set()
    downloader.written.clear()
    hub.ensure(spec)
    assert downloader.written == [SHARDS[1]]
    assert (tmp_path / "acme/tiny-sharded" / COMMIT_B / SHARDS[1]).read_bytes() == b"s2" * 200


def test_offline_and_absent_explains_how_to_get_the_weights(tmp_path, api, downloader):
    hub = ModelHub(tmp_path, offline=True, api=api)

    with pytest.raises(FileNotFoundError) as info:
        hub.ensure(SPEC)

    error = info.value
    assert isinstance(error, WeightsNotFoundError) and error.reason == "offline"
    message = str(error)
    for expected in (
        "acme/tiny-gated @ abc1234",
        f"acme/tiny-sharded @ {COMMIT_B}",
        "video-assets models download tiny",
        "accept the licence on https://huggingface.co/acme/tiny-gated",
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        str(tmp_path / "acme/tiny-gated/abc1234/weights.pt"),
        str(tmp_path / "acme/tiny-sharded" / COMMIT_B / "model.safetensors.index.json"),
        "plus every shard",
    ):
        assert expected in message, expected
    assert api.calls == [] and downloader.calls == []


def test_offline_follows_hf_hub_offline_and_uses_hand_placed_files(tmp_path, api, downloader, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = ModelHub(tmp_path, api=api)
    assert hub.offline
    place(tmp_path, GATED, {"weights.pt": b"mine"})
    assert hub.ensure(WeightSpec("g", (GATED,))) == {GATED.repo_id: tmp_path / "acme/tiny-gated/abc1234"}
    assert api.calls == [] and downloader.calls == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert not ModelHub(tmp_path, api=api).offline


@pytest.mark.parametrize(
    ("error", "reason", "says"),
    [
        (
            http_error(GatedRepoError, 403),
            "gated",
            "accept the licence on https://huggingface.co/acme/tiny-gated",
        ),
        (http_error(RepositoryNotFoundError, 404), "repo_not_found", "not found on the hub"),
        (http_error(RevisionNotFoundError, 404), "revision_not_found", "revision abc1234 does not exist"),
        (LocalEntryNotFoundError("no connection"), "network", "could not be reached"),
        (httpx2.ConnectError("dns failure"), "network", "could not be reached"),
        (http_error(HfHubHTTPError, 503), "http", "HTTP 503"),
    ],
)
def test_hub_errors_become_clear_weights_not_found(tmp_path, api, downloader, error, reason, says):
    api.repos[GATED.repo_id].error = error
    with pytest.raises(WeightsNotFoundError) as info:
        ModelHub(tmp_path, offline=False, api=api).ensure(SPEC)
    assert info.value.reason == reason and info.value.__cause__ is error
    assert says in str(info.value) and "video-assets models download tiny" in str(info.value)
    assert not (tmp_path / "acme/tiny-gated/abc1234").exists()


def test_other_errors_propagate_unchanged(tmp_path, api, downloader):
    api.repos[GATED.repo_id].error = PermissionError("disk is read-only")
    with pytest.raises(PermissionError, match="read-only"):
        ModelHub(tmp_path, offline=False, api=api).ensure(SPEC)


def test_status_list_and_rows_for_absent_partial_present(tmp_path, api):
    hub = ModelHub(tmp_path, offline=True, api=api)
    absent = hub.status(SPEC)
    assert absent.state == "absent" and absent.size_bytes == 0
    assert [r.missing_files for r in absent.repos] == [
        ("weights.pt",),
        ("config.json", "model.safetensors.index.json"),
    ]

    place(tmp_path, GATED, {"weights.pt": b"w" * 1000})
    place(tmp_path, SHARDED, {"config.json": b"{}", "model.safetensors.index.json": INDEX, SHARDS[0]: b"x" * 50})
    partial = hub.status(SPEC)
    assert [r.state for r in partial.repos] == ["present", "partial"]
    assert partial.state == "partial"
    assert partial.repos[1].missing_files == (SHARDS[1],)  # named by the index, not by the spec
    assert partial.size_bytes == 1000 + 2 + len(INDEX) + 50
    assert partial.repos[0].commit is None  # hand-placed: no lock file

    assert hub.list([SPEC, WeightSpec("g", (GATED,))]) == [partial, hub.status(WeightSpec("g", (GATED,)))]
    rows = status_rows(hub.list([SPEC, WeightSpec("g", (GATED,))]))
    assert [tuple(row) for row in rows] == [ROW_COLUMNS, ROW_COLUMNS]
    assert (rows[0]["status"], rows[0]["missing"], rows[1]["status"], rows[1]["missing"]) == (
        "partial",
        "1 files",
        "present",
        "-",
    )
    assert "acme/tiny-gated@abc1234 (gated)" in rows[0]["repos"]


def test_partial_hand_placed_dir_is_completed_without_touching_existing_files(tmp_path, api, downloader):
    place(tmp_path, SHARDED, {"config.json": b'{"mine": true}'})
    hub = ModelHub(tmp_path, offline=False, api=api)

    hub.ensure(WeightSpec("s", (SHARDED,)))

    final = tmp_path / "acme/tiny-sharded" / COMMIT_B
    assert (final / "config.json").read_bytes() == b'{"mine": true}'
    assert "config.json" not in downloader.written and "config.json" in downloader.calls[0]["ignore"]
    assert hub.status(WeightSpec("s", (SHARDED,))).state == "present"
    assert (final / LOCK_FILE).is_file() and not list(tmp_path.rglob("*.download"))


def test_download_checks_hand_placed_files_against_the_hub(tmp_path, api, downloader):
    spec = WeightSpec("g", (GATED,))
    place(tmp_path, GATED, {"weights.pt": b"w" * 1000})
    ModelHub(tmp_path, offline=False, api=api).download(spec)
    assert json.loads((tmp_path / "acme/tiny-gated/abc1234" / LOCK_FILE).read_text())["commit"] == COMMIT_A
    assert downloader.calls == []  # nothing was missing

    place(tmp_path, GATED, {"weights.pt": b"tampered"})
    (tmp_path / "acme/tiny-gated/abc1234" / LOCK_FILE).unlink()
    with pytest.raises(ChecksumMismatchError, match="weights.pt"):
        ModelHub(tmp_path, offline=False, api=api).download(spec)
    assert (tmp_path / "acme/tiny-gated/abc1234/weights.pt").read_bytes() == b"tampered"  # never deleted

    with pytest.raises(HubOfflineError):
        ModelHub(tmp_path, offline=True, api=api).download(spec)


def test_pinned_specs_match_models_md():
    internvideo2 = WEIGHT_SPECS["internvideo2"]
    assert [(r.repo_id, r.revision, r.gated) for r in internvideo2.repos] == [
        ("OpenGVLab/InternVideo2-Stage2_1B-224p-f4", "4362e1f", True),
        ("google-bert/bert-large-uncased", "6da4b6a", False),
    ]
    bert_listing = [
        "config.json",
        "model.safetensors",
        "pytorch_model.bin",
        "tf_model.h5",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "flax_model.msgpack",
        "coreml/model.mlmodel",
    ]
    assert sorted(filter_repo_objects(bert_listing, allow_patterns=list(internvideo2.repos[1].allow_patterns))) == [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    revisions = {name: spec.repos[0].revision for name, spec in WEIGHT_SPECS.items() if name.startswith("cosmos")}
    assert revisions == {
        "cosmos_embed1_224p": "787e0b9",
        "cosmos_embed1_336p": "0e8a28f",
        "cosmos_embed1_448p": "f60ec73",
    }


# A Cosmos-Embed1 repo's files, sorted by name. Written out, not built from
# weight_specs' lists: the test holds the spec's patterns against the repo, so it must not
# share the spec's idea of which files there are.
COSMOS_REPO_FILES = (
    ".gitattributes",
    "README.md",
    "__init__.py",
    "added_tokens.json",
    "config.json",
    "configuration_embed1.py",
    "convert_weights.py",
    "examples/example.ipynb",
    "examples/test_smoke.py",
    *(f"model-0000{i}-of-00005.safetensors" for i in range(1, 6)),
    "model.safetensors.index.json",
    "modeling_embed1.py",
    "modeling_outputs.py",
    "modeling_qformer.py",
    "modeling_utils.py",
    "modeling_vit.py",
    "preprocessing_embed1.py",
    "processor_config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "vocab.txt",
)
COSMOS_NOT_DOWNLOADED = {".gitattributes", "README.md", "examples/example.ipynb", "examples/test_smoke.py"}


def test_cosmos_patterns_take_the_model_and_leave_examples_out():
    repo = WEIGHT_SPECS["cosmos_embed1_336p"].repos[0]
    wanted = [name for name in COSMOS_REPO_FILES if name not in COSMOS_NOT_DOWNLOADED]
    picked = filter_repo_objects(
        list(COSMOS_REPO_FILES), allow_patterns=list(repo.allow_patterns), ignore_patterns=list(repo.ignore_patterns)
    )
    assert sorted(picked) == sorted(wanted)
    assert set(repo.required_files) <= set(wanted)


def test_a_refused_repo_is_remembered_but_a_dropped_download_is_not(tmp_path, api, downloader, monkeypatch):
    memory = UnavailableRepos()
    monkeypatch.setattr(hub_module, "UNAVAILABLE", memory)
    hub = ModelHub(tmp_path, offline=False, api=api)
    spec = WeightSpec("g", (GATED,))
    listing = api.list_repo_commits
    refuse = [True]

    def gated(repo_id, **kwargs):
        if not refuse[0]:
            return listing(repo_id, **kwargs)
        api.calls.append(("list_repo_commits", repo_id))
        raise http_error(GatedRepoError, 403)

    monkeypatch.setattr(api, "list_repo_commits", gated)
    with pytest.raises(WeightsNotFoundError, match="is gated"):
        hub.ensure(spec)
    calls = list(api.calls)
    assert ("model_info", GATED.repo_id) in calls  # the probe went first
    # Next partition: the same answer at once, without asking the hub again.
    with pytest.raises(WeightsNotFoundError, match="remembered from an attempt") as info:
        ModelHub(tmp_path, offline=False, api=api).ensure(spec)
    assert info.value.reason == "gated" and api.calls == calls

    memory.forget()
    refuse[0] = False  # access granted
    downloader.crash_after = 0
    with pytest.raises(WeightsNotFoundError, match="could not be reached"):
        hub.ensure(spec)
    downloader.crash_after = None
    hub.ensure(spec)  # a dropped connection mid-download is retried on the next attempt
    assert (tmp_path / "acme/tiny-gated/abc1234/weights.pt").read_bytes() == b"w" * 1000
