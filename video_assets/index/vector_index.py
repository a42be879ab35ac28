"""Which ANN index fits a clip table of a given size, and building it.

Measured on the 2-core machine (benchmarks/RESULTS.md, "Search (ANN)"):

- up to `EXACT_MAX_VALUES` (rows x dim: ~2.6k rows of 768-d, ~8k of 256-d)
  a flat scan is exact and within ~1.6x of an ANN query, so no index is
  built; flat scans grow linearly (19 ms at 10k x 768, 0.5 s at 100k x 768);
- above it IVF_SQ (sqrt(N) partitions, 1-byte codes) with an exact re-rank
  of `k * refine_factor` candidates: at 1M x 768 on our clustered data it gave
  recall@10 0.986 at p50 5.9 ms (nprobes 5, refine 2), built in ~66 s;
- the variants are available on request, with their measured trade-offs:
  IVF_HNSW_SQ (one graph per `HNSW_PARTITION_ROWS` rows, LanceDB's own target)
  needed ef 160 for recall@10 0.958 at 1M x 768 on that data (p50 ~10 ms,
  LanceDB's default ef gave 0.58) and built for 2245 s of CPU (RESULTS.md,
  "LanceDB-only search"); IVF_PQ (dim/8 one-byte codes) reached only recall@10
  0.90 at refine_factor 10.

Rows committed after the index was built are searched flat by LanceDB
until the next maintenance pass adds them, so results stay current.

The index name encodes kind and partition count (`vector_ivf_sq_p1000`),
so maintenance can tell whether the existing index still fits the table.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
from typing import Literal

from lancedb.index import IvfHnswSq, IvfPq, IvfSq
from lancedb.table import Table

IndexKind = Literal["none", "ivf_sq", "ivf_pq", "ivf_hnsw_sq"]
INDEX_KINDS: tuple[str, ...] = ("none", "ivf_sq", "ivf_pq", "ivf_hnsw_sq")

# rows x dim at or below which search stays exact (flat): ~2.6k x 768, ~8k x 256.
EXACT_MAX_VALUES = 2_000_000
# Rows sampled to train IVF centroids (and PQ codebooks): enough for stable
# centroids; more only lengthens the build (k-means cost ~ sample x partitions).
TRAINING_ROWS = 65_536
MAX_SAMPLE_RATE = 256  # Lance's default rows sampled per partition
MIN_SAMPLE_RATE = 16
# Fraction of the memory budget the training sample may take (and the SQ codes, to stay cached).
MEMORY_SHARE = 0.5
# A table this many times larger than the index's partitions were sized for gets a new index.
REBUILD_GROWTH = 4
# Rows per HNSW graph: LanceDB's default target partition size for IVF_HNSW_* (2**20), kept explicit
# so the index name records the partition count.
HNSW_PARTITION_ROWS = 1 << 20
VECTOR_INDEX_PREFIX = "vector_"
_NAME = re.compile(r"^vector_(ivf_sq|ivf_pq|ivf_hnsw_sq)_p(\d+)$")

IndexConfig = IvfSq | IvfPq | IvfHnswSq


@dataclass(frozen=True)
class VectorIndexPlan:
    """The ANN index a table of `num_rows` x `dim` should have, and why."""

    kind: IndexKind
    num_rows: int
    dim: int
    num_partitions: int | None = None
    num_sub_vectors: int | None = None  # IVF_PQ only
    sample_rate: int | None = None
    reason: str = ""

    @property
    def name(self) -> str | None:
        return None if self.kind == "none" else f"{VECTOR_INDEX_PREFIX}{self.kind}_p{self.num_partitions}"

    def config(self) -> IndexConfig:
        """The LanceDB index config of this plan (cosine distance, like search)."""
        if self.kind == "ivf_sq":
            return IvfSq(distance_type="cosine", num_partitions=self.num_partitions, sample_rate=self.sample_rate)
        if self.kind == "ivf_pq":
            return IvfPq(
                distance_type="cosine",
                num_partitions=self.num_partitions,
                num_sub_vectors=self.num_sub_vectors,
                sample_rate=self.sample_rate,
            )
        if self.kind == "ivf_hnsw_sq":
            return IvfHnswSq(distance_type="cosine", num_partitions=self.num_partitions, sample_rate=self.sample_rate)
        raise ValueError("the 'none' plan has no index config")


@dataclass(frozen=True)
class ExistingVectorIndex:
    name: str
    kind: IndexKind | None  # None: an index this module did not name (left alone)
    num_partitions: int | None
    indexed_rows: int
    unindexed_rows: int


def memory_budget_bytes() -> int:
    """Memory available now (Linux MemAvailable), else physical memory; the default budget."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass  # not Linux: fall through to sysconf
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def plan_vector_index(
    num_rows: int,
    dim: int,
    *,
    kind: IndexKind | Literal["auto"] = "auto",
    memory_bytes: int | None = None,
    exact_max_values: int = EXACT_MAX_VALUES,
) -> VectorIndexPlan:
    """The index for a table of `num_rows` vectors of `dim` (see the module doc for the rules).

    `kind="auto"` applies the rules; a named kind forces it (except on an empty table).
    """
    if num_rows < 0 or dim < 1:
        raise ValueError(f"need num_rows >= 0 and dim >= 1, got {num_rows}, {dim}")
    if kind != "auto" and kind not in INDEX_KINDS:
        raise ValueError(f"index kind must be 'auto' or one of {INDEX_KINDS}, got {kind!r}")
    budget = memory_bytes if memory_bytes is not None else memory_budget_bytes()
    if kind == "none" or (kind == "auto" and num_rows * dim <= exact_max_values):
        why = (
            "asked for"
            if kind == "none"
            else f"{num_rows} x {dim} <= {exact_max_values:,} values: flat search is exact and fast"
        )
        return VectorIndexPlan("none", num_rows, dim, reason=f"no ANN index ({why})")
    if num_rows < 256:
        # IVF k-means needs rows to train on; a forced kind on a tiny table stays flat.
        return VectorIndexPlan("none", num_rows, dim, reason=f"no ANN index ({num_rows} rows is too few to train IVF)")
    partitions = ivf_partitions(num_rows)
    sample_rate = _sample_rate(partitions, dim, budget)
    sq_bytes = num_rows * dim  # one byte per dimension
    if kind == "auto":
        kind = "ivf_sq"
        fits = sq_bytes <= MEMORY_SHARE * budget
        why = f"SQ codes {sq_bytes / 2**30:.2f} GiB " + (
            f"fit {MEMORY_SHARE:.0%} of the {budget / 2**30:.1f} GiB budget"
            if fits
            else f"exceed {MEMORY_SHARE:.0%} of the {budget / 2**30:.1f} GiB budget: each query reads its "
            "probed partitions from disk"
        )
    else:
        why = "asked for"
    if kind == "ivf_hnsw_sq":
        partitions = hnsw_partitions(num_rows)
    sub_vectors = _sub_vectors(dim) if kind == "ivf_pq" else None
    return VectorIndexPlan(kind, num_rows, dim, partitions, sub_vectors, sample_rate, reason=f"{kind} ({why})")


def hnsw_partitions(num_rows: int) -> int:
    """One HNSW graph per `HNSW_PARTITION_ROWS` rows (at least one)."""
    return max(1, num_rows // HNSW_PARTITION_ROWS)


def ivf_partitions(num_rows: int) -> int:
    """~sqrt(N) IVF partitions (so ~sqrt(N) rows each): probes stay cheap at every size."""
    return max(1, round(math.sqrt(num_rows)))


def existing_vector_index(table: Table) -> ExistingVectorIndex | None:
    """The table's index on `vector`, if any (the newest one when several exist)."""
    found = [ix for ix in table.list_indices() if list(ix.columns) == ["vector"]]
    if not found:
        return None
    index = max(found, key=lambda ix: ix.created_at)
    match = _NAME.match(index.name)
    stats = table.index_stats(index.name)
    kind: IndexKind | None = match.group(1) if match else None  # type: ignore[assignment]
    return ExistingVectorIndex(
        name=index.name,
        kind=kind,
        num_partitions=int(match.group(2)) if match else None,
        indexed_rows=stats.num_indexed_rows if stats else 0,
        unindexed_rows=stats.num_unindexed_rows if stats else 0,
    )


def needs_new_index(existing: ExistingVectorIndex | None, plan: VectorIndexPlan) -> bool:
    """Whether the table should get `plan`'s index (absent, another kind, or sized for a much smaller table)."""
    if plan.kind == "none":
        return False
    if existing is None:
        return True
    if existing.kind is None:
        return False  # someone's own index: never replaced behind their back
    if existing.kind != plan.kind:
        return True
    assert existing.num_partitions is not None and plan.num_partitions is not None
    growth = plan.num_partitions / existing.num_partitions  # HNSW partitions grow with the rows ...
    return (growth if plan.kind == "ivf_hnsw_sq" else growth**2) >= REBUILD_GROWTH  # ... IVF ones with sqrt(rows)


def build_vector_index(table: Table, plan: VectorIndexPlan) -> float:
    """Build `plan`'s index, then drop the vector indexes it supersedes; returns build seconds.

    The old index serves queries until the new one is committed.
    """
    if plan.kind == "none" or plan.name is None:
        raise ValueError("nothing to build for a 'none' plan")
    started = time.perf_counter()
    table.create_index("vector", config=plan.config(), name=plan.name, replace=True)
    seconds = time.perf_counter() - started
    for index in table.list_indices():
        if index.name != plan.name and _NAME.match(index.name):
            table.drop_index(index.name)
    return seconds


def _sample_rate(partitions: int, dim: int, budget: int) -> int:
    rate = max(MIN_SAMPLE_RATE, min(MAX_SAMPLE_RATE, TRAINING_ROWS // partitions))
    fits = int(MEMORY_SHARE * budget // max(1, partitions * dim * 4))  # float32 training sample
    return max(MIN_SAMPLE_RATE, min(rate, fits))


def _sub_vectors(dim: int) -> int:
    """dim/8 sub-vectors (8 dims per 1-byte code); a dim not divisible by 8 uses the next divisor."""
    width = next(w for w in (8, 4, 16, 2, 1) if dim % w == 0)
    return dim // width
