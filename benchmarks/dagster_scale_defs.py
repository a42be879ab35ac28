"""The project's definitions under each executor, as code-location targets for the queued benchmark.

`build_definitions` leaves the executor to Dagster's default (multiprocess when a
run is launched: every step its own process, which imports torch and reloads the
model). The benchmark loads one of these two attributes from a workspace.yaml to
compare that default with all steps of a run in its one process.
"""

import dagster as dg

from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import Settings


def _with_executor(executor: dg.ExecutorDefinition) -> dg.Definitions:
    # Settings come from VIDEO_ASSETS_SETTINGS, as for `dagster dev` on the project.
    return dg.Definitions.merge(build_definitions(Settings.from_env()), dg.Definitions(executor=executor))


defs_in_process = _with_executor(dg.in_process_executor)
defs_multiprocess = _with_executor(dg.multiprocess_executor)
