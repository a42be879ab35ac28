"""Runtime: device, dtype, memory cap and batch sizing for one process that embeds.

Shared by the Dagster GpuResource (the local engine) and the Ray embedding actors, which
resolve the same settings inside their own process (Ray sets CUDA_VISIBLE_DEVICES there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from video_assets.models.base import Embedder
from video_assets.models.runtime import (
    apply_memory_cap,
    measure_item_bytes,
    pick_batch_size,
    resolve_device,
    resolve_dtype,
)

CPU_BATCH = 8  # CPU throughput stops improving well before this
MAX_GPU_BATCH = 64


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    dtype: torch.dtype
    gpu_memory_gb: float | None
    memory_fraction: float | None  # the CUDA allocator cap applied, if any

    def batch_sizer(self, embedder: Embedder) -> Callable[[torch.Tensor], int]:
        """Batch size from the memory cap, measured on one real item (CUDA) or fixed (CPU)."""

        def size(sample: torch.Tensor) -> int:
            if self.device.type != "cuda":
                return CPU_BATCH
            per_item = measure_item_bytes(embedder.embed_video, sample, device=self.device, dtype=self.dtype)
            reserved = torch.cuda.memory_allocated(self.device)  # the weights already loaded
            return pick_batch_size(
                per_item_bytes=per_item,
                gpu_memory_gb=self.gpu_memory_gb,
                max_batch=MAX_GPU_BATCH,
                reserved_bytes=reserved,
            )

        return size


def make_runtime(device: str, dtype: str, gpu_memory_gb: float | None) -> Runtime:
    """The runtime of `device`/`dtype` settings ("auto", "cuda:1", "bf16", ...) in this process;
    a `gpu_memory_gb` caps the CUDA allocator."""
    resolved = resolve_device(device)
    cap = gpu_memory_gb if gpu_memory_gb else None
    fraction = apply_memory_cap(resolved, cap)
    return Runtime(resolved, resolve_dtype(dtype, resolved), cap, fraction)
