"""Recognising a GPU out-of-memory error, and the error we raise when backing off fails."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import torch


def is_oom_error(error: BaseException) -> bool:
    """True for CUDA OOM: the typed error, or the RuntimeError older paths (cuDNN, cuBLAS) raise."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_memory(device: torch.device) -> None:
    """Give cached blocks back after an OOM so the smaller retry can use them."""
    gc.collect()  # tensors still referenced by the failed forward's frames
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


class GpuOutOfMemoryError(RuntimeError):
    """Even a batch of one item does not fit in the memory we may use."""

    def __init__(
        self,
        *,
        indices: Sequence[int],
        ids: Sequence[str],
        device: torch.device,
        gpu_memory_gb: float | None,
        detail: str = "",
    ) -> None:
        self.indices = tuple(indices)
        self.ids = tuple(ids)
        self.device = device
        self.gpu_memory_gb = gpu_memory_gb
        cap = (
            f"the cap is gpu_memory_gb={gpu_memory_gb}" if gpu_memory_gb is not None else "no gpu_memory_gb cap is set"
        )
        super().__init__(
            f"out of memory on {device} with a batch of 1: item(s) {', '.join(self.ids)} "
            f"(index {', '.join(str(i) for i in self.indices)}); {cap}. "
            "Try a larger gpu_memory_gb if the GPU has free memory, a lower-resolution model "
            "variant, or device='cpu'." + (f" (torch: {detail.splitlines()[0]})" if detail.strip() else "")
        )
