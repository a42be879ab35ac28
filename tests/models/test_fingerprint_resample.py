"""The fingerprint's area resampling by taps matches torch's area interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from video_assets.models.fingerprint_resample import area, area_taps


@pytest.mark.parametrize(
    ("size_in", "size_out"),
    [((120, 160), (120, 128)), ((120, 160), (64, 64)), ((48, 200), (64, 64)), ((256, 97), (128, 97)), ((7, 5), (3, 9))],
)
def test_taps_give_torch_area_interpolation(size_in: tuple[int, int], size_out: tuple[int, int]) -> None:
    x = np.random.default_rng(0).random((3, *size_in), dtype=np.float32)
    expected = F.interpolate(torch.from_numpy(x)[:, None], size=size_out, mode="area")[:, 0].numpy()
    assert np.abs(area(x, size_out) - expected).max() < 1e-6


def test_each_output_pixel_is_a_mean_of_the_inputs_it_covers() -> None:
    for n_in, n_out in ((160, 128), (10, 3), (3, 10)):
        weights = sum(np.bincount(np.arange(n_out), w, n_out) for _, w in area_taps(n_in, n_out))
        assert np.allclose(weights, 1.0), (n_in, n_out)


def test_an_axis_already_at_size_is_passed_through() -> None:
    x = np.ones((2, 5, 6), np.float32)
    assert area(x, (5, 6)) is x
