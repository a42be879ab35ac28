"""`video-assets doctor`: reports this machine truthfully and exits 1 exactly when the main job cannot run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from video_assets.app import doctor
from video_assets.cli.main import main
from video_assets.settings.config import Settings


def _doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def test_this_machine_can_run_the_weights_free_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _doctor(capsys, "--output", str(tmp_path / "data"), "--json")
    report = json.loads(out)
    assert code == 0 and report["can_run"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["python"]["detail"].startswith(".".join(map(str, sys.version_info[:3])))
    import av
    import torch

    assert torch.__version__ in checks["torch"]["detail"] and av.__version__ in checks["pyav"]["detail"]
    assert ("CUDA" in checks["torch"]["detail"]) == torch.cuda.is_available() or "no CUDA" in checks["torch"]["detail"]
    assert checks["model fingerprint"]["ok"] and "weights-free" in checks["model fingerprint"]["detail"]
    # Absent weights of a model nobody enabled are a warning, not a failure.
    assert checks["model internvideo2"]["ok"] is False and checks["model internvideo2"]["required"] is False
    assert "will be created" in checks["data dir"]["detail"] and "GB free" in checks["data dir"]["detail"]


def test_an_enabled_model_without_weights_fails_with_the_download_hint(tmp_path: Path, capsys) -> None:
    code, out = _doctor(capsys, "--output", str(tmp_path / "data"), "--models", "fingerprint,internvideo2")
    assert code == 1
    assert "[FAIL] model internvideo2: absent (OpenGVLab/InternVideo2-Stage2_1B-224p-f4@4362e1f" in out
    assert "-> video-assets models download internvideo2" in out
    assert out.rstrip().endswith("the main job cannot run: fix the FAIL lines above")


def test_an_unknown_model_in_models_fails_as_run_would(tmp_path: Path, capsys) -> None:
    # `run --models fingerprint,fingerprnt` refuses the typo; doctor must not say the main job can run.
    code, out = _doctor(capsys, "--output", str(tmp_path / "data"), "--models", "fingerprint,fingerprnt")
    assert code == 1
    line = next(line for line in out.splitlines() if "fingerprnt" in line)
    assert line.startswith("[FAIL] model fingerprnt: not a registered model; registered: ") and "fingerprint" in line
    assert out.rstrip().endswith("the main job cannot run: fix the FAIL lines above")


def test_a_data_dir_that_cannot_be_created_fails(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, out = _doctor(capsys, "--output", str(blocker / "data"))
    assert code == 1 and f"[FAIL] data dir: {blocker / 'data'} cannot be created: {blocker} is a file" in out


def test_a_cuda_device_without_cuda_fails_and_a_crashing_check_is_reported(monkeypatch, tmp_path: Path) -> None:
    import torch

    settings = Settings(data_dir=tmp_path / "data", device="cuda:0")
    monkeypatch.setattr(doctor, "_decord", lambda: 1 / 0)
    report = doctor.diagnose(settings)
    checks = {c.name: c for c in report.checks}
    if not torch.cuda.is_available():
        assert checks["device"].blocking and "CUDA is not available" in checks["device"].detail
        assert not report.can_run
    assert checks["decord"].ok is False and "ZeroDivisionError" in checks["decord"].detail


def test_placed_weights_are_present_and_said_where(tmp_path: Path, capsys) -> None:
    from tests.models.test_weights_preflight import _place_internvideo2

    data = tmp_path / "data"
    _place_internvideo2(data / "models")
    code, out = _doctor(capsys, "--output", str(data), "--models", "fingerprint,internvideo2")
    [line] = [x for x in out.splitlines() if "model internvideo2" in x]
    assert code == 0 and line.startswith("[ok  ] model internvideo2: present")
    assert str(data / "models" / "OpenGVLab" / "InternVideo2-Stage2_1B-224p-f4") in line
