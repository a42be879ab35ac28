"""Near-duplicate clips of one model's table: pairs, groups, the kept clip of each, cluster ids.

`update_duplicates` reads the table (one pinned version), compares only the clips
that are new or whose vector changed since the last run with all the others
(`pairs.find_pairs`, k-means as the coarse stage), keeps the earlier pairs among
unchanged clips, and writes `<curation_dir>/<model>_duplicates.parquet`: one row
per clip with `dup_group` (the kept clip's id; null for a clip in no group), `dup_keep`,
`sim_to_kept`, `group_size` and `cluster_id`. A full run (first run, a changed
threshold, a table grown past twice the rows the centroids were trained on, or
`full=True`) retrains the centroids and compares everything.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock

from video_assets.curation import clustering, dup_state
from video_assets.curation.groups import KeepKeys, build_groups
from video_assets.curation.pairs import Pairs, find_pairs
from video_assets.curation.progress import Progress, no_progress
from video_assets.curation.sources import SourceFacts
from video_assets.index.scan import TableScan, scan_clip_table
from video_assets.models.thresholds import ThresholdChoice, default_choice
from video_assets.stages.parquet_parts import write_table_atomic

# Default thresholds per model and revision, and how they were measured: models/thresholds.py.
SCAN_COLUMNS = ("clip_id", "video_id", "source_path", "span_start_s", "span_end_s", "duration_s")
POINTS_PER_CENTROID = 64


def default_threshold(model: str) -> float:
    return default_choice(model).value


def threshold_in_force(
    model: str, *, given: float | None = None, given_by: str = "--threshold", configured: float | None = None
) -> ThresholdChoice:
    """The threshold a run uses and where it came from: ``given`` (named ``given_by``), else the
    settings' ``models.<model>.duplicates_threshold``, else the model's calibrated default."""
    if given is not None:
        return ThresholdChoice(float(given), given_by)
    if configured is not None:
        return ThresholdChoice(float(configured), f"settings: models.{model}.duplicates_threshold")
    return default_choice(model)


def output_path(curation_dir: Path, model: str) -> Path:
    return Path(curation_dir) / f"{model}_duplicates.parquet"


# Files written before the column was renamed call `dup_keep` `keep` (beside the clip filters'
# `filter_keep` the bare name was ambiguous); they are read under the new name, not rewritten.
OLD_NAMES = {"keep": "dup_keep"}


def read_output(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A duplicates file (`output_path`), old column names renamed on read; `columns` in the new names."""
    names = pq.read_schema(path).names
    old = {new: name for name, new in OLD_NAMES.items() if name in names and new not in names}
    wanted = None if columns is None else [old.get(c, c) for c in columns]
    table = pq.read_table(path, columns=wanted)
    if not old:
        return table
    renamed = [OLD_NAMES.get(n, n) if n in old.values() else n for n in table.column_names]
    # rename_columns drops the schema metadata (model, table_version, threshold): carried over.
    return table.rename_columns(renamed).replace_schema_metadata(table.schema.metadata)


@dataclass(frozen=True)
class DuplicatesResult:
    model: str
    path: str
    table_version: int
    threshold: float
    mode: str  # "full" or "incremental"
    clips: int
    new_clips: int  # compared with the rest this run (all of them in a full run)
    removed_clips: int  # gone or changed since the last run
    pairs: int
    groups: int
    clips_in_groups: int
    clips_marked: int  # in a group and not its kept clip
    clusters: int
    capped_clips: int  # clips whose boundary probes were cut at max_probes (module doc of clustering)
    comparisons: int
    seconds: float
    histogram: list[tuple[float, float, int]]  # (low, high, pairs) of pair cosines

    def metadata(self) -> dict:
        meta = {k: v for k, v in asdict(self).items() if k != "histogram"}
        meta["histogram"] = histogram_markdown(self.histogram)
        return meta


def update_duplicates(
    db: lancedb.DBConnection,
    model: str,
    curation_dir: Path,
    *,
    threshold: float | None = None,
    sources: SourceFacts | None = None,
    full: bool = False,
    max_probes: int = clustering.DEFAULT_MAX_PROBES,
    n_clusters: int | None = None,
    on_progress: Progress | None = None,
) -> DuplicatesResult:
    """Bring `<model>_duplicates.parquet` up to date with the model's table (see the module doc).

    `on_progress(phase, done, total)` follows the long steps in order: "read" (the table, 0 then 1),
    "k-means" (full runs: the cluster counts tried), "assign" (clips) and "compare" (vector pairs)."""
    threshold = _checked_threshold(model, threshold)
    started = time.perf_counter()
    curation_dir = Path(curation_dir)
    curation_dir.mkdir(parents=True, exist_ok=True)
    root = dup_state.state_dir(curation_dir, model)
    # One writer per model's state; a second run waits rather than interleaving generations.
    with FileLock(str(root) + ".lock"):
        report = no_progress if on_progress is None else on_progress
        scan, hashes, x = _read_vectors(db, model, report)
        ids = scan.columns.column("clip_id").combine_chunks()
        previous = dup_state.load_state(root)
        meta = {"threshold": threshold, "dim": int(x.shape[1]), "max_probes": int(max_probes)}
        reuse = previous is not None and not full and _compatible(previous, meta, len(x), n_clusters)
        if reuse:
            assert previous is not None
            same, at, centroids, trained = _unchanged_clips(previous, ids, hashes)
        else:
            same, at = np.zeros(len(x), bool), np.zeros(len(x), np.int64)
            centroids, trained = _train_centroids(x, hashes, threshold, max_probes, n_clusters, report), len(x)
        fresh = clustering.assign(x[~same], centroids, threshold=threshold, max_probes=max_probes, on_progress=report)
        assignment = _merge_assignment(previous if reuse else None, same, at, fresh, max_probes)
        pairs, stats = find_pairs(x, assignment, ~same, threshold, on_progress=report)
        edge_i, edge_j, edge_sim = _all_edges(pairs, previous if reuse else None, ids, same)
        keys = _keep_keys(scan.columns, sources or SourceFacts())
        groups = build_groups(x, edge_i, edge_j, keys)
        table = _output_table(scan.columns, assignment.cluster, groups, model, scan.version, threshold)
        write_table_atomic(table, output_path(curation_dir, model))
        removed = len(previous.clip_id) - int(same.sum()) if reuse and previous is not None else 0
        state_meta = {**meta, "trained_rows": trained, "table_version": scan.version, "model": model}
        _save_state(root, state_meta, centroids, ids, hashes, assignment, (edge_i, edge_j, edge_sim))
    kept = groups.keep
    return DuplicatesResult(
        model=model,
        path=str(output_path(curation_dir, model)),
        table_version=scan.version,
        threshold=threshold,
        mode="incremental" if reuse else "full",
        clips=len(x),
        new_clips=int((~same).sum()),
        removed_clips=removed,
        pairs=len(edge_i),
        groups=int((groups.in_group & kept).sum()),
        clips_in_groups=int(groups.in_group.sum()),
        clips_marked=int((~kept).sum()),
        clusters=len(centroids),
        capped_clips=int(assignment.capped.sum()),
        comparisons=stats.comparisons,
        seconds=round(time.perf_counter() - started, 3),
        histogram=similarity_histogram(edge_sim, threshold),
    )


def _checked_threshold(model: str, threshold: float | None) -> float:
    """The cosine two clips must reach: the model's default when None; refused unless a finite value in [-1, 1]."""
    threshold = default_threshold(model) if threshold is None else float(threshold)
    if not (math.isfinite(threshold) and -1.0 <= threshold <= 1.0):
        raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold!r}")
    return threshold


def _read_vectors(db: lancedb.DBConnection, model: str, report: Progress) -> tuple[TableScan, np.ndarray, np.ndarray]:
    """One pinned scan of the model's table, the hashes of its stored vectors (what tells a changed
    vector), and the vectors normalised in place (a 1M x 768 table is 3 GB: no second copy)."""
    report("read", 0, 1)
    scan = scan_clip_table(db, model, SCAN_COLUMNS)
    hashes = vector_hashes(scan.vectors)  # of the stored bytes, before normalising
    x = clustering.normalize(scan.vectors, in_place=True)
    report("read", 1, 1)
    return scan, hashes, x


def _unchanged_clips(
    previous: dup_state.DupState, ids: pa.Array, hashes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """For an incremental run: which clips of this scan the last run saw with the same vector, their row in
    its state, and its centroids and the rows they were trained on (kept, not retrained)."""
    known, at = positions(ids, previous.clip_id)
    same = known & (previous.vec_hash[at] == hashes)
    return same, at, previous.centroids, int(previous.meta["trained_rows"])


def _train_centroids(
    x: np.ndarray, hashes: np.ndarray, threshold: float, max_probes: int, n_clusters: int | None, report: Progress
) -> np.ndarray:
    """For a full run: k-means centroids over the whole table."""
    # k-means samples the rows with the smallest vector hashes: independent of LanceDB's row order.
    priority = np.argsort(hashes, kind="stable")
    return clustering.fit_centroids(
        x,
        priority,
        threshold=threshold,
        max_probes=max_probes,
        k=n_clusters,
        points_per_centroid=POINTS_PER_CENTROID,
        on_progress=report,
    )


def _all_edges(
    pairs: Pairs, previous: dup_state.DupState | None, ids: pa.Array, same: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of the table as (i, j, cosine): this run's pairs, after an incremental run's earlier
    pairs that still hold (`_old_edges`; `previous` None in a full run, which compared everything)."""
    if previous is None:
        return pairs.i, pairs.j, pairs.sim
    oi, oj, osim = _old_edges(previous, ids, same)
    return np.concatenate([oi, pairs.i]), np.concatenate([oj, pairs.j]), np.concatenate([osim, pairs.sim])


def _save_state(
    root: Path,
    meta: dict,
    centroids: np.ndarray,
    ids: pa.Array,
    hashes: np.ndarray,
    assignment: clustering.Assignment,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """What the next run starts from: centroids, each clip's vector hash and clusters, and the pairs by clip id."""
    dup_state.save_state(
        root,
        dup_state.DupState(
            meta=meta,
            centroids=centroids,
            clip_id=ids,
            vec_hash=hashes,
            cluster=assignment.cluster,
            probes=assignment.probes,
            capped=assignment.capped,
            edge_a=ids.take(pa.array(edges[0])),
            edge_b=ids.take(pa.array(edges[1])),
            edge_sim=edges[2],
        ),
    )


def vector_hashes(vectors: np.ndarray) -> np.ndarray:
    """A 64-bit digest per stored vector: a clip whose vector changed is compared again."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") for row in vectors],
        dtype=np.uint64,
    )


def similarity_histogram(sims: np.ndarray, threshold: float, bins: int = 10) -> list[tuple[float, float, int]]:
    """Pair counts in `bins` equal cosine ranges from the threshold to 1."""
    low = min(threshold, float(sims.min())) if len(sims) else threshold
    edges = np.linspace(low, 1.0, bins + 1)
    counts, _ = np.histogram(np.minimum(sims, 1.0), bins=edges)
    return [(round(float(a), 4), round(float(b), 4), int(c)) for a, b, c in zip(edges[:-1], edges[1:], counts)]


def histogram_markdown(histogram: list[tuple[float, float, int]]) -> str:
    rows = [f"| {a:.4f} - {b:.4f} | {c} |" for a, b, c in histogram]
    return "\n".join(["| cosine | pairs |", "|---|---|", *rows])


def _compatible(previous: dup_state.DupState, meta: dict, rows: int, n_clusters: int | None) -> bool:
    same_setup = all(previous.meta.get(k) == v for k, v in meta.items())
    same_k = n_clusters is None or n_clusters == len(previous.centroids)
    # Centroids trained on far fewer rows than the table holds now balance the blocks badly: retrain.
    return same_setup and same_k and rows <= 2 * max(int(previous.meta.get("trained_rows", 0)), 1)


def _merge_assignment(
    previous: dup_state.DupState | None,
    same: np.ndarray,
    at: np.ndarray,
    fresh: clustering.Assignment,
    max_probes: int,
) -> clustering.Assignment:
    n = len(same)
    cluster, probes, capped = np.empty(n, np.int32), np.empty((n, max_probes), np.int32), np.empty(n, bool)
    cluster[~same], probes[~same], capped[~same] = fresh.cluster, fresh.probes, fresh.capped
    if previous is not None and same.any():
        rows = at[same]
        cluster[same], probes[same], capped[same] = previous.cluster[rows], previous.probes[rows], previous.capped[rows]
    return clustering.Assignment(cluster, probes, capped)


def _old_edges(
    previous: dup_state.DupState, ids: pa.Array, same: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Earlier pairs whose two clips are still there with the same vectors, as row indices of this scan."""
    ka, a = positions(previous.edge_a, ids)
    kb, b = positions(previous.edge_b, ids)
    still = ka & kb & same[a] & same[b]
    a, b = a[still], b[still]
    return np.minimum(a, b), np.maximum(a, b), previous.edge_sim[still]


def positions(values: pa.Array, value_set: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """For each value: whether it is in `value_set`, and its index there (0 where absent)."""
    found = pc.index_in(values, value_set=value_set)
    return found.is_valid().to_numpy(zero_copy_only=False), found.fill_null(0).to_numpy().astype(np.int64)


def _keep_keys(columns: pa.Table, facts: SourceFacts) -> KeepKeys:
    videos = columns.column("video_id").to_pylist()
    return KeepKeys(
        duration_s=columns.column("duration_s").to_numpy(),
        pixels=np.array([facts.pixels.get(v, 0) for v in videos], np.int64),
        registered_at=np.array([facts.registered_at.get(v, math.inf) for v in videos], np.float64),
        clip_id=np.array(columns.column("clip_id").to_pylist(), dtype=object),
    )


def _output_table(
    columns: pa.Table, cluster: np.ndarray, groups, model: str, version: int, threshold: float
) -> pa.Table:
    ids = columns.column("clip_id").combine_chunks()
    grouped = groups.in_group
    group = ids.take(pa.array(np.where(grouped, groups.kept_row, 0)))
    table = columns.append_column("cluster_id", pa.array(cluster, pa.int32()))
    table = table.append_column("dup_group", pc.if_else(pa.array(grouped), group, pa.nulls(len(ids), pa.string())))
    table = table.append_column("dup_keep", pa.array(groups.keep))
    table = table.append_column("group_size", pa.array(groups.size, pa.int32()))
    table = table.append_column("sim_to_kept", pa.array(groups.sim_to_kept, pa.float64(), mask=~grouped))
    keys = ("source_path", "span_start_s", "clip_id")
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys])
    meta = {"model": model, "table_version": str(version), "threshold": repr(threshold)}
    return table.take(order).replace_schema_metadata(meta)
