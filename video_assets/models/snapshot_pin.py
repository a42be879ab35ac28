"""Pinning a hub snapshot whose own code we run (``trust_remote_code``).

Cosmos-Embed1's modelling code ships only inside its hub repos, so we execute it,
but only from a snapshot that is complete, at the pinned revision, and whose code
is byte-for-byte what a maintainer reviewed. "Code" here is every ``*.py`` file
in the snapshot plus the two configs whose ``auto_map`` picks the classes to run.

A snapshot is accepted when at least one approval exists and every given one holds:

- the pin table (`models/pins.py`, read into `DEFAULT_PINS`) has the sha256 of each code file for that
  repo + revision: recorded once by a maintainer with
  ``python -m video_assets.models.snapshot_pin record SNAPSHOT_DIR --repo-id REPO``;
- ``trust_snapshot_sha256``: the operator approves one exact snapshot (the sha256
  of its manifest) in config, and each load logs that approval.

With neither, the snapshot is refused and the message says how to approve it.
The manifest is ``sha256sum``'s format (``<hash>  <path>``, one line per code file,
sorted by path), so it can be reproduced by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from video_assets.models.pins import COSMOS_EMBED1, Pin

logger = logging.getLogger(__name__)

CONFIG_FILES = ("config.json", "processor_config.json")  # hold the auto_map: part of the code
INDEX_FILE = "model.safetensors.index.json"
RECORD_COMMAND = "python -m video_assets.models.snapshot_pin record"


class SnapshotNotFoundError(FileNotFoundError):
    """No snapshot directory where one was expected."""


class SnapshotIncompleteError(FileNotFoundError):
    """The snapshot lacks a config, the shard index, or a shard the index lists."""


class UntrustedSnapshotError(ValueError):
    """The snapshot's revision or code is not what was pinned or approved."""


# The code hashes of the official Cosmos-Embed1 snapshots, from the pin table (models/pins.py:
# none recorded yet, see there).
DEFAULT_PINS: tuple[Pin, ...] = tuple(COSMOS_EMBED1.values())


@dataclass(frozen=True)
class VerifiedSnapshot:
    path: Path
    repo_id: str
    revision: str
    manifest_sha256: str  # goes into asset metadata: which code produced the vectors
    approved_by: str  # "pin table" and/or "trust_snapshot_sha256"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_files(snapshot_dir: Path) -> dict[str, str]:
    """sha256 of every code file in the snapshot (all ``*.py`` and `CONFIG_FILES`), by path.

    Hidden paths (huggingface_hub's ``.cache/`` bookkeeping) are not code and are skipped.
    """
    paths = sorted(
        p
        for p in snapshot_dir.rglob("*.py")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(snapshot_dir).parts)
    )
    paths += [snapshot_dir / name for name in CONFIG_FILES if (snapshot_dir / name).is_file()]
    return {p.relative_to(snapshot_dir).as_posix(): sha256_file(p) for p in paths}


def manifest_sha256(files: Mapping[str, str]) -> str:
    """sha256 of the ``sha256sum``-style listing of ``files``, sorted by path."""
    listing = "".join(f"{files[path]}  {path}\n" for path in sorted(files))
    return hashlib.sha256(listing.encode()).hexdigest()


def revision_matches(found: str, pinned: str) -> bool:
    """Same revision; a short commit hash (>= 7 hex digits) matches its full form."""
    if found == pinned:
        return True
    short, full = sorted((found.lower(), pinned.lower()), key=len)
    is_hex = all(c in "0123456789abcdef" for c in full)
    return is_hex and len(short) >= 7 and full.startswith(short)


def check_required_files(snapshot_dir: Path) -> None:
    """Raise `SnapshotIncompleteError` naming every missing config, index or shard."""
    missing = [name for name in (*CONFIG_FILES, INDEX_FILE) if not (snapshot_dir / name).is_file()]
    index = snapshot_dir / INDEX_FILE
    if index.is_file():
        weight_map = json.loads(index.read_text()).get("weight_map", {})
        if not weight_map:
            raise SnapshotIncompleteError(f"{index} lists no weights (empty weight_map)")
        shards = sorted(set(weight_map.values()))
        missing += [s for s in shards if not (snapshot_dir / s).is_file()]
    if missing:
        raise SnapshotIncompleteError(
            f"snapshot {snapshot_dir} is incomplete, missing: {', '.join(missing)}. "
            "Download it again with the model hub (the download may have been interrupted)."
        )


def _auto_map_refs(path: Path) -> list[str]:
    """Class references in a config's ``auto_map`` (a value may list a slow and a fast class)."""
    auto_map = json.loads(path.read_text()).get("auto_map") or {}
    if not isinstance(auto_map, dict):
        raise UntrustedSnapshotError(f"{path}: auto_map is not a mapping")
    refs: list[str] = []
    for value in auto_map.values():
        refs += [str(v) for v in (value if isinstance(value, list) else [value]) if v]
    return refs


def check_auto_map(snapshot_dir: Path, files: Mapping[str, str]) -> None:
    """Every ``auto_map`` class must come from a code file of this snapshot.

    ``other/repo--module.Class`` would make transformers fetch and run code from
    another repo, which no pin covers.
    """
    for name in CONFIG_FILES:
        path = snapshot_dir / name
        if not path.is_file():
            continue
        for ref in _auto_map_refs(path):
            module_file = ref.rpartition(".")[0].replace(".", "/") + ".py"
            if "--" in ref or module_file not in files:
                raise UntrustedSnapshotError(
                    f"{path}: auto_map entry {ref!r} does not name a code file of this snapshot; "
                    "only code inside the pinned snapshot may run"
                )


def find_pin(pins: Sequence[Pin], repo_id: str, revision: str) -> Pin | None:
    for pin in pins:
        if pin.repo_id == repo_id and revision_matches(revision, pin.revision):
            return pin
    return None


def _compare_with_pin(snapshot_dir: Path, files: Mapping[str, str], pinned: Mapping[str, str]) -> None:
    changed = sorted(p for p in files if p in pinned and files[p] != pinned[p])
    extra = sorted(p for p in files if p not in pinned)
    gone = sorted(p for p in pinned if p not in files)
    problems = [
        f"{label}: {', '.join(paths)}"
        for label, paths in (("changed", changed), ("not pinned", extra), ("missing", gone))
        if paths
    ]
    if problems:
        raise UntrustedSnapshotError(
            f"code in {snapshot_dir} differs from the pinned hashes ({'; '.join(problems)}); "
            "refusing to run it. Re-download the snapshot; if the change is intended, review the "
            f"code and record new pins with `{RECORD_COMMAND}`."
        )


def _not_recorded_message(snapshot_dir: Path, repo_id: str, revision: str, manifest: str) -> str:
    return (
        f"no code hashes are recorded for {repo_id}@{revision}, so the remote code in "
        f"{snapshot_dir} will not run. Review its .py files, then either record them once "
        f"(`{RECORD_COMMAND} {snapshot_dir} --repo-id {repo_id}` prints the entry to add to "
        "video_assets/models/pins.py), or approve this exact snapshot "
        f"for your deployment with trust_snapshot_sha256={manifest!r} in the model config."
    )


def verify_snapshot(
    snapshot_dir: Path,
    *,
    repo_id: str,
    revision: str,
    pins: Sequence[Pin] = DEFAULT_PINS,
    trust_snapshot_sha256: str | None = None,
) -> VerifiedSnapshot:
    """Check a snapshot in the hub layout ``.../{repo_id}/{revision}/`` before its code runs."""
    snapshot_dir = Path(snapshot_dir)
    if not snapshot_dir.is_dir():
        raise SnapshotNotFoundError(
            f"no snapshot of {repo_id}@{revision} at {snapshot_dir}: download it with the model "
            "hub, or point model_dir at the directory that holds it"
        )
    if not revision_matches(snapshot_dir.name, revision):
        raise UntrustedSnapshotError(
            f"{snapshot_dir} holds revision {snapshot_dir.name!r} of {repo_id}, but the pinned "
            f"revision is {revision!r}; download the pinned revision"
        )
    check_required_files(snapshot_dir)
    files = code_files(snapshot_dir)
    check_auto_map(snapshot_dir, files)
    manifest = manifest_sha256(files)

    approvals = []
    pin = find_pin(pins, repo_id, revision)
    if pin is not None and pin.code_sha256 is not None:
        _compare_with_pin(snapshot_dir, files, pin.code_sha256)
        approvals.append("pin table")
    if trust_snapshot_sha256 is not None:
        if trust_snapshot_sha256.strip().lower() != manifest:
            raise UntrustedSnapshotError(
                f"code in {snapshot_dir} has manifest sha256 {manifest}, not the approved "
                f"trust_snapshot_sha256 {trust_snapshot_sha256!r}: it changed since it was "
                "reviewed; review it again before approving the new hash"
            )
        approvals.append("trust_snapshot_sha256")
        logger.warning(
            "running remote code of %s@%s from %s, approved by trust_snapshot_sha256=%s",
            repo_id,
            revision,
            snapshot_dir,
            manifest,
        )
    if not approvals:
        raise UntrustedSnapshotError(_not_recorded_message(snapshot_dir, repo_id, revision, manifest))
    return VerifiedSnapshot(snapshot_dir, repo_id, revision, manifest, " and ".join(approvals))


def record_pins(snapshot_dir: Path, *, repo_id: str, revision: str | None = None) -> Pin:
    """The pin entry for a reviewed snapshot (revision defaults to the directory name)."""
    snapshot_dir = Path(snapshot_dir)
    if not snapshot_dir.is_dir():
        raise SnapshotNotFoundError(f"no snapshot directory at {snapshot_dir}")
    check_required_files(snapshot_dir)
    files = code_files(snapshot_dir)
    check_auto_map(snapshot_dir, files)
    return Pin(repo_id, revision or snapshot_dir.name, files)


def format_pin(pin: Pin) -> str:
    """Python source of ``pin``, to paste into the pin table (`models/pins.py`)."""
    if pin.code_sha256 is None:
        return f"Pin({pin.repo_id!r}, {pin.revision!r}),"
    lines = [f"        {path!r}: {sha!r}," for path, sha in sorted(pin.code_sha256.items())]
    return "\n".join([f"Pin({pin.repo_id!r}, {pin.revision!r}, {{", *lines, "}),"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m video_assets.models.snapshot_pin",
        description="Print the pin entry of a reviewed hub snapshot whose code will run.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    record = sub.add_parser("record", help="hash the code files of a snapshot directory")
    record.add_argument("snapshot_dir", type=Path)
    record.add_argument("--repo-id", required=True)
    record.add_argument("--revision", help="defaults to the snapshot directory's name")
    args = parser.parse_args(argv)
    pin = record_pins(args.snapshot_dir, repo_id=args.repo_id, revision=args.revision)
    assert pin.code_sha256 is not None  # record_pins always hashes
    print(f"# manifest sha256 (trust_snapshot_sha256): {manifest_sha256(pin.code_sha256)}")
    print(format_pin(pin))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
