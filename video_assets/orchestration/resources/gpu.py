"""GpuResource: device, dtype, memory cap and batch sizing for the embedding steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
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


class GpuResource(dg.ConfigurableResource):
    """Where models run. ``gpu_memory_gb`` per model caps the process's CUDA allocator
    (a real cap, not only a scheduling hint) and sizes batches."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32

    def runtime(self, gpu_memory_gb: float | None) -> Runtime:
        device = resolve_device(self.device)
        cap = gpu_memory_gb if gpu_memory_gb else None
        fraction = apply_memory_cap(device, cap)
        return Runtime(device, resolve_dtype(self.dtype, device), cap, fraction)
