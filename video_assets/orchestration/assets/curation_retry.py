"""Retries of the curation sensor's failed runs: which of its runs failed, when to ask again, when to give up.

The daemon launches a run key once, so a failed run is never asked for again under its key:
a retry gets the key `<key>-retry<n>` (n failed runs before it). The failures are read from
Dagster's run records (the daemon tags each sensor run with the sensor's name and the run key),
and what the sensor must remember about them lives in its cursor, as one entry per piece of work:
`{"key": first run key, "failures": n, "after": epoch s of the next try, "asked": n at the last
retry requested, "run": last failed run id, "error": its first step error}`.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from video_assets.orchestration.assets.ledger_sensor import step_errors

# Set by the sensor daemon on every run it launches (dagster._core.storage.tags).
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
PARTITION_TAG = "dagster/partition"
# The sensor's keys end in a number (`-v<version>`, `/<duplicates run>`), so the suffix is unambiguous.
_RETRY = re.compile(r"^(?P<key>.*\d)-retry(?P<n>\d+)$")
# Failed runs whose status was written just before the last scan's newest one may commit after it.
SCAN_OVERLAP_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off after the n-th failure: first_delay_s * 2**(n-1), at most max_delay_s; after
    max_failures failed runs of the same work the sensor gives up until that work changes."""

    first_delay_s: float = 300.0
    max_delay_s: float = 3600.0
    max_failures: int = 6

    def __post_init__(self) -> None:
        if not (math.isfinite(self.first_delay_s) and 0 <= self.first_delay_s <= self.max_delay_s):
            raise ValueError(f"need 0 <= first_delay_s <= max_delay_s, got {self.first_delay_s}, {self.max_delay_s}")
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be >= 1, got {self.max_failures}")

    def delay(self, failures: int) -> float:
        return min(self.first_delay_s * 2 ** max(failures - 1, 0), self.max_delay_s)


def attempt_key(key: str, failures: int) -> str:
    """The run key of the try after `failures` failed runs of the work first asked for as `key`."""
    return key if failures == 0 else f"{key}-retry{failures}"


def split_key(run_key: str) -> tuple[str, int]:
    """(first run key, failed runs before this one) of a run key `attempt_key` made."""
    match = _RETRY.match(run_key)
    return (match["key"], int(match["n"])) if match else (run_key, 0)


def new_failures(instance: dg.DagsterInstance, sensor_name: str, seen: dict | None) -> tuple[list[dg.RunRecord], dict]:
    """The sensor's failed runs not seen before, oldest first, and what to pass as `seen` next time.

    `seen` is `{"until": update time (epoch s) of the newest, "runs": ids updated in the SCAN_OVERLAP_S
    before it}`: the scan looks back that far, for a run whose status commit lagged its timestamp,
    and skips the runs it already returned.
    """
    until, known = (seen or {}).get("until"), set((seen or {}).get("runs", ()))
    after = None if until is None else datetime.fromtimestamp(until - SCAN_OVERLAP_S, tz=UTC)
    filters = dg.RunsFilter(
        tags={SENSOR_NAME_TAG: sensor_name}, statuses=[dg.DagsterRunStatus.FAILURE], updated_after=after
    )
    records = instance.get_run_records(filters=filters, order_by="update_timestamp", ascending=True)
    if not records:
        return [], dict(seen or {})
    newest = max(until or 0.0, records[-1].update_timestamp.timestamp())
    recent = [r.dagster_run.run_id for r in records if r.update_timestamp.timestamp() > newest - SCAN_OVERLAP_S]
    return [r for r in records if r.dagster_run.run_id not in known], {"until": newest, "runs": recent}


def record_failure(
    entry: dict | None,
    record: dg.RunRecord,
    instance: dg.DagsterInstance,
    policy: RetryPolicy,
    now: float,
) -> dict:
    """`entry` with the failed run counted; the same entry if it was counted already (scans overlap).

    The failure count comes from the run key, not a counter, so seeing a run twice counts it once.
    """
    key, before = split_key(record.dagster_run.tags[RUN_KEY_TAG])
    failures = before + 1
    if entry is not None and entry["key"] == key and entry["failures"] >= failures:
        return entry
    errors = step_errors(instance, record.dagster_run.run_id)
    error = errors[0] if errors else "no step failed; see the run's logs"
    return {
        **(entry if entry is not None and entry["key"] == key else {"key": key, "asked": 0}),
        "failures": failures,
        "after": now + policy.delay(failures),
        "run": record.dagster_run.run_id,
        "error": error if len(error) <= 200 else error[:199] + "…",
    }


def due_retry(entry: dict, policy: RetryPolicy, now: float) -> str | None:
    """The run key to ask for now, or None: waiting out the back-off, retry already asked, or given up."""
    if entry["failures"] >= policy.max_failures or now < entry["after"] or entry["asked"] >= entry["failures"]:
        return None
    return attempt_key(entry["key"], entry["failures"])


def describe(entry: dict, policy: RetryPolicy, now: float) -> str:
    """What the sensor does about the failed work, for its skip reason and logs."""
    n, run = entry["failures"], entry["run"][:8]
    last = f"{n} failed run{'s' if n > 1 else ''}, last {run}: {entry['error']}"
    if n >= policy.max_failures:
        return f"gave up after {last}; it is asked for again once its input changes or a run by hand succeeds"
    if entry["asked"] >= n:
        return f"retry {n} of {policy.max_failures - 1} asked for ({last})"
    wait = timedelta(seconds=round(max(entry["after"] - now, 0)))
    at = datetime.fromtimestamp(entry["after"], tz=UTC).strftime("%H:%M:%S UTC")
    return f"{last}; retry {n} of {policy.max_failures - 1} at {at} (in {wait})"
