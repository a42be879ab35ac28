"""What a duplicates run leaves for the next one: centroids, per-clip assignment, pairs.

Each run writes a new generation directory and then points `CURRENT` at it with one
atomic rename, so a run killed midway leaves the previous generation in force.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = 1
_KEEP_GENERATIONS = 2


@dataclass(frozen=True)
class DupState:
    meta: dict  # format, threshold, dim, max_probes, trained_rows, table_version
    centroids: np.ndarray  # (k, dim) float32
    clip_id: pa.Array  # (N,) string
    vec_hash: np.ndarray  # (N,) uint64
    cluster: np.ndarray  # (N,) int32
    probes: np.ndarray  # (N, max_probes) int32
    capped: np.ndarray  # (N,) bool
    edge_a: pa.Array  # (P,) clip ids
    edge_b: pa.Array
    edge_sim: np.ndarray  # (P,) float64


def state_dir(curation_dir: Path, model: str) -> Path:
    return Path(curation_dir) / f"{model}_duplicates.state"


def load_state(root: Path) -> DupState | None:
    """The current generation, or None when there is none (first run) or it is of another format."""
    pointer = root / "CURRENT"
    if not pointer.exists():
        return None
    gen = root / pointer.read_text().strip()
    meta = json.loads((gen / "meta.json").read_text())
    if meta.get("format") != FORMAT:
        return None
    clips = pq.read_table(gen / "clips.parquet")
    edges = pq.read_table(gen / "edges.parquet")
    probes = clips.column("probes").combine_chunks()
    width = int(meta["max_probes"])
    return DupState(
        meta=meta,
        centroids=np.load(gen / "centroids.npy"),
        clip_id=clips.column("clip_id").combine_chunks(),
        vec_hash=clips.column("vec_hash").to_numpy(),
        cluster=clips.column("cluster").to_numpy(),
        probes=probes.flatten().to_numpy().reshape(len(clips), width).astype(np.int32),
        capped=clips.column("capped").to_numpy(zero_copy_only=False),
        edge_a=edges.column("clip_a").combine_chunks(),
        edge_b=edges.column("clip_b").combine_chunks(),
        edge_sim=edges.column("sim").to_numpy(),
    )


def save_state(root: Path, state: DupState) -> None:
    """Write a new generation, switch `CURRENT` to it atomically, drop the oldest."""
    root.mkdir(parents=True, exist_ok=True)
    existing = sorted(int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit())
    name = f"gen-{(existing[-1] + 1) if existing else 1}"
    gen = root / name
    shutil.rmtree(gen, ignore_errors=True)  # a half-written generation of a killed run
    gen.mkdir()
    width = state.probes.shape[1]
    probes = pa.FixedSizeListArray.from_arrays(pa.array(state.probes.ravel(), pa.int32()), width)
    pq.write_table(
        pa.table(
            {
                "clip_id": state.clip_id,
                "vec_hash": pa.array(state.vec_hash, pa.uint64()),
                "cluster": pa.array(state.cluster, pa.int32()),
                "probes": probes,
                "capped": pa.array(state.capped, pa.bool_()),
            }
        ),
        gen / "clips.parquet",
    )
    pq.write_table(
        pa.table({"clip_a": state.edge_a, "clip_b": state.edge_b, "sim": pa.array(state.edge_sim, pa.float64())}),
        gen / "edges.parquet",
    )
    np.save(gen / "centroids.npy", state.centroids)
    (gen / "meta.json").write_text(json.dumps({**state.meta, "format": FORMAT}, indent=1))
    tmp = root / f"CURRENT.tmp-{os.getpid()}"
    tmp.write_text(name)
    os.replace(tmp, root / "CURRENT")
    for old in existing[: max(0, len(existing) + 1 - _KEEP_GENERATIONS)]:
        shutil.rmtree(root / f"gen-{old}", ignore_errors=True)
