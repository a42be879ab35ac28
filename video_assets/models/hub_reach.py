"""Fail fast when the hub cannot serve a repo, and remember it for a while in this process.

Without this, a download attempt against an unreachable hub sits in
huggingface_hub's backoff (1+2+4+8+8 s per listing call, no request timeout by
default) for 20-50 s, and every partition of a run pays it again. Before a
download, `probe` makes ONE request with a short timeout and no retries; a failure
is remembered in `UNAVAILABLE` for `REMEMBER_S` seconds, so later attempts in the
same process (the next partitions) fail at once with the same message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from huggingface_hub import HfApi

# One request; long enough for a slow but working connection to answer a small JSON.
PROBE_TIMEOUT_S = 10.0
# Long enough to cover the partitions of one run, short enough that a long-lived process
# (a Dagster daemon) notices the network come back.
REMEMBER_S = 300.0
# Failures that no retry fixes for this pin (the account, the id or the pin is wrong): they
# are remembered from any step. Network and HTTP failures are remembered only when the
# probe meets them: a dropped connection mid-download is worth resuming on the next try.
PERMANENT_REASONS = frozenset({"gated", "repo_not_found", "revision_not_found", "file_not_found"})

RepoKey = tuple[str, str]  # (hub endpoint, local dir of the pinned repo)


@dataclass(frozen=True)
class Unavailable:
    reason: str  # a WeightsNotFoundError reason
    detail: str  # the sentence describe_hub_error gave
    since: float  # monotonic clock


class UnavailableRepos:
    """Repos the hub could not serve, remembered for `remember_s` seconds."""

    def __init__(self, remember_s: float = REMEMBER_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.remember_s = remember_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[RepoKey, Unavailable] = {}

    def recall(self, key: RepoKey) -> Unavailable | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() - entry.since >= self.remember_s:
                del self._entries[key]
                return None
            return entry

    def remember(self, key: RepoKey, reason: str, detail: str) -> None:
        with self._lock:
            self._entries[key] = Unavailable(reason, detail, self._clock())

    def forget(self, key: RepoKey | None = None) -> None:
        """Drop one entry (a download succeeded) or all of them (None)."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def describe(self, entry: Unavailable) -> str:
        age = self._clock() - entry.since
        return (
            f"{entry.detail} (remembered from an attempt {age:.0f} s ago in this process; "
            f"the next attempt is after {self.remember_s - age:.0f} s)"
        )


UNAVAILABLE = UnavailableRepos()


def probe(api: HfApi, repo_id: str, token: str | None) -> None:
    """One request for the repo's public info, no retries: raises what huggingface_hub raises."""
    # model_info goes straight to the HTTP session (no http_backoff), unlike the commit
    # listing and the downloads, which retry five times.
    api.model_info(repo_id, timeout=PROBE_TIMEOUT_S, token=token)
