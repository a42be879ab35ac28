"""LanceDB connection resource: local directory by default, object storage by uri."""

from __future__ import annotations

import dagster as dg
import lancedb

from video_assets.index.connection import connect


class LanceDBResource(dg.ConfigurableResource):
    uri: str
    # 0 = every read checks for other processes' commits (the default never does).
    read_consistency_interval_s: float = 0.0

    def connect(self) -> lancedb.DBConnection:
        return connect(self.uri, read_consistency_interval_s=self.read_consistency_interval_s)
