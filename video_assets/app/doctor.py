"""`video-assets doctor`: what this machine has, what is missing, and whether `run` can work.

Each check reports what it found and, when something is missing, a hint that says
what to do. A check is `required` when the main job (`video-assets run` with the
enabled models) cannot work without it; the others (decord, the ffmpeg CLI, CUDA
on a CPU-only setting) only narrow what is available.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from video_assets.settings.config import Settings

MIN_PYTHON = (3, 10)
MIN_FREE_GB = 2.0  # below this a run fails part-way (frames, tensors and the index are written to disk)
# Decoders the supported codec classes need (README, tests/media): missing ones fail those videos.
DECODERS = ("h264", "hevc", "mpeg4", "vp9", "av1", "mjpeg", "mpeg2video", "prores")
ENCODERS = ("libx264",)  # clipping.transcode writes H.264 clips


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = True

    @property
    def blocking(self) -> bool:
        return self.required and not self.ok


@dataclass(frozen=True)
class Report:
    checks: list[Check]

    @property
    def can_run(self) -> bool:
        return not any(c.blocking for c in self.checks)

    def to_dict(self) -> dict:
        return {"can_run": self.can_run, "checks": [asdict(c) for c in self.checks]}

    def lines(self) -> list[str]:
        out = []
        for c in self.checks:
            mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
            out.append(f"[{mark}] {c.name}: {c.detail}")
            if c.hint and not c.ok:
                out.append(f"       -> {c.hint}")
        out.append("the main job can run" if self.can_run else "the main job cannot run: fix the FAIL lines above")
        return out


def diagnose(settings: Settings) -> Report:
    """Every check, each one isolated: a crash in one is reported as its failure."""
    checks: list[Check] = []
    probes = {
        "python": _python,
        "torch": _torch,
        "pyav": _pyav,
        "decord": _decord,
        "lancedb": _lancedb,
        "dagster": _dagster,
        "ffmpeg CLI": _ffmpeg_cli,
    }
    for name, probe in probes.items():
        checks += _guarded(name, probe)
    checks += _guarded("data", lambda: _data_dir(settings))
    checks += _guarded("device", lambda: _device(settings))
    checks += _guarded("models", lambda: _models(settings))
    return Report(checks)


def _guarded(name: str, probe: Callable[[], list[Check]]) -> list[Check]:
    try:
        return probe()
    except Exception as error:  # a broken install must be reported, not crash the report
        return [
            Check(name, False, f"check crashed: {type(error).__name__}: {error}", "reinstall: pip install -e '.[dev]'")
        ]


def _version_of(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except ImportError:
        return None


def _python() -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return [Check("python", ok, f"{version} at {sys.executable}", f"use Python >= {'.'.join(map(str, MIN_PYTHON))}")]


def _torch() -> list[Check]:
    version = _version_of("torch")
    if version is None:
        return [Check("torch", False, "not installed", "pip install torch (CPU: pip install torch==2.13.0)")]
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        cuda = f"CUDA {torch.version.cuda}: {torch.cuda.device_count()} GPU(s) ({names})"
    else:
        cuda = "no CUDA device (CPU only)"
    return [Check("torch", True, f"{version}; {cuda}")]


def _pyav() -> list[Check]:
    version = _version_of("av")
    if version is None:
        return [Check("pyav", False, "not installed", "pip install av")]
    import av
    import av.codec

    ffmpeg = getattr(av, "ffmpeg_version_info", "?")
    missing_dec = [n for n in DECODERS if not _has_codec(av.codec.Codec, n, "r")]
    missing_enc = [n for n in ENCODERS if not _has_codec(av.codec.Codec, n, "w")]
    checks = [Check("pyav", True, f"PyAV {version}, FFmpeg {ffmpeg}")]
    checks.append(
        Check(
            "decoders",
            not missing_dec,
            f"{len(DECODERS) - len(missing_dec)} of {len(DECODERS)} present"
            + (f"; missing {', '.join(missing_dec)}" if missing_dec else ""),
            "videos in the missing codecs fail with 'no decoder'; PyAV's wheels bundle them all: pip install --force-reinstall av",
            required=False,
        )
    )
    checks.append(
        Check(
            "encoders",
            not missing_enc,
            "libx264 present" if not missing_enc else f"missing {', '.join(missing_enc)}",
            "clipping.transcode needs libx264 (PyAV's wheels include it)",
            required=False,
        )
    )
    return checks


def _has_codec(codec: type, name: str, mode: str) -> bool:
    try:
        codec(name, mode)
    except Exception:  # UnknownCodecError, or a codec present for the other direction only
        return False
    return True


def _decord() -> list[Check]:
    version = _version_of("decord")
    return [
        Check(
            "decord",
            version is not None,
            version or "not installed (frames.backend 'pyav' needs none)",
            "optional: pip install decord (Linux x86_64 / Windows wheels)",
            required=False,
        )
    ]


def _lancedb() -> list[Check]:
    version = _version_of("lancedb")
    return [Check("lancedb", version is not None, version or "not installed", "pip install -e .")]


def _dagster() -> list[Check]:
    version = _version_of("dagster")
    if version is None:
        return [Check("dagster", False, "not installed", "pip install -e .")]
    home = os.environ.get("DAGSTER_HOME")
    yaml = Path(home) / "dagster.yaml" if home else None
    storage = "SQLite under DAGSTER_HOME" if home else "DAGSTER_HOME unset: `video-assets run` uses ./.dagster (SQLite)"
    if yaml is not None and yaml.is_file():
        text = yaml.read_text(errors="replace")
        storage = "PostgreSQL" if "postgres" in text else "SQLite"
        storage += f" ({yaml})"
    return [Check("dagster", True, f"{version}; instance: {storage}")]


def _ffmpeg_cli() -> list[Check]:
    found = shutil.which("ffmpeg")
    return [
        Check(
            "ffmpeg CLI",
            found is not None,
            found or "not on PATH",
            "only the frame-extraction benchmark uses it (apt-get install ffmpeg)",
            required=False,
        )
    ]


def _data_dir(settings: Settings) -> list[Check]:
    data = Path(settings.data_dir).resolve()
    existing = next((p for p in (data, *data.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return [
            Check("data dir", False, f"{data} cannot be created: {existing} is a file", "give a directory as --output")
        ]
    if existing is None or not os.access(existing, os.W_OK):
        return [Check("data dir", False, f"{data} is not writable", "give a writable --output")]
    free_gb = shutil.disk_usage(existing).free / 1e9
    state = "exists" if data.exists() else f"will be created under {existing}"
    return [
        Check(
            "data dir",
            free_gb >= MIN_FREE_GB,
            f"{data} ({state}), {free_gb:.1f} GB free",
            f"free disk space: frames, tensors and the index need room (>= {MIN_FREE_GB:g} GB)",
        )
    ]


def _device(settings: Settings) -> list[Check]:
    from video_assets.models.runtime import resolve_device

    try:
        device = resolve_device(settings.device)
    except (RuntimeError, ValueError) as error:
        return [
            Check("device", False, f"{settings.device!r}: {error}", 'set "device": "cpu" or "auto" in the settings')
        ]
    return [Check("device", True, f"{settings.device!r} -> {device}")]


def _models(settings: Settings) -> list[Check]:
    from video_assets.models.embedder_registry import registered
    from video_assets.models.hub import ModelHub

    hub = ModelHub(settings.paths.model_dir)
    enabled = settings.enabled_models
    entries = registered()
    checks = [
        # `run` refuses such a name (weights_preflight): a typo in --models must not read "the main job can run".
        Check(
            f"model {name}",
            False,
            f"not a registered model; registered: {', '.join(sorted(entries))}",
            "fix the name in --models (or enabled_models in the settings)",
        )
        for name in enabled or ()
        if name not in entries
    ]
    for name, entry in sorted(entries.items()):
        if entry.weights is None:
            checks.append(Check(f"model {name}", True, f"weights-free ({entry.spec.revision})"))
            continue
        status = hub.status(entry.weights)
        present = status.state == "present"
        wanted = enabled is not None and name in enabled
        where = ", ".join(f"{r.repo_id}@{r.revision}" for r in entry.weights.repos)
        # Each repo from model_dir or, when it is absent there, from the Hugging Face cache (HF_HOME).
        places = ", ".join(
            dict.fromkeys(str(r.path.parent) if r.source == "model_dir" else f"HF cache {r.path}" for r in status.repos)
        )
        detail = f"{status.state} ({where}) in {places if present else hub.model_dir}"
        if not wanted and not present:
            detail += "; not enabled, so `run` leaves it out"
        checks.append(Check(f"model {name}", present, detail, f"video-assets models download {name}", required=wanted))
    return checks
