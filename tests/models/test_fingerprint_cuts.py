"""The fingerprint's trend leaves scene cuts out: a clip that straddles a cut keeps the
motion of its scenes, not the jump between them."""

from __future__ import annotations

import torch

from video_assets.models.fingerprint_cuts import cut_blind_trend, scene_gates, step_weights
from video_assets.models.fingerprint_dct import temporal_legendre


def _drifting_scene(t: int, dim: int, seed: int) -> torch.Tensor:
    """(t, dim): a base descriptor that drifts slowly, as one scene does frame to frame."""
    g = torch.Generator().manual_seed(seed)
    base, drift = torch.randn(dim, generator=g), torch.randn(dim, generator=g)
    return base + 0.05 * torch.arange(t, dtype=torch.float32)[:, None] * drift


def test_without_a_cut_the_trend_is_the_legendre_trend() -> None:
    per_frame = _drifting_scene(8, 16, 0)[None]
    assert bool((scene_gates(per_frame) == 1.0).all())
    torch.testing.assert_close(cut_blind_trend(per_frame), temporal_legendre(per_frame, (1.0, 1.0))[:, 1])


def test_step_weights_sum_the_steps_into_the_p1_moment() -> None:
    per_frame = torch.randn(3, 8, 5)  # any sequence, cut or not
    steps = per_frame[:, 1:] - per_frame[:, :-1]
    trend = torch.einsum("s,bsd->bd", step_weights(8), steps)
    torch.testing.assert_close(trend, temporal_legendre(per_frame, (1.0, 1.0))[:, 1])
    assert bool((step_weights(8) > 0).all())


def test_the_jump_across_a_cut_is_left_out() -> None:
    a, b = _drifting_scene(8, 64, 1), _drifting_scene(8, 64, 2)
    straddling = torch.cat([a[4:], b[:4]])[None]  # half scene A, half scene B
    gates = scene_gates(straddling)[0]
    assert gates[3] == 0.0 and bool((gates[[0, 1, 2, 4, 5, 6]] == 1.0).all())
    trend = cut_blind_trend(straddling)[0]
    plain = temporal_legendre(straddling, (1.0, 1.0))[0, 1]
    jump = b[:4].mean(0) - a[4:].mean(0)
    # The plain trend points along the jump; the cut-blind one follows the scenes' drift.
    assert float(torch.cosine_similarity(plain, jump, dim=0)) > 0.9
    assert abs(float(torch.cosine_similarity(trend, jump, dim=0))) < 0.5
    assert float(trend.norm()) < 0.2 * float(plain.norm())
