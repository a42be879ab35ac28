"""Errors of the model hub. Each one says what went wrong and what to do next.

`describe_hub_error` turns huggingface_hub's exceptions into one of a few
reasons with a sentence for the user; the hub chains the original with
``raise ... from``, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

try:  # huggingface_hub 2.x speaks httpx2; 1.x spoke httpx
    from httpx2 import TransportError as _TransportError
except ImportError:  # pragma: no cover - depends on the installed huggingface_hub
    from httpx import TransportError as _TransportError

HUB_URL = "https://huggingface.co"


def download_command(model: str) -> str:
    return f"video-assets models download {model}"


@dataclass(frozen=True)
class MissingRepo:
    """One repo of a model whose files are not all on disk."""

    repo_id: str
    revision: str
    local_dir: Path
    missing_files: tuple[str, ...]  # relative to local_dir
    gated: bool


class WeightsNotFoundError(FileNotFoundError):
    """A model's weights are not on disk and could not be downloaded.

    `reason` is one of: "offline", "absent" (no download was tried), "gated",
    "repo_not_found", "revision_not_found", "file_not_found", "network", "http".
    """

    def __init__(self, *, model: str, repos: Sequence[MissingRepo], reason: str, detail: str) -> None:
        self.model = model
        self.repos = tuple(repos)
        self.reason = reason
        self.detail = detail
        super().__init__(_not_found_message(model, self.repos, reason, detail))


class ChecksumMismatchError(OSError):
    """Downloaded (or hand-placed) files differ from the checksums the hub lists."""

    def __init__(
        self,
        *,
        model: str,
        repo_id: str,
        commit: str,
        mismatches: Sequence[tuple[str, str, str]],
        removed: bool,
    ) -> None:
        self.model = model
        self.repo_id = repo_id
        self.commit = commit
        self.mismatches = tuple(mismatches)  # (path, expected, actual)
        lines = [f"  {path}: expected {expected}, got {actual}" for path, expected, actual in self.mismatches]
        action = (
            "The bad files were deleted; run the download again."
            if removed
            else "Delete or replace these files, then run the download again."
        )
        super().__init__(
            f"model {model!r}: files of {repo_id}@{commit} do not match the hub's checksums:\n"
            + "\n".join(lines)
            + f"\n{action} Command: {download_command(model)}"
        )


class HubOfflineError(ConnectionError):
    """An explicit download was asked for while the hub is switched off."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"cannot download model {model!r}: offline mode is on (offline=True, or HF_HUB_OFFLINE=1 "
            "when the hub was created). Unset it, or place the files by hand "
            "(see `video-assets models list`)."
        )


def describe_hub_error(
    error: BaseException, repo_id: str, revision: str, endpoint: str = HUB_URL
) -> tuple[str, str] | None:
    """(reason, sentence) for a huggingface_hub failure, or None for anything else.

    `endpoint` is the hub that was asked (HF_ENDPOINT may point elsewhere than huggingface.co).

    Order matters: GatedRepoError is a RepositoryNotFoundError, and the hub raises
    LocalEntryNotFoundError when it cannot be reached at all.
    """
    page = f"{HUB_URL}/{repo_id}"
    if isinstance(error, GatedRepoError):
        return "gated", (
            f"{repo_id} is gated and this account has no access yet: accept the licence on {page} "
            "while logged in, then set HF_TOKEN to a token of that account"
        )
    if isinstance(error, RepositoryNotFoundError):
        return "repo_not_found", (
            f"{repo_id} was not found on the hub (wrong id, or private: set HF_TOKEN to a token with access)"
        )
    if isinstance(error, RevisionNotFoundError):
        return "revision_not_found", (
            f"revision {revision} does not exist in {repo_id}: the pin is wrong or the repo history was rewritten"
        )
    if isinstance(error, RemoteEntryNotFoundError):
        return "file_not_found", f"a file was not found in {repo_id}@{revision}: {error}"
    if isinstance(error, (LocalEntryNotFoundError, OfflineModeIsEnabled, _TransportError)):
        return "network", f"the hub at {endpoint} could not be reached ({type(error).__name__}: {error})"
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else "?"
        return "http", f"the hub answered HTTP {status} for {repo_id}: {error}"
    return None


def _not_found_message(model: str, repos: tuple[MissingRepo, ...], reason: str, detail: str) -> str:
    lines = [f"weights for model {model!r} are not available: {detail}"]
    for repo in repos:
        gated = " (gated)" if repo.gated else ""
        lines.append(f"  {repo.repo_id} @ {repo.revision}{gated}: missing {', '.join(repo.missing_files)}")
    lines.append("To download them:")
    step = 1
    for repo in repos:
        if repo.gated or reason == "gated":
            lines.append(
                f"  {step}. accept the licence on {HUB_URL}/{repo.repo_id} and set HF_TOKEN to a token of that account"
            )
            step += 1
    if reason == "offline":
        lines.append(f"  {step}. turn offline mode off (unset HF_HUB_OFFLINE, or pass offline=False)")
        step += 1
    lines.append(f"  {step}. {download_command(model)}")
    lines.append("Or place them by hand (layout: <model_dir>/<repo_id>/<revision>/<file>):")
    for repo in repos:
        lines.extend(f"  {repo.local_dir / name}" for name in repo.missing_files)
        for name in repo.missing_files:
            if name.endswith(".index.json"):
                lines.append(f"  plus every shard that {name} names, in the same directory")
    return "\n".join(lines)
