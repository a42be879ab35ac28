"""The pipeline settings as a Dagster resource (shown, and editable, in the launchpad)."""

from __future__ import annotations

from functools import cached_property

import dagster as dg

from video_assets.config import Settings


class SettingsResource(dg.ConfigurableResource):
    settings_json: str  # Settings.model_dump_json(); validated on use

    @cached_property
    def settings(self) -> Settings:
        return Settings.model_validate_json(self.settings_json)

    @classmethod
    def of(cls, settings: Settings) -> SettingsResource:
        return cls(settings_json=settings.model_dump_json())
