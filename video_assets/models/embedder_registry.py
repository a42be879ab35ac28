"""The embedder registry: every model the graph can run, by name.

An entry declares its spec and pinned weights and knows how to load itself from
a `ModelHub`. Loading is lazy (torch models and transformers are imported only
when a model is used) and cached per process, so a worker that runs many
partitions loads each model once.
"""

from __future__ import annotations

from collections.abc import Sequence

from video_assets.models.hub import ModelHub
from video_assets.models.registered_embedder import RegisteredEmbedder

_REGISTRY: dict[str, RegisteredEmbedder] = {}


def register(entry: RegisteredEmbedder) -> None:
    """Add (or replace) an embedder; tests register tiny models this way."""
    _REGISTRY[entry.spec.name] = entry


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> RegisteredEmbedder:
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown embedder {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def registered() -> dict[str, RegisteredEmbedder]:
    _ensure_builtins()
    return dict(_REGISTRY)


def enabled_embedders(names: Sequence[str] | None, hub: ModelHub) -> list[RegisteredEmbedder]:
    """The configured embedders; by default those whose weights are present, plus fingerprint."""
    if names is not None:
        return [get(n) for n in names]
    return [e for e in registered().values() if e.weights is None or e.weights_present(hub)]


def default_skipped(hub: ModelHub) -> list[RegisteredEmbedder]:
    """Learned embedders left out of the default set because their weights are absent."""
    return [e for e in registered().values() if not e.weights_present(hub)]


def _ensure_builtins() -> None:
    if "fingerprint" in _REGISTRY:
        return
    # Here, not at the top: the built-in entries import the model modules (torch code).
    from video_assets.models import builtin_embedders

    for entry in builtin_embedders.entries():
        _REGISTRY.setdefault(entry.spec.name, entry)
