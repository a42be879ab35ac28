"""Where and how a model runs: device, dtype, memory cap, batch size, OOM back-off, model cache.

Plain library; `GpuResource` (resources/) turns its config into these calls.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from video_assets.models.oom import GpuOutOfMemoryError, is_oom_error, release_memory

GIB = 1024**3
T = TypeVar("T")

_DTYPES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "fp32": torch.float32,
    "float32": torch.float32,
}


class DeviceUnavailableError(RuntimeError):
    """A CUDA device was asked for by name and this process cannot use it."""


def resolve_device(name: str) -> torch.device:
    """ "auto" (cuda if available, else cpu), "cpu", "cuda" (the current GPU) or "cuda:N"."""
    key = name.strip().lower()
    if key == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {name!r} was asked for but CUDA is not available (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'none'}); use device='cpu' or 'auto'"
            )
        index_text = key.partition(":")[2]
        if key != "cuda" and not index_text.isdigit():
            raise ValueError(f"bad device {name!r}: expected 'cuda:N' with N a GPU index")
        index = int(index_text) if index_text else torch.cuda.current_device()
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceUnavailableError(f"device {name!r} does not exist: this process sees {count} GPU(s)")
        return torch.device("cuda", index)
    raise ValueError(f"unknown device {name!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """ "auto" = bf16 on CUDA (fp16 on GPUs without bf16, pre-Ampere), fp32 on CPU; else bf16/fp16/fp32."""
    key = name.strip().lower()
    if key == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if key not in _DTYPES:
        raise ValueError(f"unknown dtype {name!r}: use 'auto', 'bf16', 'fp16' or 'fp32'")
    return _DTYPES[key]


def apply_memory_cap(device: torch.device, gpu_memory_gb: float | None) -> float | None:
    """Cap this process's CUDA allocator at `gpu_memory_gb`; returns the fraction set.

    None for CPU devices (the cap is a CUDA allocator setting) or when no cap is asked.
    A cap above the card's memory is clamped to the whole card.
    """
    if gpu_memory_gb is None:
        return None
    if gpu_memory_gb <= 0:
        raise ValueError(f"gpu_memory_gb must be positive, got {gpu_memory_gb}")
    if device.type != "cuda":
        return None
    total = torch.cuda.get_device_properties(device).total_memory
    fraction = min(1.0, gpu_memory_gb * GIB / total)
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    return fraction


def pick_batch_size(
    *,
    per_item_bytes: int,
    gpu_memory_gb: float | None,
    max_batch: int,
    reserved_bytes: int = 0,
    headroom: float = 0.8,
) -> int:
    """How many items to send at once.

    Heuristic: activation memory grows linearly with the batch, the weights
    (`reserved_bytes`) are a fixed cost, and `headroom` keeps ~20% back for
    allocator fragmentation and library workspaces. So the batch is
    ``(gpu_memory_gb * headroom - reserved) // per_item_bytes``, clamped to
    [1, max_batch]. With no budget (CPU, or no cap) it is `max_batch`. The estimate
    may be wrong either way: `embed_batches` halves the batch on OOM.
    `per_item_bytes` comes from the model's own estimate or `measure_item_bytes`.
    """
    if max_batch < 1 or per_item_bytes < 1:
        raise ValueError(f"max_batch and per_item_bytes must be positive, got {max_batch}, {per_item_bytes}")
    if gpu_memory_gb is None:
        return max_batch
    budget = gpu_memory_gb * GIB * headroom - reserved_bytes
    return max(1, min(max_batch, int(budget // per_item_bytes)))


def measure_item_bytes(
    embed_fn: Callable[[torch.Tensor], torch.Tensor],
    sample: torch.Tensor,
    *,
    device: torch.device,
    dtype: torch.dtype,
    probe_batch: int = 2,
) -> int:
    """CUDA memory one more item costs: peak at `probe_batch` items minus peak at 1, per item."""
    if device.type != "cuda":
        raise ValueError("measure_item_bytes needs a CUDA device; on CPU pass an estimate to pick_batch_size")
    if probe_batch < 2:
        raise ValueError(f"probe_batch must be at least 2, got {probe_batch}")
    peaks = []
    for size in (1, probe_batch):
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        batch = _to_device(torch.stack([sample] * size), device, dtype)
        with torch.inference_mode():
            embed_fn(batch)
        torch.cuda.synchronize(device)
        peaks.append(torch.cuda.max_memory_allocated(device) - base)
        del batch
    return max(1, (peaks[1] - peaks[0]) // (probe_batch - 1))


@dataclass(frozen=True)
class BatchEvent:
    """Progress of `embed_batches`: kind "batch" (done) or "oom_backoff" (halved)."""

    kind: str
    start: int  # index of the first item of the batch
    size: int  # items in the batch
    next_batch_size: int
    seconds: float


@dataclass(frozen=True)
class BatchRunReport:
    vectors: torch.Tensor  # (N, D) float32 on CPU, in input order
    batch_sizes: tuple[int, ...]  # size of each batch that succeeded, in order
    oom_backoffs: int
    seconds: float
    items_per_second: float
    peak_memory_bytes: int | None
    peak_memory_source: str  # "cuda_max_allocated", "process_max_rss" or "unavailable"
    final_batch_size: int  # the batch size after any back-off: where the next call should start


def embed_batches(
    embed_fn: Callable[[torch.Tensor], torch.Tensor],
    items: Sequence[torch.Tensor],
    *,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    item_ids: Sequence[str] | None = None,
    gpu_memory_gb: float | None = None,
    on_event: Callable[[BatchEvent], None] | None = None,
) -> BatchRunReport:
    """Run `embed_fn` over `items` (same shape each) in batches, halving the batch on OOM.

    Floating-point items are cast to `dtype` on `device`; others (token ids) keep
    their dtype. After an OOM the smaller batch size is kept for the rest of the
    run, so one run does not hit the same wall again. A batch of one that still
    does not fit raises `GpuOutOfMemoryError` naming the item.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if item_ids is not None and len(item_ids) != len(items):
        raise ValueError(f"{len(item_ids)} item_ids for {len(items)} items")
    ids = [str(i) for i in item_ids] if item_ids is not None else [str(i) for i in range(len(items))]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    outputs: list[torch.Tensor] = []
    sizes: list[int] = []
    backoffs = 0
    started = time.perf_counter()
    start = 0
    while start < len(items):
        chunk = items[start : start + batch_size]
        batch_started = time.perf_counter()
        oom_message = None
        try:
            out = _run_batch(embed_fn, chunk, start, device, dtype)
        except Exception as error:  # only OOM is handled; anything else propagates unchanged
            if not is_oom_error(error):
                raise
            oom_message = str(error)
        if oom_message is not None:
            # Out of the except block, so the traceback no longer pins the failed batch's tensors.
            release_memory(device)
            backoffs += 1
            if len(chunk) == 1:
                raise GpuOutOfMemoryError(
                    indices=[start],
                    ids=[ids[start]],
                    device=device,
                    gpu_memory_gb=gpu_memory_gb,
                    detail=oom_message,
                )
            batch_size = max(1, len(chunk) // 2)
            _emit(on_event, "oom_backoff", start, len(chunk), batch_size, batch_started)
            continue
        outputs.append(out)
        sizes.append(len(chunk))
        start += len(chunk)
        _emit(on_event, "batch", start - len(chunk), len(chunk), batch_size, batch_started)
    seconds = time.perf_counter() - started
    vectors = torch.cat(outputs) if outputs else torch.empty((0, 0), dtype=torch.float32)
    peak, source = _peak_memory(device)
    return BatchRunReport(
        vectors=vectors,
        batch_sizes=tuple(sizes),
        oom_backoffs=backoffs,
        seconds=seconds,
        items_per_second=len(items) / seconds if seconds > 0 else float("inf"),
        peak_memory_bytes=peak,
        peak_memory_source=source,
        final_batch_size=batch_size,
    )


def _run_batch(
    embed_fn: Callable[[torch.Tensor], torch.Tensor],
    chunk: Sequence[torch.Tensor],
    start: int,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    shapes = {tuple(item.shape) for item in chunk}
    if len(shapes) > 1:
        raise ValueError(f"items {start}..{start + len(chunk) - 1} differ in shape: {sorted(shapes)}")
    batch = _to_device(torch.stack(list(chunk)), device, dtype)
    with torch.inference_mode():
        out = embed_fn(batch)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(chunk):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"embed_fn must return (batch, dim) for a batch of {len(chunk)}, got {shape}")
    return out.detach().to(device="cpu", dtype=torch.float32)


def _to_device(batch: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if batch.is_floating_point():
        return batch.to(device=device, dtype=dtype)
    return batch.to(device=device)


def _emit(
    on_event: Callable[[BatchEvent], None] | None, kind: str, start: int, size: int, next_size: int, t0: float
) -> None:
    if on_event is not None:
        on_event(BatchEvent(kind, start, size, next_size, time.perf_counter() - t0))


def _peak_memory(device: torch.device) -> tuple[int | None, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda_max_allocated"
    try:
        import resource  # POSIX only
    except ImportError:
        return None, "unavailable"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (rss if sys.platform == "darwin" else rss * 1024), "process_max_rss"  # KiB on Linux


# -- model cache --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelKey:
    name: str
    device: str
    dtype: str
    files: tuple[str, ...]  # resolved weight paths: other files are another model

    @classmethod
    def of(cls, name: str, device: torch.device, dtype: torch.dtype, files: Iterable[Path | str]) -> ModelKey:
        return cls(name, str(device), str(dtype), tuple(sorted(str(Path(f).resolve()) for f in files)))


class ModelCache:
    """Loads each model once per process and hands the same object back; thread-safe.

    Two threads asking for the same key wait for one load; different keys load in parallel.
    A load that raises is not cached, so the next call tries again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[ModelKey, object] = {}
        self._loading: dict[ModelKey, threading.Lock] = {}

    def get_or_load(self, key: ModelKey, loader: Callable[[], T]) -> T:
        with self._lock:
            if key in self._models:
                return self._models[key]  # type: ignore[return-value]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]  # type: ignore[return-value]
            model = loader()
            with self._lock:
                self._models[key] = model
                self._loading.pop(key, None)
            return model

    def evict(self, key: ModelKey) -> bool:
        with self._lock:
            return self._models.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)


MODEL_CACHE = ModelCache()  # the process-wide cache embedders load through
