"""ExecutionResource: the engine (local or Ray) the tensors and embeddings steps hand their work to.

Built from the settings' `execution`, so runs launched from the UI, a sensor or a backfill use
the same engine as `video-assets run`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from video_assets.settings.execution import ExecutionSettings
from video_assets.stages.engines.base import Engine, EngineError
from video_assets.stages.engines.factory import engine_for


class ExecutionResource(dg.ConfigurableResource):
    settings_json: str = ExecutionSettings().model_dump_json()  # engines.settings.ExecutionSettings

    @classmethod
    def of(cls, execution: ExecutionSettings) -> ExecutionResource:
        return cls(settings_json=execution.model_dump_json())

    @property
    def settings(self) -> ExecutionSettings:
        return ExecutionSettings.model_validate_json(self.settings_json)

    def engine(self) -> Engine:
        return engine_for(self.settings)


@contextmanager
def engine_failure() -> Iterator[None]:
    """An `EngineError` (cluster gone, a request it can never meet) fails the step at once, with its
    message and without the step's retries: rerunning would meet the same cluster."""
    try:
        yield
    except EngineError as err:
        raise dg.Failure(description=str(err), allow_retries=False) from err
