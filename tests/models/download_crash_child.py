"""The process `test_download_crash.py` kills: `ModelHub.download` of `SPEC` from the fake hub.

    HF_ENDPOINT=<fake hub url> HF_HOME=<dir> python -m tests.models.download_crash_child MODEL_DIR POINT

POINT says where this process SIGKILLs itself (`none`: it doesn't; `transfer`: the
fake hub has the parent kill it mid-file, nothing to do here):
  before_lock     checksums verified, the lock file not yet written
  before_publish  lock file written in the staging dir, nothing renamed into place yet
  mid_merge_N     merging into an existing (hand-placed) dir: after N files moved in
`no_flock` downloads as if the filesystem had no flock(2) (huggingface_hub's locks are
then lock files, see `WeakFileLock`).
It runs the real ModelHub and the real snapshot_download; only the hub's metadata
calls (`FakeApi`) answer from memory.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from filelock import SoftFileLock
from huggingface_hub.utils import _fixes

from tests.models.test_hub import SHARDED, SHARDS, FakeApi, FakeRepo, make_repos
from video_assets.models import hub as hub_module
from video_assets.models.hub import ModelHub
from video_assets.models.weights import WeightSpec

SPEC = WeightSpec(name="tiny-sharded", repos=(SHARDED,))
BIG_SHARD = SHARDS[1]
# Larger than huggingface_hub's 10 MiB read chunk, so a transfer cut after 11 MiB has
# written a first chunk to its `.incomplete` file: bytes on disk, not only in memory.
BIG_SHARD_BYTES = (bytes(range(251)) * (12 * 1024 * 1024 // 251 + 1))[: 12 * 1024 * 1024]
CUT_AT = 11 * 1024 * 1024


def crash_repos() -> dict[str, FakeRepo]:
    repos = make_repos()
    for files in repos[SHARDED.repo_id].commits.values():
        files[BIG_SHARD] = BIG_SHARD_BYTES
    return repos


def files_of(repo_id: str, commit: str) -> dict[str, bytes] | None:
    repo = crash_repos().get(repo_id)
    return None if repo is None else repo.commits.get(commit)


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str, final: Path) -> None:
    if point == "before_lock":
        hub_module.write_lock = lambda *args, **kwargs: die()
    elif point == "before_publish":
        hub_module.publish = lambda *args, **kwargs: die()
    elif point.startswith("mid_merge_"):
        limit = int(point.removeprefix("mid_merge_"))
        real_replace = os.replace
        moved = []

        def replace(src: str | Path, dst: str | Path) -> None:
            if Path(dst).parent == final:
                if len(moved) == limit:
                    die()
                moved.append(dst)
            real_replace(src, dst)

        os.replace = replace  # type: ignore[assignment]
    elif point == "no_flock":  # what WeakFileLock meets on a filesystem without flock(2)

        class NoFlock(SoftFileLock):
            def acquire(self, *args: object, **kwargs: object) -> None:
                raise NotImplementedError("FileSystem does not support flock; use SoftFileLock instead")

        _fixes.FileLock = NoFlock  # type: ignore[misc]
    elif point not in ("none", "transfer"):
        raise SystemExit(f"unknown crash point {point!r}")


def main(model_dir: str, point: str) -> None:
    hub = ModelHub(model_dir, offline=False, api=FakeApi(crash_repos()))
    arm(point, hub.local_dir(SHARDED))
    hub.download(SPEC)
    print("downloaded")


if __name__ == "__main__":
    main(*sys.argv[1:])
