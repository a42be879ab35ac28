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
When `{revision}/` already exists (files placed by hand), publishing moves the files in
one by one and the lock file last; a process killed midway leaves the rest beside the
lock file in the staging dir, the repo is not present until the next `ensure` finishes
the move (locally, offline too).
A file lock `.{revision}.lock` keeps it to one downloader per repo: an flock(2), which
the kernel releases when its holder dies (SIGKILL, OOM killer), or on filesystems
without flock the lock file of `filelock.SoftFileLock`, broken once its pid is gone.

Short pins are expanded to the full hash first (the hub wants 40 characters):
by prefix over `HfApi.list_repo_commits` (the default branch's history), else
by asking the hub for that revision; the result goes into the lock file.

Weights already in the Hugging Face cache are used where they are: when HF_HOME or
HF_HUB_CACHE names a cache (huggingface_hub's variables; the default ~/.cache is not
searched, so a machine's stray cache never changes which models run), a repo missing
under `model_dir` is looked up at `<cache>/models--{org}--{name}/snapshots/<commit>/`
with the commit matching the pin (what `hf download` and transformers write there). The
cache is only read: downloads still go to `model_dir`, and `download` does not write a
lock file into the cache (its snapshot is already named by the full commit hash).

Before a download, one short request checks that the hub can serve the repo, and
a repo it cannot serve is remembered for a while in this process
(`video_assets.models.hub_reach`): an unreachable hub costs one failed request,
not huggingface_hub's 20-50 s of retries in every partition.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import WeakFileLock

from video_assets.models.hub_errors import (
    ChecksumMismatchError,
    HubOfflineError,
    MissingRepo,
    WeightsNotFoundError,
    describe_hub_error,
)
from video_assets.models.hub_files import (
    LOCK_FILE,  # noqa: F401 (re-exported: the name of the lock file is part of the layout)
    pending_files,
    publish,
    read_lock,
    remove_stale_incomplete,
    repo_files,
    required_files,
    staging_dir,
    write_lock,
)
from video_assets.models.hub_reach import PERMANENT_REASONS, UNAVAILABLE, RepoKey, probe
from video_assets.models.weights import HubRepo, WeightSpec

_FULL_HASH = re.compile(r"[0-9a-f]{40}")
_COMMIT_PIN = re.compile(r"[0-9a-f]{7,40}")

WeightState = Literal["present", "partial", "absent"]
WeightSource = Literal["model_dir", "hf_cache"]


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
    source: WeightSource = "model_dir"  # where `path` is: our layout, or a Hugging Face cache snapshot


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


def hf_cache_from_env() -> Path | None:
    """The Hugging Face hub cache the environment names (HF_HUB_CACHE, its legacy name
    HUGGINGFACE_HUB_CACHE, else HF_HOME/hub), read now; None when none is set."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if value := os.environ.get(name):
            return Path(os.path.expandvars(value)).expanduser()
    if value := os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(value)).expanduser() / "hub"
    return None


def cached_snapshot(cache: Path, repo: HubRepo) -> Path | None:
    """The snapshot of `repo` at its pinned commit in a Hugging Face cache, if there is one.
    A short pin matches a snapshot whose full hash starts with it (two matches: none)."""
    snapshots = cache / repo_folder_name(repo_id=repo.repo_id, repo_type="model") / "snapshots"
    if not _COMMIT_PIN.fullmatch(repo.revision) or not snapshots.is_dir():
        return None
    matches = [path for path in snapshots.iterdir() if path.is_dir() and path.name.startswith(repo.revision)]
    return matches[0] if len(matches) == 1 else None


class ModelHub:
    """Finds, downloads and checks pinned weights under `model_dir` (layout in the module doc).

    `offline=None` follows HF_HUB_OFFLINE; offline, the hub is never contacted.
    `token=None` lets huggingface_hub use HF_TOKEN or the saved login.
    `hf_cache`: a Hugging Face cache to find weights in when `model_dir` lacks them;
    None follows HF_HUB_CACHE / HF_HOME (`hf_cache_from_env`), False searches none.
    """

    def __init__(
        self,
        model_dir: Path | str,
        *,
        offline: bool | None = None,
        token: str | None = None,
        api: HfApi | None = None,
        hf_cache: Path | str | bool | None = None,
    ) -> None:
        self.model_dir = Path(model_dir).expanduser()
        self.offline = offline_from_env() if offline is None else offline
        self.token = token
        self._api = api if api is not None else HfApi(token=token)
        if hf_cache is None or hf_cache is True:
            self.hf_cache = hf_cache_from_env()
        else:
            self.hf_cache = None if hf_cache is False else Path(hf_cache).expanduser()

    def local_dir(self, repo: HubRepo) -> Path:
        """Where the repo's files are read from: its dir under `model_dir`, or its Hugging Face
        cache snapshot when only the cache holds it complete."""
        return self._repo_status(repo).path

    def own_dir(self, repo: HubRepo) -> Path:
        """The repo's dir under `model_dir`: where a download and hand-placed files go."""
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
        for repo in todo:
            self._finish_publish(repo)  # of a download killed while it moved files in
        todo = [repo for repo in todo if self._repo_status(repo).state != "present"]
        if todo and self.offline:
            raise self.not_found_error(spec, "offline", "offline mode is on and the files are not on disk")
        for repo in todo:
            self._fetch(spec, repo)
        return {repo.repo_id: self.local_dir(repo) for repo in spec.repos}

    def download(self, spec: WeightSpec) -> dict[str, Path]:
        """`ensure`, then check hand-placed repos against the hub and lock their commit
        (a Hugging Face cache snapshot is left as it is: read-only to us)."""
        if self.offline:
            raise HubOfflineError(spec.name)
        dirs = self.ensure(spec)
        for repo in spec.repos:
            if self._repo_status(repo).source == "model_dir" and read_lock(self.own_dir(repo)) is None:
                self._verify_in_place(spec, repo)
        return dirs

    # -- download -----------------------------------------------------------------------

    def _finish_publish(self, repo: HubRepo) -> None:
        """Move in the rest of a verified download whose publish was cut short (see module doc)."""
        final = self.own_dir(repo)
        staging = staging_dir(final)
        if pending_files(staging) is None:
            return
        with WeakFileLock(final.parent / f".{repo.revision}.lock"):
            if pending_files(staging) is not None:  # not finished by another process meanwhile
                publish(staging, final)

    def _fetch(self, spec: WeightSpec, repo: HubRepo) -> None:
        final = self.own_dir(repo)
        staging = staging_dir(final)
        self._check_reachable(spec, repo)
        final.parent.mkdir(parents=True, exist_ok=True)
        with WeakFileLock(final.parent / f".{repo.revision}.lock"):
            if self._repo_status(repo).state == "present":  # another process finished while we waited
                return
            on_disk = repo_files(final)
            try:
                commit = self._resolve_commit(spec, repo)
                staging.mkdir(exist_ok=True)
                remove_stale_incomplete(staging)
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
                raise _mismatch_error(spec, repo, commit, verification.mismatches, removed=True)
            staged = repo_files(staging)
            files = {**on_disk, **staged}
            lacking = [name for name in required_files(repo, (staging, final)) if name not in files]
            if lacking:
                raise self.not_found_error(
                    spec,
                    "file_not_found",
                    f"{repo.repo_id}@{commit} has no {', '.join(lacking)}: "
                    "fix allow_patterns/required_files in weight_specs.py",
                )
            write_lock(staging, repo, commit, files, verification.checked_count)
            publish(staging, final)

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
        return (self._api.endpoint, str(self.own_dir(repo)))

    def _resolve_commit(self, spec: WeightSpec, repo: HubRepo) -> str:
        pin = repo.revision
        if not _COMMIT_PIN.fullmatch(pin):
            raise ValueError(
                f"{repo.repo_id}: revision {pin!r} must be a commit hash (7 to 40 lowercase hex digits), "
                "never a branch or tag, so downloads are reproducible"
            )
        if _FULL_HASH.fullmatch(pin):
            return pin
        lock = read_lock(self.own_dir(repo))
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
            raise self.not_found_error(spec, "revision_not_found", f"no commit of {repo.repo_id} starts with {pin}")
        return sha

    def _verify_in_place(self, spec: WeightSpec, repo: HubRepo) -> None:
        final = self.own_dir(repo)
        with WeakFileLock(final.parent / f".{repo.revision}.lock"):
            commit = self._resolve_commit(spec, repo)
            verification = self._api.verify_repo_checksums(
                repo.repo_id, revision=commit, local_dir=final, token=self.token
            )
            if verification.mismatches:  # the user's own files: report, never delete
                raise _mismatch_error(spec, repo, commit, verification.mismatches, removed=False)
            write_lock(final, repo, commit, repo_files(final), verification.checked_count)

    # -- status -------------------------------------------------------------------------

    def _repo_status(self, repo: HubRepo) -> RepoStatus:
        own = self._own_status(repo)
        if own.state == "present" or self.hf_cache is None:
            return own
        snapshot = cached_snapshot(self.hf_cache, repo)
        if snapshot is None:
            return own
        files = repo_files(snapshot)  # the cache's symlinks to its blobs, followed
        missing = tuple(name for name in required_files(repo, (snapshot,)) if name not in files)
        if missing:  # an incomplete snapshot (e.g. another library took other files): ours decides
            return own
        return replace(
            own,
            commit=snapshot.name,
            path=snapshot,
            state="present",
            missing_files=(),
            size_bytes=sum(files.values()),
            source="hf_cache",
        )

    def _own_status(self, repo: HubRepo) -> RepoStatus:
        path = self.own_dir(repo)
        files = repo_files(path)
        required = required_files(repo, (path,))
        missing = tuple(name for name in required if name not in files)
        # A publish cut short: what it has yet to move in is missing too, required or not.
        pending = pending_files(staging_dir(path)) or {}
        missing += tuple(sorted(name for name in pending if name not in missing))
        state: WeightState = (
            "present" if not missing else "absent" if not any(n in files for n in required) else "partial"
        )
        lock = read_lock(path)
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
                missing.append(MissingRepo(repo.repo_id, repo.revision, status.path, status.missing_files, repo.gated))
        return WeightsNotFoundError(model=spec.name, repos=missing, reason=reason, detail=detail)


# -- rows for `video-assets models list` ---------------------------------------------------

ROW_COLUMNS = ("model", "status", "size", "repos", "missing", "path", "source")


def status_rows(statuses: Sequence[ModelStatus]) -> list[dict[str, str]]:
    """One row per model, keys `ROW_COLUMNS`, values ready to print."""
    return [
        {
            "model": status.name,
            "status": status.state,
            "size": human_size(status.size_bytes),
            "repos": ", ".join(f"{r.repo_id}@{r.revision}" + (" (gated)" if r.gated else "") for r in status.repos),
            "missing": f"{len(status.missing_files)} files" if status.missing_files else "-",
            "path": ", ".join(str(r.path) for r in status.repos),
            "source": ", ".join(dict.fromkeys(r.source for r in status.repos)),  # model_dir / hf_cache
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


def _mismatch_error(
    spec: WeightSpec, repo: HubRepo, commit: str, mismatches: list[dict], *, removed: bool
) -> ChecksumMismatchError:
    """`verify_repo_checksums`' mismatch records as our error (removed: the staged copies were deleted)."""
    found = [(m["path"], m["expected"], m["actual"]) for m in mismatches]
    return ChecksumMismatchError(
        model=spec.name, repo_id=repo.repo_id, commit=commit, mismatches=found, removed=removed
    )
