"""`execution` in the settings: which engine runs the decode and embedding work."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ExecutionSettings(BaseModel):
    """``engine: local`` (the default, no Ray needed) runs everything in the Dagster step's
    process; ``engine: ray`` sends decoding and embedding to the Ray cluster at ``address``
    while Dagster keeps orchestrating, staging rows and committing (one committer per table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["local", "ray"] = "local"
    address: str | None = None  # host:port of the cluster's GCS, or "auto" (RAY_ADDRESS / a local head)
    # CPUs a decode task asks for (one task per video).
    decode_num_cpus: float = Field(1.0, gt=0)
    # Embedding actors per model; None: as many as the cluster's GPUs allow for a GPU model
    # (GPUs / num_gpus_per_worker), one per node for a CPU model, at most max_actors_per_model.
    actors_per_model: int | None = Field(None, ge=1)
    max_actors_per_model: int = Field(8, ge=1)
    # Host memory an embedding actor reserves on its node (Ray's `memory` resource); None: none.
    actor_memory_gb: float | None = Field(None, gt=0)
    # Bounds on every wait, so a request the cluster cannot meet fails instead of hanging.
    connect_timeout_s: float = Field(10.0, gt=0)
    actor_start_timeout_s: float = Field(120.0, gt=0)
    # Whether the cluster may grow (KubeRay autoscaling): then a request larger than any node
    # today is not refused up front; actor_start_timeout_s still bounds the wait.
    autoscaling: bool = False

    @model_validator(mode="after")
    def _address_for_ray(self) -> ExecutionSettings:
        if self.engine == "ray" and not self.address:
            raise ValueError("engine 'ray' needs an address (host:port of the cluster, or 'auto')")
        return self
