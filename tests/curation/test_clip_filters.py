"""Clip filters on synthetic frames: motion of static vs moving clips, black and frozen frames, every reason."""

from __future__ import annotations

import numpy as np
import pytest

from video_assets.curation.clip_filters import (
    REASONS,
    ClipFacts,
    PixelStats,
    pixel_stats,
    reasons_for,
)
from video_assets.settings.config import Settings
from video_assets.settings.errors import SettingsError
from video_assets.settings.filters import FilterSettings

H, W = 96, 128
FPS = 2.0
DEFAULTS = FilterSettings()


def times(n: int) -> np.ndarray:
    return np.arange(n) / FPS


def moving(n: int, seed: int = 0) -> np.ndarray:
    """A grey gradient with a box that travels 12 px per frame."""
    rng = np.random.default_rng(seed)
    base = np.broadcast_to(np.linspace(40, 200, W)[None, :, None], (H, W, 3)).astype(np.uint8)
    colour = rng.integers(0, 256, 3)
    out = np.repeat(base[None], n, axis=0).copy()
    for i in range(n):
        x = (12 * i) % (W - 24)
        out[i, 30:60, x : x + 24] = colour
    return out


def with_noise(frames: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    """Independent per-pixel noise, as a sensor adds to a still scene."""
    noise = np.random.default_rng(seed).normal(0, sigma, frames.shape)
    return np.clip(frames.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def still(n: int, sigma: float = 2.0) -> np.ndarray:
    return with_noise(np.repeat(moving(1)[:1], n, axis=0), sigma)


def test_moving_clip_has_motion_and_a_still_one_is_static_despite_sensor_noise() -> None:
    move = pixel_stats(moving(8), times(8), DEFAULTS)
    noisy_still = pixel_stats(still(8, sigma=2.0), times(8), DEFAULTS)
    assert move.motion is not None and noisy_still.motion is not None
    assert move.motion > 2 * DEFAULTS.static_below > 4 * noisy_still.motion > 0
    assert "static" not in reasons_for(_facts(pixels=move), DEFAULTS)
    assert "static" in reasons_for(_facts(pixels=noisy_still), DEFAULTS)
    # Noise is not frozen (its frames differ), and a moving clip is neither.
    assert noisy_still.frozen_s == 0.0 and move.frozen_s == 0.0
    # One frame: no motion measured, so no "static", but too few frames.
    single = pixel_stats(moving(1), times(1), DEFAULTS)
    assert single.motion is None and reasons_for(_facts(pixels=single), DEFAULTS) == ["too_few_frames"]


def test_black_frames_follow_blackdetect_thresholds() -> None:
    dark = with_noise(np.full((6, H, W, 3), 8, np.uint8), 2.0)  # luma ~8/255: under 0.10
    grey = np.full((6, H, W, 3), 40, np.uint8)  # luma 40/255: over 0.10
    mixed = np.concatenate([dark[:2], moving(4)])  # 2 of 6 black: under half
    assert pixel_stats(dark, times(6), DEFAULTS).black_frames == 6
    assert pixel_stats(grey, times(6), DEFAULTS).black_frames == 0
    assert pixel_stats(mixed, times(6), DEFAULTS).black_frames == 2
    assert "black" in reasons_for(_facts(pixels=pixel_stats(dark, times(6), DEFAULTS)), DEFAULTS)
    assert "black" not in reasons_for(_facts(pixels=pixel_stats(mixed, times(6), DEFAULTS)), DEFAULTS)
    off = FilterSettings(detect_black=False)
    assert "black" not in reasons_for(_facts(pixels=pixel_stats(dark, times(6), off)), off)


def test_a_frozen_run_is_measured_in_seconds() -> None:
    clip = moving(12)
    clip[4:10] = clip[4]  # frames 4..9 identical: 6 samples at 2 fps = 3.0 s
    stats = pixel_stats(clip, times(12), DEFAULTS)
    assert stats.frozen_s == pytest.approx(3.0)
    assert "frozen" in reasons_for(_facts(pixels=stats), DEFAULTS)
    assert "static" not in reasons_for(_facts(pixels=stats), DEFAULTS)  # the rest moves
    short = moving(12)
    short[4:7] = short[4]  # 1.5 s: under the 2 s minimum
    assert pixel_stats(short, times(12), DEFAULTS).frozen_s == pytest.approx(1.5)
    assert "frozen" not in reasons_for(_facts(pixels=pixel_stats(short, times(12), DEFAULTS)), DEFAULTS)


def test_every_reason_applies_together_and_alone() -> None:
    settings = FilterSettings(min_duration_s=2.0, max_duration_s=8.0, min_frames=4, min_text_score={"a dog": 0.5})
    good = _facts(duration_s=5.0, pixels=pixel_stats(moving(8), times(8), settings), scores={"a dog": 0.9})
    assert reasons_for(good, settings) == []
    cases = {
        "too_short": {"duration_s": 1.0},
        "too_long": {"duration_s": 9.0},
        "duplicate": {"duplicate": True},
        "low_text_score": {"scores": {"a dog": 0.2}},
        "too_few_frames": {"pixels": pixel_stats(moving(3), times(3), settings)},
        "static": {"pixels": pixel_stats(still(8), times(8), settings)},
    }
    for reason, change in cases.items():
        assert reasons_for(_facts(**{**_kwargs(good), **change}), settings) == [reason], reason
    # Unknown duplicate state or a text the clip was not scored for is not a reason.
    assert reasons_for(_facts(**{**_kwargs(good), "duplicate": None, "scores": {"a cat": 0.0}}), settings) == []
    black_still = np.zeros((3, H, W, 3), np.uint8)
    worst = _facts(
        duration_s=1.0,
        pixels=pixel_stats(black_still, np.array([0.0, 1.0, 2.0]), settings),
        scores={"a dog": 0.1},
        duplicate=True,
    )
    assert reasons_for(worst, settings) == [r for r in REASONS if r != "too_long"]


def test_filter_settings_are_checked_where_they_are_read() -> None:
    with pytest.raises(SettingsError, match="filters"):
        Settings.validated({"filters": {"max_duration_s": 1.0, "min_duration_s": 2.0}}, source="s.json")
    with pytest.raises(SettingsError, match="min_text_score"):
        Settings.validated({"filters": {"min_text_score": {"a dog": 1.5}}}, source="s.json")
    with pytest.raises(SettingsError, match="static_belo"):
        Settings.validated({"filters": {"static_belo": 0.1}}, source="s.json")


def _facts(*, duration_s: float = 5.0, pixels: PixelStats | None = None, scores=None, duplicate=False) -> ClipFacts:
    pixels = pixels or pixel_stats(moving(8), times(8), DEFAULTS)
    return ClipFacts("c", duration_s, pixels, scores, duplicate)


def _kwargs(facts: ClipFacts) -> dict:
    return {
        "duration_s": facts.duration_s,
        "pixels": facts.pixels,
        "scores": facts.text_scores,
        "duplicate": facts.duplicate,
    }


def test_filter_settings_version_only_the_filters_asset(tmp_path) -> None:
    import dagster as dg

    from video_assets.orchestration.definitions import build_definitions

    def versions(settings: Settings) -> dict[str, str | None]:
        graph = build_definitions(settings).resolve_asset_graph()
        return {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}

    base = Settings(input_dir=tmp_path / "videos", data_dir=tmp_path / "data", enabled_models=("fingerprint",))
    # What `dagster dev` checks on load: unique op names, job and sensor targets (the ask job's op once shared its name).
    dg.Definitions.validate_loadable(build_definitions(base))
    before = versions(base)
    after = versions(base.model_copy(update={"filters": FilterSettings(static_below=0.01)}))
    assert {name for name in before if before[name] != after[name]} == {"fingerprint_clip_filters"}


def test_partition_run_reads_text_scores_frames_and_duplicate_flags(tmp_path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from video_assets.curation.filter_run import filter_partition
    from video_assets.stages.frames import FRAMES_SCHEMA
    from video_assets.stages.parquet_parts import array_to_fields

    rows = pa.table(
        {
            "clip_id": ["c1", "c2", "c3"],
            "video_id": ["v"] * 3,
            "duration_s": [4.0, 4.0, 4.0],
            "text_scores": [json.dumps({"a dog": 0.9}), json.dumps({"a dog": 0.1}), None],
        }
    )

    def group(clip_id: str, frames: np.ndarray, signature: str) -> pa.Table:
        row = {
            "clip_id": clip_id,
            "video_id": "v",
            "signature": signature,
            "timestamps": times(len(frames)).tolist(),
            **array_to_fields(frames),
            "jpeg": None,
        }
        return pa.Table.from_pylist([row], schema=FRAMES_SCHEMA)

    # c1: a 'middle' row (1 frame) beside its 'sequence' one, which is what motion is read from; c3: no frames.
    groups = [
        pa.concat_tables([group("c1", moving(1), "middle-2.0"), group("c1", moving(8), "sequence-2.0")]),
        group("c2", still(8), "sequence-2.0"),
    ]
    settings = FilterSettings(min_text_score={"a dog": 0.5, "a cat": 0.5})
    curation = tmp_path / "curation"
    run = filter_partition(rows, groups, curation_dir=curation, model="m", settings=settings)
    got = {r["clip_id"]: r for r in run.table.to_pylist()}
    assert got["c1"]["filter_reasons"] == [] and got["c1"]["frames"] == 8 and got["c1"]["motion"] > 0.01
    assert got["c2"]["filter_reasons"] == ["low_text_score", "static"]
    assert got["c3"]["filter_reasons"] == ["too_few_frames"] and got["c3"]["motion"] is None
    assert run.duplicates == "absent" and all(r["duplicate"] is None for r in got.values())
    assert run.texts_not_scored == ["a cat"] and run.clips_without_frames == ["c3"]
    assert run.counts["static"] == 1 and run.counts["black"] == 0 and set(run.counts) == set(REASONS)
    assert (run.kept, run.dropped) == (1, 2)
    # With a duplicates file: c1 is its group's duplicate, c3 is newer than the file (unknown).
    curation.mkdir()
    # Written with the column's old name `keep`: read as dup_keep (duplicates.read_output).
    pq.write_table(pa.table({"clip_id": ["c1", "c2"], "keep": [False, True]}), curation / "m_duplicates.parquet")
    run = filter_partition(rows, groups, curation_dir=curation, model="m", settings=settings)
    got = {r["clip_id"]: r for r in run.table.to_pylist()}
    assert got["c1"]["filter_reasons"] == ["duplicate"] and got["c1"]["duplicate"] is True
    assert got["c2"]["duplicate"] is False and got["c3"]["duplicate"] is None and run.duplicates_unknown == 1
