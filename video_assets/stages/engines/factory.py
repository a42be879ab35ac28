"""The engine the settings ask for, one per process (a Ray engine keeps its actor pools, so
models stay loaded across the partitions a process runs)."""

from __future__ import annotations

from video_assets.settings.execution import ExecutionSettings

from .base import Engine, LocalEngine

_ENGINES: dict[str, Engine] = {}


def engine_for(execution: ExecutionSettings) -> Engine:
    key = execution.model_dump_json()
    if key not in _ENGINES:
        if execution.engine == "ray":
            try:
                from .ray_engine import RayEngine
            except ImportError as err:
                raise ImportError(
                    f"execution.engine is 'ray' but Ray is not installed ({err}): pip install 'video-assets[ray]'"
                ) from err
            _ENGINES[key] = RayEngine(execution)
        else:
            _ENGINES[key] = LocalEngine()
    return _ENGINES[key]
