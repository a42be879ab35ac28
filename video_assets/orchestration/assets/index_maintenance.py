"""<model>_clip_index_optimized: compaction, version cleanup and indexes of each model's table.

Unpartitioned and downstream of the partitioned `<model>_clip_index` through
`deps=` only, so a run never loads a partition. An unpartitioned asset
downstream of more than 100 partitions never shows as stale, so a sensor
starts it: every `every_k_commits` table versions (DESIGN.md, API notes), and
once more when commits stop, so the last commits of a backfill get indexed
and a faiss sidecar too (until then LanceDB answers, searching them flat, so
results are current either way).
It runs in the committer's pool `lancedb_<model>` and holds the table's
commit lock, so it never races a partition commit.
"""

# No `from __future__ import annotations`: Dagster resolves the Config and resource
# parameter types of asset and sensor functions from real annotations.
import json
import time
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg
from pydantic import Field

from video_assets.index.connection import clip_table_exists, open_clip_table
from video_assets.index.maintenance import (
    DEFAULT_OPTIMIZE_EVERY,
    DEFAULT_RETENTION,
    optimize_clip_table,
    should_optimize,
)
from video_assets.orchestration.assets.model_table import model_table_asset
from video_assets.orchestration.resources.lancedb import LanceDBResource

SENSOR_NAME = "optimize_clip_index_sensor"
DEFAULT_SETTLE_S = 600.0  # no commit for this long: the backfill (or a trickle) has paused


class OptimizeIndexConfig(dg.Config):
    # Versions older than this are deleted: keep it longer than any run or pinned reader.
    retention_hours: float = Field(DEFAULT_RETENTION.total_seconds() / 3600, gt=0)
    # "auto" picks by table size (none below the exact-search threshold); or one of
    # none, ivf_sq, ivf_pq, ivf_hnsw_sq (`vector_index.INDEX_KINDS`; others are refused).
    index_kind: str = "auto"
    # Indexes on the filter columns (`maintenance.SCALAR_INDEXES`; tested to keep merge counts right).
    scalar_indexes: bool = True
    # The faiss sidecar unfiltered searches use while the table stays at this version (index/sidecar.py).
    sidecar: bool = True


def optimized_index_key(model: str) -> dg.AssetKey:
    return dg.AssetKey(f"{model}_clip_index_optimized")


def optimized_index_asset(name: str) -> dg.AssetsDefinition:
    """The `<model>_clip_index_optimized` asset for model `name`."""

    @model_table_asset(
        name,
        "clip_index_optimized",
        pool=f"lancedb_{name}",
        kinds={"lancedb"},
        code_version="1",
        # The node's subtitle in the graph: what this asset is, before how it is made.
        description=f"{name}'s clip table, optimized for search: compaction, old-version cleanup, ANN and "
        "scalar indexes. Started by optimize_clip_index_sensor every K commits and when commits stop.",
        tags={"role": "index-maintenance"},
    )
    def optimized(
        context: dg.AssetExecutionContext, config: OptimizeIndexConfig, lancedb: LanceDBResource
    ) -> dg.MaterializeResult:
        result = optimize_clip_table(
            lancedb.connect(),
            name,
            retention=timedelta(hours=config.retention_hours),
            index_kind=config.index_kind,  # type: ignore[arg-type]
            scalar_indexes=config.scalar_indexes,
            sidecar=config.sidecar,
        )
        context.log.info(
            f"{result.table}: v{result.before.version} -> v{result.after.version}, fragments "
            f"{result.before.num_fragments} -> {result.after.num_fragments}, versions kept "
            f"{result.before.num_versions} -> {result.after.num_versions}; {result.plan.reason}; sidecar: "
            + (f"{result.sidecar.kind}, {result.sidecar.build_s} s" if result.sidecar else result.sidecar_note)
        )
        return dg.MaterializeResult(metadata={"dagster/row_count": result.after.num_rows, **result.metadata()})

    return optimized


def optimize_index_sensor(
    model_names: Sequence[str],
    *,
    every_k_commits: int = DEFAULT_OPTIMIZE_EVERY,
    settle_after_seconds: float = DEFAULT_SETTLE_S,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """Requests `<model>_clip_index_optimized` once `every_k_commits` versions were committed since
    the last request, and once more when commits stop: a table whose version has not moved for
    `settle_after_seconds` and is not the version the last optimize left. Without the second rule
    the tail of a backfill (fewer than K commits) would wait for the next K commits, searched
    without its faiss sidecar and with unindexed rows. Reads one manifest per table (its version)
    and the asset's latest materialization; never a partition."""
    if every_k_commits < 1:
        raise ValueError(f"every_k_commits must be >= 1, got {every_k_commits}")
    if settle_after_seconds < 0:
        raise ValueError(f"settle_after_seconds must be >= 0, got {settle_after_seconds}")

    @dg.sensor(
        name=SENSOR_NAME,
        asset_selection=[optimized_index_key(m) for m in model_names],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"Optimize each model's clip table every {every_k_commits} commits, and when commits stop.",
    )
    def sensor(context: dg.SensorEvaluationContext, lancedb: LanceDBResource) -> dg.SensorResult:
        cursor = _read_cursor(context.cursor)
        db = lancedb.connect()
        now = time.time()
        requests = []
        for model in model_names:
            if not clip_table_exists(db, model):
                continue
            version = open_clip_table(db, model).version
            state = cursor.setdefault(model, {})
            if state.get("seen") != version:
                state["seen"], state["seen_at"] = version, now
            requested = state.get("requested")
            due = should_optimize(version, requested, every_k_commits)
            settled = (
                version != requested
                and now - state["seen_at"] >= settle_after_seconds
                and version != _last_optimized_version(context.instance, model)
            )
            if due or settled:
                requests.append(
                    dg.RunRequest(run_key=f"{model}-v{version}", asset_selection=[optimized_index_key(model)])
                )
                state["requested"] = version
        if not requests:
            return dg.SensorResult(
                skip_reason=f"fewer than {every_k_commits} commits since the last optimize, or commits still arriving",
                cursor=json.dumps(cursor),
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    return sensor


def _read_cursor(raw: str | None) -> dict[str, dict]:
    """{model: {"requested": version, "seen": version, "seen_at": epoch s}}; the first format
    ({model: requested version}) is read too."""
    loaded = json.loads(raw) if raw else {}
    return {m: v if isinstance(v, dict) else {"requested": v} for m, v in loaded.items()}


def _last_optimized_version(instance: dg.DagsterInstance, model: str) -> int | None:
    """The table version the latest `<model>_clip_index_optimized` materialization left, if any."""
    event = instance.get_latest_materialization_event(optimized_index_key(model))
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("table_version") if materialization else None
    return int(value.value) if value is not None else None
