"""Device/dtype rules, memory cap, batch sizing, OOM back-off and the model cache, on CPU.

The embed functions here are small deterministic maps (item i -> a row that
encodes i), so order and batching are checkable; OOM is raised by the test's
function itself, exactly as CUDA's allocator raises it.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch

from video_assets.models import runtime
from video_assets.models.oom import GpuOutOfMemoryError, is_oom_error
from video_assets.models.runtime import (
    GIB,
    BatchEvent,
    DeviceUnavailableError,
    ModelCache,
    ModelKey,
    apply_memory_cap,
    embed_batches,
    pick_batch_size,
    resolve_device,
    resolve_dtype,
)

CPU = torch.device("cpu")


def items(n: int) -> list[torch.Tensor]:
    """Item i is a (2, 3) tensor filled with i."""
    return [torch.full((2, 3), float(i)) for i in range(n)]


def encode(batch: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) -> (B, 2): [value, value * 10], so each row says which item it came from."""
    value = batch.float().mean(dim=(1, 2))
    return torch.stack([value, value * 10], dim=1)


def oom_above(limit: int, message: str | None = None):
    seen: list[int] = []

    def embed(batch: torch.Tensor) -> torch.Tensor:
        seen.append(batch.shape[0])
        if batch.shape[0] > limit:
            if message is None:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
            raise RuntimeError(message)
        return encode(batch)

    return embed, seen


def test_ragged_batches_keep_input_order():
    report = embed_batches(encode, items(10), batch_size=4, device=CPU, dtype=torch.float32)
    assert report.batch_sizes == (4, 4, 2)
    assert report.vectors.dtype == torch.float32 and report.vectors.device == CPU
    assert torch.equal(report.vectors[:, 0], torch.arange(10, dtype=torch.float32))
    assert report.oom_backoffs == 0
    assert report.seconds > 0 and report.items_per_second == pytest.approx(10 / report.seconds)
    assert report.peak_memory_source == "process_max_rss" and report.peak_memory_bytes > 10 * 2**20


@pytest.mark.parametrize("message", [None, "CUDA error: out of memory"])
def test_oom_halves_the_batch_and_keeps_it_small(message):
    embed, seen = oom_above(3, message)
    events: list[BatchEvent] = []
    report = embed_batches(embed, items(11), batch_size=8, device=CPU, dtype=torch.float32, on_event=events.append)
    assert seen[:3] == [8, 4, 2]  # 8 and 4 fail, 2 fits
    assert report.batch_sizes == (2, 2, 2, 2, 2, 1)  # the smaller size sticks; ragged tail
    assert report.oom_backoffs == 2
    assert torch.equal(report.vectors[:, 0], torch.arange(11, dtype=torch.float32))
    assert [e.kind for e in events[:3]] == ["oom_backoff", "oom_backoff", "batch"]
    assert (events[0].size, events[0].next_batch_size, events[1].next_batch_size) == (8, 4, 2)


def test_item_that_never_fits_is_named():
    def embed(batch: torch.Tensor) -> torch.Tensor:
        if (batch == 3).any():
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return encode(batch)

    ids = [f"clip-{i}" for i in range(6)]
    with pytest.raises(GpuOutOfMemoryError) as info:
        embed_batches(embed, items(6), batch_size=4, device=CPU, dtype=torch.float32, item_ids=ids, gpu_memory_gb=10)
    error = info.value
    assert (error.indices, error.ids, error.gpu_memory_gb) == ((3,), ("clip-3",), 10)
    for words in ("clip-3", "index 3", "gpu_memory_gb=10", "lower-resolution", "device='cpu'"):
        assert words in str(error)


def test_errors_other_than_oom_propagate_unchanged():
    def embed(batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        embed_batches(embed, items(3), batch_size=2, device=CPU, dtype=torch.float32)


def test_floats_are_cast_to_dtype_and_integers_keep_theirs():
    seen: list[torch.dtype] = []

    def embed(batch: torch.Tensor) -> torch.Tensor:
        seen.append(batch.dtype)
        return encode(batch)

    report = embed_batches(embed, items(3), batch_size=2, device=CPU, dtype=torch.bfloat16)
    ids = [torch.full((2, 3), i, dtype=torch.int64) for i in range(3)]
    embed_batches(embed, ids, batch_size=3, device=CPU, dtype=torch.bfloat16)
    assert seen == [torch.bfloat16, torch.bfloat16, torch.int64]
    assert report.vectors.dtype == torch.float32


def test_bad_inputs_and_outputs_are_reported():
    with pytest.raises(ValueError, match="differ in shape"):
        embed_batches(encode, [torch.zeros(2, 3), torch.zeros(3, 3)], batch_size=2, device=CPU, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"\(batch, dim\)"):
        embed_batches(lambda b: b, items(2), batch_size=2, device=CPU, dtype=torch.float32)
    with pytest.raises(ValueError, match="item_ids"):
        embed_batches(encode, items(2), batch_size=2, device=CPU, dtype=torch.float32, item_ids=["a"])


def test_is_oom_error():
    assert is_oom_error(torch.cuda.OutOfMemoryError("x"))
    assert is_oom_error(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert not is_oom_error(RuntimeError("device-side assert triggered"))
    assert not is_oom_error(ValueError("out of memory"))


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == CPU
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
        resolve_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("CUDA:0") == torch.device("cuda", 0)
    with pytest.raises(DeviceUnavailableError, match="sees 2 GPU"):
        resolve_device("cuda:2")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_resolve_dtype(monkeypatch):
    cuda = torch.device("cuda", 0)
    assert resolve_dtype("auto", CPU) == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", cuda) == torch.float16  # pre-Ampere GPUs
    assert [resolve_dtype(n, CPU) for n in ("bf16", "fp16", "FP32")] == [
        torch.bfloat16,
        torch.float16,
        torch.float32,
    ]
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int8", CPU)


def test_memory_cap_sets_the_fraction_of_the_card(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda d: type("P", (), {"total_memory": 80 * GIB}))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, d: calls.append((f, d)))
    cuda = torch.device("cuda", 0)
    assert apply_memory_cap(cuda, 20) == pytest.approx(0.25)
    assert apply_memory_cap(cuda, 200) == 1.0  # clamped to the whole card
    assert calls == [(pytest.approx(0.25), cuda), (1.0, cuda)]
    assert apply_memory_cap(CPU, 20) is None and apply_memory_cap(cuda, None) is None
    assert len(calls) == 2
    with pytest.raises(ValueError):
        apply_memory_cap(cuda, 0)


def test_pick_batch_size():
    # 10 GiB * 0.8 - 2 GiB of weights = 6 GiB for activations at 1 GiB per item
    assert pick_batch_size(per_item_bytes=GIB, gpu_memory_gb=10, max_batch=64, reserved_bytes=2 * GIB) == 6
    assert pick_batch_size(per_item_bytes=GIB, gpu_memory_gb=100, max_batch=16) == 16
    assert pick_batch_size(per_item_bytes=20 * GIB, gpu_memory_gb=10, max_batch=16) == 1
    assert pick_batch_size(per_item_bytes=GIB, gpu_memory_gb=None, max_batch=32) == 32
    with pytest.raises(ValueError):
        pick_batch_size(per_item_bytes=0, gpu_memory_gb=10, max_batch=8)


def test_measure_item_bytes_needs_cuda():
    with pytest.raises(ValueError, match="CUDA"):
        runtime.measure_item_bytes(encode, items(1)[0], device=CPU, dtype=torch.float32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_measure_item_bytes_grows_with_the_activation_size():
    device = torch.device("cuda", 0)
    small = runtime.measure_item_bytes(
        lambda b: b.repeat(1, 4, 1), torch.zeros(256, 256), device=device, dtype=torch.float32
    )
    large = runtime.measure_item_bytes(
        lambda b: b.repeat(1, 16, 1), torch.zeros(256, 256), device=device, dtype=torch.float32
    )
    assert large > small >= 4 * 256 * 256 * 4


def test_model_cache_loads_once_per_key_even_from_many_threads(tmp_path):
    cache = ModelCache()
    weights = tmp_path / "w.pt"
    key = ModelKey.of("tiny", CPU, torch.float32, [weights])
    loads = []

    def loader() -> object:
        loads.append(1)
        time.sleep(0.05)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load(key, loader))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len({id(r) for r in results}) == 1
    assert cache.get_or_load(ModelKey.of("tiny", CPU, torch.float32, [str(weights)]), loader) is results[0]
    other = cache.get_or_load(ModelKey.of("tiny", CPU, torch.bfloat16, [weights]), object)
    assert other is not results[0] and len(cache) == 2


def test_model_cache_does_not_keep_failed_loads():
    cache = ModelCache()
    key = ModelKey.of("tiny", CPU, torch.float32, [])

    def broken() -> object:
        raise OSError("truncated checkpoint")

    with pytest.raises(OSError):
        cache.get_or_load(key, broken)
    assert key not in cache
    model = cache.get_or_load(key, object)
    assert cache.get_or_load(key, broken) is model
    assert cache.evict(key) and key not in cache
