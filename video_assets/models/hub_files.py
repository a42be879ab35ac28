"""The files of a pinned repo on disk: listing, required shards, lock file, atomic publish.

Used by `video_assets.models.hub`; the layout is described there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from video_assets.models.weights import HubRepo

LOCK_FILE = ".weights-lock.json"


def repo_files(root: Path) -> dict[str, int]:
    """Repo-relative path -> size, without our lock file and huggingface_hub's metadata."""
    if not root.is_dir():
        return {}
    files = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((LOCK_FILE, ".cache/")):
            files[rel] = path.stat().st_size
    return files


def required_files(repo: HubRepo, dirs: Sequence[Path]) -> tuple[str, ...]:
    names = list(repo.required_files)
    for name in repo.required_files:
        if not name.endswith(".index.json"):
            continue
        index = next((d / name for d in dirs if (d / name).is_file()), None)
        if index is not None:
            names.extend(shards_named_by(index))
    return tuple(dict.fromkeys(names))


def shards_named_by(index: Path) -> list[str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        raise ValueError(f"{index} is not a valid shard index ({error}); delete it and download again") from error
    if not isinstance(weight_map, dict):
        raise ValueError(f"{index} has no weight_map; delete it and download again")
    return sorted(set(weight_map.values()))


def remove_stale_incomplete(staging: Path) -> None:
    # huggingface_hub names these per process, so a killed download's leftovers are never
    # picked up again; they only take space.
    metadata = staging / ".cache" / "huggingface"
    if metadata.is_dir():
        for leftover in metadata.rglob("*.incomplete"):
            leftover.unlink()


def staging_dir(final: Path) -> Path:
    """Where a download of `final` is assembled: a sibling, so the last rename stays on one filesystem."""
    return final.parent / f".{final.name}.download"


def pending_files(staging: Path) -> dict[str, int] | None:
    """Files a verified download still has to move into place, or None when none is pending.

    A staging dir holding our lock file was verified and is being published (`publish`
    moves the lock file last). A process killed in between leaves it so; the files it
    names that are not yet in place keep the repo from counting as present until
    `publish` is run again (it resumes where it stopped).
    """
    if not (staging / LOCK_FILE).is_file():
        return None
    return repo_files(staging)


def publish(staging: Path, final: Path) -> None:
    if (staging / ".cache").exists():  # huggingface_hub's download metadata, not repo files
        shutil.rmtree(staging / ".cache")
    if not final.exists():
        os.replace(staging, final)  # one atomic step: the directory appears complete or not at all
        return
    # Merging into a partial (hand-placed) directory, one file at a time: killed midway, the
    # rest stays in `staging` beside the lock file, and `pending_files` reports it.
    for rel in sorted(repo_files(staging)):
        target = final / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, target)
    os.replace(staging / LOCK_FILE, final / LOCK_FILE)  # last: it vouches for the whole directory
    shutil.rmtree(staging)


def read_lock(directory: Path) -> dict[str, object] | None:
    path = directory / LOCK_FILE
    if not path.is_file():
        return None
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete it and run the download again") from error
    if not isinstance(lock, dict) or not {"revision", "commit"} <= lock.keys():
        raise ValueError(f"{path} lacks revision/commit; delete it and run the download again")
    return lock


def write_lock(directory: Path, repo: HubRepo, commit: str, files: dict[str, int], verified: int) -> None:
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
