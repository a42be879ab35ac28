"""Pinned model weights on local disk, fetched from the Hugging Face hub on first use.

Layout (what a download writes, and what a user places by hand):

    {model_dir}/{repo_id}/{revision}/<files, as named in the repo>
    e.g. models/OpenGVLab/InternVideo2-Stage2_1B-224p-f4/4362e1f/InternVideo2-stage2_1b-224p-f4.pt

`revision` is the pin exactly as written in `weight_specs.py`. A repo is present
when all its `required_files` exist, plus every shard named by a required
`*.index.json`; hand-placed files need nothing more.

A download goes to a sibling staging dir `.{revision}.download/` (same
filesystem), is checked with `HfApi.verify_repo_checksums` (sha256 of LFS files,
git sha1 of the others), gets a lock file `.weights-lock.json` (full commit
hash, file sizes) and is then renamed into place: an interrupted download never
leaves a directory that looks complete. The next attempt reuses the files the
staging dir already holds (huggingface_hub skips them) and deletes the
per-process `*.incomplete` leftovers, which huggingface_hub 2.4 cannot resume.
A file lock `.{revision}.lock` keeps it to one downloader per repo.

Short pins are expanded to the full hash first (the hub wants 40 characters):
by prefix over `HfApi.list_repo_commits` (the default branch's history), else
by asking the hub for that revision; the result goes into the lock file.

Before a download, one short request checks that the hub can serve the repo, and
a repo it cannot serve is remembered for a while in this process
(`video_assets.models.hub_reach`): an unreachable hub costs one failed request,
not huggingface_hub's 20-50 s of retries in every partition.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.utils import WeakFileLock

from video_assets.models.hub_errors import (
    ChecksumMismatchError,
    HubOfflineError,
    MissingRepo,
    WeightsNotFoundError,
    describe_hub_error,
)
from video_assets.models.hub_reach import PERMANENT_REASONS, UNAVAILABLE, RepoKey, probe
from video_assets.models.weights import HubRepo, WeightSpec

LOCK_FILE = ".weights-lock.json"
_FULL_HASH = re.compile(r"[0-9a-f]{40}")
_COMMIT_PIN = re.compile(r"[0-9a-f]{7,40}")

WeightState = Literal["present", "partial", "absent"]


@dataclass(frozen=True)
class RepoStatus:
    repo_id: str
    revision: str  # the pin
    commit: str | None  # full hash from the lock file; None for hand-placed files
    path: Path
    state: WeightState
    missing_files: tuple[str, ...]
    size_bytes: int
    gated: bool


@dataclass(frozen=True)
class ModelStatus:
    name: str
    state: WeightState
    repos: tuple[RepoStatus, ...]

    @property
    def size_bytes(self) -> int:
        return sum(repo.size_bytes for repo in self.repos)

    @property
    def missing_files(self) -> tuple[str, ...]:
        return tuple(str(repo.path / name) for repo in self.repos for name in repo.missing_files)


def offline_from_env() -> bool:
    """huggingface_hub's convention, read now rather than when it was imported."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(name, "").upper() in constants.ENV_VARS_TRUE_VALUES for name in names)


class ModelHub:
    """Finds, downloads and checks pinned weights under `model_dir` (layout in the module doc).

    `offline=None` follows HF_HUB_OFFLINE; offline, the hub is never contacted.
    `token=None` lets huggingface_hub use HF_TOKEN or the saved login.
    """

    def __init__(
        self,
        model_dir: Path | str,
        *,
        offline: bool | None = None,
        token: str | None = None,
        api: HfApi | None = None,
    ) -> None:
        self.model_dir = Path(model_dir).expanduser()
        self.offline = offline_from_env() if offline is None else offline
        self.token = token
        self._api = api if api is not None else HfApi(token=token)

    def local_dir(self, repo: HubRepo) -> Path:
        return self.model_dir / repo.repo_id / repo.revision

    def status(self, spec: WeightSpec) -> ModelStatus:
        repos = tuple(self._repo_status(repo) for repo in spec.repos)
        states = {repo.state for repo in repos}
        state: WeightState = states.pop() if len(states) == 1 else "partial"
        return ModelStatus(name=spec.name, state=state, repos=repos)

    def list(self, specs: Iterable[WeightSpec]) -> list[ModelStatus]:
        return [self.status(spec) for spec in specs]

    def ensure(self, spec: WeightSpec) -> dict[str, Path]:
        """repo_id -> local dir, downloading what is missing unless offline."""
        todo = [repo for repo in spec.repos if self._repo_status(repo).state != "present"]
        if todo and self.offline:
            raise self.not_found_error(spec, "offline", "offline mode is on and the files are not on disk")
        for repo in todo:
            self._fetch(spec, repo)
        return {repo.repo_id: self.local_dir(repo) for repo in spec.repos}

    def download(self, spec: WeightSpec) -> dict[str, Path]:
        """`ensure`, then check hand-placed repos against the hub and lock their commit."""
        if self.offline:
            raise HubOfflineError(spec.name)
        dirs = self.ensure(spec)
        for repo in spec.repos:
            if _read_lock(self.local_dir(repo)) is None:
                self._verify_in_place(spec, repo)
        return dirs

    # -- download -----------------------------------------------------------------------

    def _fetch(self, spec: WeightSpec, repo: HubRepo) -> None:
        final = self.local_dir(repo)
        staging = final.parent / f".{repo.revision}.download"
        self._check_reachable(spec, repo)
        final.parent.mkdir(parents=True, exist_ok=True)
        with WeakFileLock(final.parent / f".{repo.revision}.lock"):
            if self._repo_status(repo).state == "present":  # another process finished while we waited
                return
            on_disk = _repo_files(final)
            try:
                commit = self._resolve_commit(spec, repo)
                staging.mkdir(exist_ok=True)
                _remove_stale_incomplete(staging)
                snapshot_download(
                    repo.repo_id,
                    revision=commit,
                    local_dir=staging,
                    allow_patterns=list(repo.allow_patterns),
                    # files already in place (e.g. by hand) are not fetched again
                    ignore_patterns=[*repo.ignore_patterns, *(glob.escape(name) for name in on_disk)],
                    token=self.token,
                    endpoint=self._api.endpoint,  # the hub that was probed, not the import-time default
                )
                verification = self._api.verify_repo_checksums(
                    repo.repo_id, revision=commit, local_dir=staging, token=self.token
                )
            except Exception as error:
                described = describe_hub_error(error, repo.repo_id, repo.revision, self._api.endpoint)
                if described is None:
                    raise
                if described[0] in PERMANENT_REASONS:
                    UNAVAILABLE.remember(self._reach_key(repo), *described)
                raise self.not_found_error(spec, *described) from error
            if verification.mismatches:
                for mismatch in verification.mismatches:
                    (staging / mismatch["path"]).unlink(missing_ok=True)
                raise ChecksumMismatchError(
                    model=spec.name,
                    repo_id=repo.repo_id,
                    commit=commit,
                    mismatches=[(m["path"], m["expected"], m["actual"]) for m in verification.mismatches],
                    removed=True,
                )
            staged = _repo_files(staging)
            files = {**on_disk, **staged}
            lacking = [name for name in _required_files(repo, (staging, final)) if name not in files]
            if lacking:
                raise self.not_found_error(
                    spec,
                    "file_not_found",
                    f"{repo.repo_id}@{commit} has no {', '.join(lacking)}: "
                    "fix allow_patterns/required_files in weight_specs.py",
                )
            _write_lock(staging, repo, commit, files, verification.checked_count)
            _publish(staging, final)

    def _check_reachable(self, spec: WeightSpec, repo: HubRepo) -> None:
        """One short request before a download; a failure is remembered (see hub_reach)."""
        key = self._reach_key(repo)
        remembered = UNAVAILABLE.recall(key)
        if remembered is not None:
            raise self.not_found_error(spec, remembered.reason, UNAVAILABLE.describe(remembered))
        try:
            probe(self._api, repo.repo_id, self.token)
        except Exception as error:
            described = describe_hub_error(error, repo.repo_id, repo.revision, self._api.endpoint)
            if described is None:
                raise
            UNAVAILABLE.remember(key, *described)
            raise self.not_found_error(spec, *described) from error

    def _reach_key(self, repo: HubRepo) -> RepoKey:
        return (self._api.endpoint, str(self.local_dir(repo)))

    def _resolve_commit(self, spec: WeightSpec, repo: HubRepo) -> str:
        pin = repo.revision
        if not _COMMIT_PIN.fullmatch(pin):
            raise ValueError(
                f"{repo.repo_id}: revision {pin!r} must be a commit hash (7 to 40 lowercase hex digits), "
                "never a branch or tag, so downloads are reproducible"
            )
        if _FULL_HASH.fullmatch(pin):
            return pin
        lock = _read_lock(self.local_dir(repo))
        if lock is not None and lock["revision"] == pin:
            return str(lock["commit"])
        commits = self._api.list_repo_commits(repo.repo_id, token=self.token)
        matches = sorted({c.commit_id for c in commits if c.commit_id.startswith(pin)})
        if len(matches) > 1:
            raise self.not_found_error(
                spec, "revision_not_found", f"{pin} is ambiguous in {repo.repo_id} ({', '.join(matches)})"
            )
        if matches:
            return matches[0]
        # Not in the default branch's history (another branch, or rewritten): ask the hub.
        sha = self._api.repo_info(repo.repo_id, revision=pin, token=self.token).sha
        if sha is None or not sha.startswith(pin):
            raise self.not_found_error(
                spec, "revision_not_found", f"no commit of {repo.repo_id} starts with {pin}"
            )
        return sha

    def _verify_in_place(self, spec: WeightSpec, repo: HubRepo) -> None:
        final = self.local_dir(repo)
        with WeakFileLock(final.parent / f".{repo.revision}.lock"):
            commit = self._resolve_commit(spec, repo)
            verification = self._api.verify_repo_checksums(
                repo.repo_id, revision=commit, local_dir=final, token=self.token
            )
            if verification.mismatches:  # the user's own files: report, never delete
                raise ChecksumMismatchError(
                    model=spec.name,
                    repo_id=repo.repo_id,
                    commit=commit,
                    mismatches=[(m["path"], m["expected"], m["actual"]) for m in verification.mismatches],
                    removed=False,
                )
            _write_lock(final, repo, commit, _repo_files(final), verification.checked_count)

    # -- status -------------------------------------------------------------------------

    def _repo_status(self, repo: HubRepo) -> RepoStatus:
        path = self.local_dir(repo)
        files = _repo_files(path)
        required = _required_files(repo, (path,))
        missing = tuple(name for name in required if name not in files)
        state: WeightState = (
            "present" if not missing else "absent" if len(missing) == len(required) else "partial"
        )
        lock = _read_lock(path)
        commit = str(lock["commit"]) if lock is not None and lock["revision"] == repo.revision else None
        return RepoStatus(
            repo_id=repo.repo_id,
            revision=repo.revision,
            commit=commit,
            path=path,
            state=state,
            missing_files=missing,
            size_bytes=sum(files.values()),
            gated=repo.gated,
        )

    def not_found_error(self, spec: WeightSpec, reason: str, detail: str) -> WeightsNotFoundError:
        """The error for `spec`'s weights not on disk: each repo not present, what to do."""
        missing = []
        for repo in spec.repos:
            status = self._repo_status(repo)
            if status.state != "present":
                missing.append(
                    MissingRepo(repo.repo_id, repo.revision, status.path, status.missing_files, repo.gated)
                )
        return WeightsNotFoundError(model=spec.name, repos=missing, reason=reason, detail=detail)


# -- rows for `video-assets models list` ---------------------------------------------------

ROW_COLUMNS = ("model", "status", "size", "repos", "missing", "path")


def status_rows(statuses: Sequence[ModelStatus]) -> list[dict[str, str]]:
    """One row per model, keys `ROW_COLUMNS`, values ready to print."""
    return [
        {
            "model": status.name,
            "status": status.state,
            "size": human_size(status.size_bytes),
            "repos": ", ".join(
                f"{r.repo_id}@{r.revision}" + (" (gated)" if r.gated else "") for r in status.repos
            ),
            "missing": f"{len(status.missing_files)} files" if status.missing_files else "-",
            "path": ", ".join(str(r.path) for r in status.repos),
        }
        for status in statuses
    ]


def human_size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# -- files on disk --------------------------------------------------------------------------


def _repo_files(root: Path) -> dict[str, int]:
    """Repo-relative path -> size, without our lock file and huggingface_hub's metadata."""
    if not root.is_dir():
        return {}
    files = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((LOCK_FILE, ".cache/")):
            files[rel] = path.stat().st_size
    return files


def _required_files(repo: HubRepo, dirs: Sequence[Path]) -> tuple[str, ...]:
    names = list(repo.required_files)
    for name in repo.required_files:
        if not name.endswith(".index.json"):
            continue
        index = next((d / name for d in dirs if (d / name).is_file()), None)
        if index is not None:
            names.extend(_shards_named_by(index))
    return tuple(dict.fromkeys(names))


def _shards_named_by(index: Path) -> list[str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        raise ValueError(
            f"{index} is not a valid shard index ({error}); delete it and download again"
        ) from error
    if not isinstance(weight_map, dict):
        raise ValueError(f"{index} has no weight_map; delete it and download again")
    return sorted(set(weight_map.values()))


def _remove_stale_incomplete(staging: Path) -> None:
    # huggingface_hub names these per process, so a killed download's leftovers are never
    # picked up again; they only take space.
    metadata = staging / ".cache" / "huggingface"
    if metadata.is_dir():
        for leftover in metadata.rglob("*.incomplete"):
            leftover.unlink()


def _publish(staging: Path, final: Path) -> None:
    if (staging / ".cache").exists():  # huggingface_hub's download metadata, not repo files
        shutil.rmtree(staging / ".cache")
    if not final.exists():
        os.replace(staging, final)  # one atomic step: the directory appears complete or not at all
        return
    for rel in sorted(_repo_files(staging)):  # merging into a partial (hand-placed) directory
        target = final / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, target)
    os.replace(staging / LOCK_FILE, final / LOCK_FILE)  # last: it vouches for the whole directory
    shutil.rmtree(staging)


def _read_lock(directory: Path) -> dict[str, object] | None:
    path = directory / LOCK_FILE
    if not path.is_file():
        return None
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); delete it and run the download again"
        ) from error
    if not isinstance(lock, dict) or not {"revision", "commit"} <= lock.keys():
        raise ValueError(f"{path} lacks revision/commit; delete it and run the download again")
    return lock


def _write_lock(directory: Path, repo: HubRepo, commit: str, files: dict[str, int], verified: int) -> None:
    lock = {
        "repo_id": repo.repo_id,
        "revision": repo.revision,
        "commit": commit,
        "files": dict(sorted(files.items())),
        "verified_files": verified,  # how many files matched the hub's checksums
    }
    tmp = directory / f"{LOCK_FILE}.tmp"
    tmp.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, directory / LOCK_FILE)
