"""GpuResource: device, dtype, memory cap and batch sizing for the embedding steps."""

from __future__ import annotations

import dagster as dg

from video_assets.models.device_runtime import CPU_BATCH, MAX_GPU_BATCH, Runtime, make_runtime

__all__ = ["CPU_BATCH", "MAX_GPU_BATCH", "GpuResource", "Runtime"]


class GpuResource(dg.ConfigurableResource):
    """Where models run. ``gpu_memory_gb`` per model caps the process's CUDA allocator
    (a real cap, not only a scheduling hint) and sizes batches."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32

    def runtime(self, gpu_memory_gb: float | None) -> Runtime:
        return make_runtime(self.device, self.dtype, gpu_memory_gb)
