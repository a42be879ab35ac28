"""Default `duplicates` thresholds: each calibration belongs to the model revision it was
measured on, and a run says which threshold is in force and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from video_assets.curation.duplicates import default_threshold, threshold_in_force
from video_assets.models import embedder_registry
from video_assets.models.fingerprint import FINGERPRINT_REVISION
from video_assets.models.thresholds import CALIBRATED, UNCALIBRATED_THRESHOLD, default_choice

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "RESULTS.md"


@pytest.mark.parametrize("model", sorted(CALIBRATED))
def test_calibration_is_for_the_current_revision(model: str) -> None:
    # A new revision moves the cosines: run benchmarks/dedup_threshold.py again and update
    # models/thresholds.py and benchmarks/RESULTS.md with what it prints.
    spec = embedder_registry.get(model).spec
    assert CALIBRATED[model].revision == spec.revision, (
        f"{model} is at {spec.revision} but its duplicates threshold was calibrated for "
        f"{CALIBRATED[model].revision}: re-measure it (benchmarks/dedup_threshold.py)"
    )


def test_fingerprint_is_calibrated_for_its_revision() -> None:
    assert CALIBRATED["fingerprint"].revision == FINGERPRINT_REVISION


@pytest.mark.parametrize("model", sorted(CALIBRATED))
def test_calibration_is_recorded_in_results(model: str) -> None:
    calibration = CALIBRATED[model]
    text = RESULTS.read_text(encoding="utf-8")
    line = f"chosen threshold {calibration.threshold:.2f}: best false pair {calibration.best_false:.3f}"
    assert calibration.record == "benchmarks/RESULTS.md" and f"calibrated: {calibration.revision}" in text
    assert line in text, f"{RESULTS} does not record {model}'s calibration ({line!r})"


@pytest.mark.parametrize("model", sorted(CALIBRATED))
def test_calibrated_threshold_clears_every_false_pair_with_a_margin(model: str) -> None:
    calibration = CALIBRATED[model]
    assert calibration.threshold - calibration.best_false >= 0.1
    assert 0.0 < calibration.true_kept <= 1.0


def test_learned_models_keep_the_reference_default_and_say_so() -> None:
    for model in ("internvideo2", "cosmos_embed1_224p"):
        choice = default_choice(model)
        assert choice.value == UNCALIBRATED_THRESHOLD == 0.99
        assert "not calibrated here" in choice.describe()


def test_threshold_in_force_names_its_origin() -> None:
    calibrated = CALIBRATED["fingerprint"]
    assert threshold_in_force("fingerprint").describe() == (
        f"threshold {calibrated.threshold:g} (calibrated for {calibrated.revision}, benchmarks/RESULTS.md)"
    )
    assert default_threshold("fingerprint") == calibrated.threshold
    from_settings = threshold_in_force("fingerprint", configured=0.7)
    assert from_settings.value == 0.7 and "models.fingerprint.duplicates_threshold" in from_settings.origin
    given = threshold_in_force("fingerprint", given=0.95, configured=0.7)
    assert given.describe() == "threshold 0.95 (--threshold)"
