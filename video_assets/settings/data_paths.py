"""Where everything lives under the data directory: the one place the layout is spelled out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataPaths:
    data_dir: Path
    lancedb_uri: str  # default <data>/lancedb; may be s3://... or another LanceDB uri
    model_dir: Path  # default <data>/models

    @classmethod
    def under(cls, data_dir: Path | str, lancedb_uri: str | None = None, model_dir: Path | None = None) -> DataPaths:
        data_dir = Path(data_dir)
        return cls(data_dir, lancedb_uri or str(data_dir / "lancedb"), model_dir or data_dir / "models")

    @property
    def assets_dir(self) -> Path:  # one Parquet file per asset partition: <assets>/<asset>/<partition>.parquet
        return self.data_dir / "assets"

    @property
    def thumbs_dir(self) -> Path:  # the frames asset's thumbnail strips: <thumbs>/<partition>/<clip_id>.jpg
        return self.assets_dir / "frames_thumbs"

    @property
    def clips_dir(self) -> Path:  # clip MP4s when clipping.transcode is on
        return self.data_dir / "clips"

    @property
    def curation_dir(self) -> Path:  # duplicates, clip filters and their Parquet outputs
        return self.data_dir / "curation"

    @property
    def exports_dir(self) -> Path:  # what the export assets write: <exports>/<model>/<format>
        return self.data_dir / "exports"

    @property
    def registry(self) -> Path:  # the video registry and the ledger (SQLite)
        return self.data_dir / "registry.sqlite"

    @property
    def settings_file(self) -> Path:  # what `run` saves so `dagster dev` loads the same graph
        return self.data_dir / "settings.json"
