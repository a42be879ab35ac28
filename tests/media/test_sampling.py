from __future__ import annotations

import numpy as np
import pytest

from video_assets.media.sampling import (
    frames_in_span,
    middle_index,
    nearest_frames,
    sample_times,
    sequence_indices,
)

TIMES_30FPS_12S = np.arange(360) / 30.0


def test_ten_seconds_of_30fps_at_2fps_gives_21_frames():
    lo, hi = frames_in_span(TIMES_30FPS_12S, 0.0, 10.0)
    assert (lo, hi) == (0, 300)
    idx = sequence_indices(TIMES_30FPS_12S, lo, hi, 2.0)
    # Samples 0, 0.5, ..., 10.0 s; the last is past the clip's last frame (9.967 s) and maps to it.
    assert idx.tolist() == [15 * k for k in range(20)] + [299]


def test_endpoint_included_only_when_under_half_an_interval_past_stop():
    assert len(sample_times(0.0, 9.75, 2.0)) == 20  # 10.0 is exactly half an interval past
    assert len(sample_times(0.0, 9.76, 2.0)) == 21
    assert len(sample_times(3.0, 3.0, 2.0)) == 1  # one-frame clip: one sample


def test_ties_go_to_the_earlier_frame_despite_float_noise():
    times = np.arange(10) / 30.0
    samples = np.arange(1, 18, 2) / 60.0  # exactly between two frames each time
    assert nearest_frames(times, samples).tolist() == list(range(9))


def test_upsampling_repeats_frames_and_keeps_the_sample_count():
    times = np.arange(10) / 10.0  # 10 fps, 0.0..0.9
    idx = sequence_indices(times, 0, 10, 20.0)
    assert len(idx) == len(sample_times(0.0, 0.9, 20.0)) == 19
    assert idx.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9]


def test_variable_frame_rate_maps_each_sample_to_the_nearest_real_frame():
    times = np.array([0.0, 0.1, 0.45, 0.5, 1.2, 1.9, 2.05])
    idx = sequence_indices(times, 0, len(times), 1.0)  # samples at 0, 1, 2 s
    assert idx.tolist() == [0, 4, 6]


def test_span_is_half_open_and_robust_to_float_noise():
    assert frames_in_span(TIMES_30FPS_12S, 10.0, 12.0) == (300, 360)
    assert frames_in_span(TIMES_30FPS_12S, 9.9999999999, 10.0000000001) == (300, 300)
    assert frames_in_span(TIMES_30FPS_12S, 20.0, 30.0) == (360, 360)


def test_middle_is_the_middle_frame_not_the_first():
    assert middle_index(300, 360) == 330
    assert middle_index(0, 1) == 0
    assert middle_index(10, 13) == 11


def test_fps_must_be_positive():
    with pytest.raises(ValueError):
        sample_times(0.0, 1.0, 0.0)
