"""The default embedder told without the registry is the one the registry would pick."""

from __future__ import annotations

import subprocess
import sys

from video_assets.models.builtin_embedders import entries
from video_assets.models.embedder_defaults import FIRST_BUILTIN, default_without_text
from video_assets.models.embedder_registry import enabled_embedders
from video_assets.models.hub import ModelHub


def test_the_first_builtin_is_weights_free_and_the_registry_default(tmp_path) -> None:
    first = entries()[0]
    assert first.spec.name == FIRST_BUILTIN and first.weights is None
    assert enabled_embedders(None, ModelHub(tmp_path))[0].spec.name == FIRST_BUILTIN


def test_configured_models_come_first_and_a_loaded_registry_answers_itself() -> None:
    assert default_without_text(("internvideo2", "fingerprint")) == "internvideo2"
    assert default_without_text(None) is None  # this process imported the registry (above)
    script = (
        "import sys; from video_assets.models.embedder_defaults import default_without_text; "
        "print(default_without_text(None), 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == [FIRST_BUILTIN, "False"]
