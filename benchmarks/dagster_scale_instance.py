"""Instance-side costs of a dynamic partitioning on Dagster's default SQLite storage.

- adding N partition keys (chunked as the sensor and runner do, and in one call);
- loading all keys (every sensor tick and every UI partition view does it);
- the asset status cache (what the UI's partition health bar reads) vs key count:
  its partitions-definition id is a hash over *all* dynamic keys, so adding one
  key throws the cached value away and the next read rebuilds it (dagster#29861);
- a no-op partitioned run through ``execute_in_process`` and the files it leaves
  in DAGSTER_HOME.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
import sqlalchemy.exc

# Internal but stable across 1.x: the function the webserver calls for partition status.
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value
from dagster_scale_noop import NOOP_PARTITIONS
from dagster_scale_noop import defs as noop_defs

from video_assets.catalog.discovery import MAX_KEYS_PER_REQUEST, chunked

# Events still go to the instance; only the console stays quiet (as in the CLI runner).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def video_like_keys(n: int, prefix: str = "clip") -> list[str]:
    # Shaped like registry keys (slug + 8 hex digits), so the strings cost what real ones do.
    return [f"{prefix}-{i:07d}-mp4-{i * 2654435761 % 2**32:08x}" for i in range(n)]


@contextmanager
def sqlite_instance(root: Path) -> Iterator[dg.DagsterInstance]:
    """A persistent SQLite instance in a fresh DAGSTER_HOME under ``root`` (the default storage)."""
    home = Path(tempfile.mkdtemp(prefix="dagster_home_", dir=root))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@dataclass(frozen=True)
class KeyAddResult:
    keys: int
    chunk: int
    add_s: float  # adding every key, in chunks of `chunk`
    single_call_s: float | None  # one add_dynamic_partitions call with every key
    single_call_error: str | None
    load_all_s: float  # get_dynamic_partitions (a sensor tick / UI view loads them all)


def measure_key_adds(root: Path, n: int, *, chunk: int = MAX_KEYS_PER_REQUEST) -> KeyAddResult:
    keys = video_like_keys(n)
    with sqlite_instance(root) as instance:
        started = time.perf_counter()
        for part in chunked(keys, chunk):
            instance.add_dynamic_partitions("videos", part)
        add_s = time.perf_counter() - started
        started = time.perf_counter()
        loaded = instance.get_dynamic_partitions("videos")
        load_s = time.perf_counter() - started
        if len(loaded) != n:
            raise RuntimeError(f"added {n} keys, the instance holds {len(loaded)}")
    with sqlite_instance(root) as instance:
        started = time.perf_counter()
        try:
            instance.add_dynamic_partitions("videos", keys)
        except sqlalchemy.exc.DBAPIError as err:  # the failure (dagster#16260) is the measurement
            single_s, error = None, f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
        else:
            single_s, error = time.perf_counter() - started, None
    return KeyAddResult(n, chunk, add_s, single_s, error, load_s)


@dataclass(frozen=True)
class StatusCacheResult:
    keys: int
    materialized: int
    cold_s: float  # no cached value yet: built from the event log
    warm_s: float  # cached and nothing changed
    after_add_s: float  # one key added: the cached value no longer matches, full rebuild
    after_materialize_s: float  # one more materialization: incremental update


def _status(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> float:
    started = time.perf_counter()
    value = get_and_update_asset_status_cache_value(instance, asset_key, NOOP_PARTITIONS)
    if value is None:
        raise RuntimeError("the status cache has no value for an asset with materializations")
    return time.perf_counter() - started


def measure_status_cache(root: Path, n: int, materialized: int) -> StatusCacheResult:
    """Status-cache reads with ``n`` keys of which ``materialized`` have a materialization."""
    keys = video_like_keys(n)
    asset_key = dg.AssetKey("noop")
    with sqlite_instance(root) as instance:
        for part in chunked(keys):
            instance.add_dynamic_partitions(NOOP_PARTITIONS.name, part)
        # Runless materializations: the same event rows a run writes, without the run.
        for key in keys[:materialized]:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset_key, partition=key))
        cold = _status(instance, asset_key)
        warm = statistics.median(_status(instance, asset_key) for _ in range(3))
        instance.add_dynamic_partitions(NOOP_PARTITIONS.name, ["one-more-key"])
        after_add = _status(instance, asset_key)
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset_key, partition="one-more-key"))
        after_mat = _status(instance, asset_key)
    return StatusCacheResult(n, materialized, cold, warm, after_add, after_mat)


@dataclass(frozen=True)
class InProcessRunResult:
    runs: int
    median_s: float
    p90_s: float
    files_in_home: int
    files_per_1k_runs: float
    bytes_per_run: float


def _tree(home: Path) -> tuple[int, int]:
    files = [p for p in home.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def measure_inprocess_runs(root: Path, runs: int) -> InProcessRunResult:
    """``runs`` no-op partition runs through execute_in_process into one SQLite DAGSTER_HOME."""
    job = noop_defs.resolve_job_def("noop_job")
    keys = video_like_keys(runs, prefix="noop")
    with sqlite_instance(root) as instance:
        home = Path(instance.root_directory)
        for part in chunked(keys):
            instance.add_dynamic_partitions(NOOP_PARTITIONS.name, part)
        files_before, bytes_before = _tree(home)
        seconds = []
        for key in keys:
            started = time.perf_counter()
            result = job.execute_in_process(partition_key=key, instance=instance, run_config=QUIET)
            seconds.append(time.perf_counter() - started)
            if not result.success:
                raise RuntimeError(f"no-op run for {key} failed")
        files_after, bytes_after = _tree(home)
    seconds.sort()
    added = files_after - files_before
    return InProcessRunResult(
        runs=runs,
        median_s=statistics.median(seconds),
        p90_s=seconds[int(0.9 * (len(seconds) - 1))],
        files_in_home=files_after,
        files_per_1k_runs=added * 1000 / runs,
        bytes_per_run=(bytes_after - bytes_before) / runs,
    )


def as_rows(results: list) -> list[dict]:
    return [asdict(r) for r in results]
