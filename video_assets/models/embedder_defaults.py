"""The embedder a command uses when none is named, told without importing the registry where it can be.

Loading the registry imports torch and every built-in model module (seconds): a one-shot
`search --like-clip ID` or `clips` would pay that only to learn the name "fingerprint".
Without a text query the answer follows from the settings alone: the first configured
model, else the first registered one, which is the weights-free fingerprint (always
enabled) unless this process registered others before the built-ins; then the registry
is already loaded and answers itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# The first entry of builtin_embedders.entries(): needs no weights, so it is always enabled.
FIRST_BUILTIN = "fingerprint"
REGISTRY_MODULE = "video_assets.models.embedder_registry"


def default_without_text(names: Sequence[str] | None) -> str | None:
    """The default embedder for a query that needs no text tower, or None where only the loaded registry
    can tell (embedders registered in this process come before the built-ins)."""
    if names:
        return names[0]
    if REGISTRY_MODULE in sys.modules:
        return None
    return FIRST_BUILTIN
