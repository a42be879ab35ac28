"""ModelHubResource: where weights live; downloads pinned revisions on first use."""

from __future__ import annotations

import dagster as dg

from video_assets.models.hub import ModelHub


class ModelHubResource(dg.ConfigurableResource):
    model_dir: str
    offline: bool | None = None  # None follows HF_HUB_OFFLINE
    token: str | None = None  # None lets huggingface_hub use HF_TOKEN / the saved login

    def hub(self) -> ModelHub:
        return ModelHub(self.model_dir, offline=self.offline, token=self.token)
