"""Thresholds of the `<model>_clip_filters` asset: the `filters` section of the settings.

Its own module (not config.py) so the filter step owns its knobs; config.py holds one
`filters: FilterSettings` field. Defaults and how they were chosen: docs/curation.md.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class FilterSettings(BaseModel):
    # As config._Strict: unknown keys and NaN are errors (config accepted and ignored is a bug).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # Clips shorter / longer than this are dropped ("too_short" / "too_long"); None = no upper bound.
    min_duration_s: float = Field(0.0, ge=0)
    max_duration_s: float | None = Field(None, gt=0)
    # Fewer extracted frames than this: "too_few_frames" (motion needs 2).
    min_frames: int = Field(2, ge=0, le=3600)
    # text -> minimum probability among the model's texts_to_verify: below it, "low_text_score".
    min_text_score: dict[str, float] = Field(default_factory=dict)
    # Motion: mean absolute luma difference of consecutive frames on a coarse grid, as a
    # fraction of full scale. Under this a clip is "static" (0 turns the reason off).
    static_below: float = Field(0.004, ge=0, le=1)
    # Black frames as ffmpeg's blackdetect defines them: at least `black_pixel_share` of the
    # pixels at or under `black_pixel_luma` of full scale; a clip is "black" when at least
    # `black_frame_share` of its frames are.
    detect_black: bool = True
    black_pixel_luma: float = Field(0.10, ge=0, le=1)
    black_pixel_share: float = Field(0.98, gt=0, le=1)
    black_frame_share: float = Field(0.5, gt=0, le=1)
    # Frozen: consecutive frames that differ by less than `frozen_diff` (same measure as motion)
    # for at least `frozen_min_s` seconds (ffmpeg freezedetect's 2 s default).
    detect_frozen: bool = True
    frozen_diff: float = Field(0.0005, ge=0, le=1)
    frozen_min_s: float = Field(2.0, gt=0)

    @field_validator("min_text_score")
    @classmethod
    def _probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for text, score in value.items():
            if not text.strip():
                raise ValueError(f"text {text!r} must not be blank")
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"{text!r}: a probability in [0, 1], got {score}")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> FilterSettings:
        if self.max_duration_s is not None and self.max_duration_s < self.min_duration_s:
            raise ValueError(
                f"max_duration_s ({self.max_duration_s}) is under min_duration_s "
                f"({self.min_duration_s}): every clip would be dropped"
            )
        return self
