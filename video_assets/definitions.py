"""The code location: what `dagster dev`, `dg dev` and workspace.yaml load.

The only module that builds a graph on import, from the settings of the environment
(VIDEO_ASSETS_SETTINGS, else the defaults); everything else imports `build_definitions`
from `video_assets.orchestration.definitions` and builds what it needs.
"""

from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import Settings

defs = build_definitions(Settings.from_env())
