"""How many partitions this machine can work on at once, and which GPUs each worker gets.

One rule for every way in: `video-assets run --workers` (default), the run queue of the
daemon that UI launches and backfills go through, and the pools. With CUDA: one worker per
GPU share (`num_gpus_per_worker` 0.5 puts two workers on each card); without: one worker per
`num_cpus` of the cores the process may use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from video_assets.stages.resolved import ModelPlan


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset), not the host's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def visible_gpus() -> int:
    """CUDA devices this process can see (0 without CUDA); torch asks NVML and creates no context."""
    import torch  # here: the count is asked once per command, and torch is not needed to plan

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass(frozen=True)
class WorkerSlots:
    workers: int
    gpus: int  # visible CUDA devices
    gpu_share: float  # the smallest num_gpus_per_worker among the models that ask for a GPU (0: none do)

    def gpu_ids(self, worker: int) -> list[int]:
        """The device indices worker `worker` (0-based) is bound to: none on CPU, one card for a share
        of at most one GPU (workers round-robin over the cards), `ceil(share)` cards otherwise."""
        if not self.gpus or self.gpu_share <= 0:
            return []
        if self.gpu_share <= 1:
            return [worker % self.gpus]
        width = math.ceil(self.gpu_share)
        first = (worker * width) % self.gpus
        return [(first + i) % self.gpus for i in range(width)]


def machine_slots(plans: Sequence[ModelPlan], *, cores: int | None = None, gpus: int | None = None) -> WorkerSlots:
    """The workers this machine can feed under these model plans (see the module docstring)."""
    cores = usable_cores() if cores is None else cores
    gpus = visible_gpus() if gpus is None else gpus
    shares = [p.num_gpus_per_worker for p in plans if p.num_gpus_per_worker > 0]
    share = min(shares) if shares else 0.0
    if gpus and share:
        return WorkerSlots(max(1, math.floor(gpus / share + 1e-9)), gpus, share)
    per_worker = max((p.num_cpus for p in plans), default=1)
    return WorkerSlots(max(1, cores // max(1, per_worker)), gpus, share)
