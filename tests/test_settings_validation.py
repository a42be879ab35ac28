"""Settings that cannot work are refused when they load, naming the file and the key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from video_assets.settings.config import (
    ClippingSettings,
    FrameSettings,
    ModelSettings,
    Settings,
    SettingsError,
    load_settings_file,
)

# The example of docs/usage.md "Configuration", verbatim.
README_EXAMPLE = """
{"input_dir": "videos", "data_dir": "data", "enabled_models": ["fingerprint", "internvideo2"],
 "clipping": {"method": "scene_cut", "min_clip_len_s": 2, "max_clip_len_s": 10},
 "frames": {"policies": ["sequence", "middle"], "target_fps": [2.0], "target_res": [-1, -1]},
 "models": {"internvideo2": {"texts_to_verify": ["a dog", "a bike"], "verbose": true}}}
"""

# (settings JSON text, fragments the one-line message must hold after "<file>: ")
BAD = [
    ('{"frames": {"target_fps": [NaN]}}', ["frames.target_fps[0]: must be finite, got nan"]),
    ('{"frames": {"target_fps": [2.0, Infinity]}}', ["frames.target_fps[1]: must be finite, got inf"]),
    ('{"frames": {"target_fps": [1e999]}}', ["frames.target_fps[0]: must be finite"]),
    ('{"frames": {"target_fps": [100000]}}', ["frames.target_fps[0]:", "120", "got 100000"]),
    ('{"frames": {"target_fps": [0]}}', ["frames.target_fps[0]:", "greater than 0"]),
    ('{"frames": {"target_fps": []}}', ["frames.target_fps:", "at least one"]),
    ('{"frames": {"target_fps": [2, 2.0]}}', ["frames.target_fps:", "listed twice"]),
    ('{"frames": {"policies": ["sequence", "sequence"]}}', ["frames.policies:", "listed twice"]),
    ('{"frames": {"policies": []}}', ["frames.policies:", "at least one policy ('sequence' or 'middle')"]),
    ('{"models": {"internvideo2": {"target_fps": NaN}}}', ["models.internvideo2.target_fps: must be finite"]),
    ('{"models": {"internvideo2": {"target_fps": 100000}}}', ["models.internvideo2.target_fps:", "120"]),
    ('{"clipping": {"min_clip_len_s": 20}}', ["clipping:", "min_clip_len_s (20.0)", "clip_len_s (10.0)"]),
    ('{"clipping": {"clip_len_s": 5}}', ["clipping:", "stride_s (10.0) is longer than clip_len_s (5.0)"]),
    ('{"clipping": {"clip_len_s": 10, "stride_s": 0.01}}', ["clipping:", "stride_s (0.01)", "1000 clips"]),
    (
        '{"clipping": {"method": "scene_cut", "min_clip_len_s": 12, "max_clip_len_s": 10}}',
        ["clipping:", "min_clip_len_s (12.0) is longer than max_clip_len_s (10.0)"],
    ),
    ('{"clipping": {"method": "scene_cut", "min_clip_len_s": 0}}', ["clipping:", "must be > 0 with method scene_cut"]),
    ('{"clipping": {"clip_len_s": NaN}}', ["clipping.clip_len_s: must be finite"]),
    ('{"clipping": {"scene_threshold": 1.5}}', ["clipping.scene_threshold:", "less than 1"]),
    (
        '{"clipping": {"scene_detector": "transnet"}}',
        ["clipping.scene_detector:", "'builtin', 'adaptive' or 'transnetv2'"],
    ),
    ('{"frames": {"target_res": [1, 1]}}', ["frames.target_res:", "[-1, -1]", "[16, 8192]", "got [1, 1]"]),
    ('{"frames": {"target_res": [-1, 100]}}', ["frames.target_res:", "got [-1, 100]"]),
    ('{"frames": {"target_res": [100000, 100000]}}', ["frames.target_res:", "got [100000, 100000]"]),
    ('{"frames": {"max_pixels": 100}}', ["frames.max_pixels:", "4096", "got 100"]),
    ('{"frames": {"max_pixels": 1000000000000}}', ["frames.max_pixels:", "at most 8192x8192", "got 1000000000000"]),
    ('{"device": "tpu:7"}', ["device:", "'cuda:N'", "got 'tpu:7'"]),
    ('{"device": "cuda:x"}', ["device:", "got 'cuda:x'"]),
    ('{"models": {"cosmos_embed1_336p": {"batch_size": 0}}}', ["models.cosmos_embed1_336p.batch_size:", "got 0"]),
    ('{"models": {"cosmos_embed1_336p": {"batch_size": 100000}}}', ["models.cosmos_embed1_336p.batch_size:", "1024"]),
    ('{"models": {"internvideo2": {"gpu_memory_gb": 0}}}', ["models.internvideo2.gpu_memory_gb:", "greater than 0"]),
    (
        '{"models": {"internvideo2": {"texts_to_verify": ["a dog", " "]}}}',
        ["texts_to_verify:", "item 1 must not be blank"],
    ),
    ('{"models": {"internvideo2": {"texts_to_verify": ["a", "a"]}}}', ["texts_to_verify:", "'a' is listed twice"]),
    ('{"models": {"cosmos_embed1_224p": {"trust_snapshot_sha256": "abc"}}}', ["trust_snapshot_sha256:", "64 hex"]),
    ('{"videos_per_partition": 0}', ["videos_per_partition:", "got 0"]),
    ('{"video_extensions": ["mp4"]}', ["video_extensions:", "item 0", "'.mp4'"]),
    ('{"enabled_models": ["fingerprint", "fingerprint"]}', ["enabled_models:", "listed twice"]),
    ('{"dtype": "fp8"}', ["dtype:", 'got "fp8"']),
    (
        '{"clipping": {"clip_len_s": 60, "stride_s": 60}, "frames": {"target_fps": [100]}}',
        ["clipping.clip_len_s (60 s) x frames.target_fps[0] (100)", "6000 frames per clip", "3600"],
    ),
    (
        '{"clipping": {"clip_len_s": 60, "stride_s": 60}, "models": {"internvideo2": {"target_fps": 90}}}',
        ["models.internvideo2.target_fps (90)", "5400 frames per clip"],
    ),
    (
        '{"clipping": {"clip_len_s": 1, "stride_s": 1, "min_clip_len_s": 0.5}, "frames": {"target_fps": [0.5]}}',
        ["clipping.clip_len_s (1 s) x frames.target_fps[0] (0.5) is under one frame per clip"],
    ),
    ('{"framez": {}}', ["framez: unknown key (allowed here: clipping, data_dir, device"]),
    ('{"frames": {"fps": [2]}}', ["frames.fps: unknown key (allowed here: backend, ", "target_fps"]),
    ('{"models": {"internvideo2": {"num_frame": 8}}}', ["models.internvideo2.num_frame: unknown key", "num_frames"]),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "fragments"), BAD, ids=[text for text, _ in BAD])
def test_bad_settings_are_refused_naming_file_and_key(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        Settings.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    # The same data built in Python is refused too (without the file name).
    with pytest.raises(ValidationError):
        Settings.model_validate(json.loads(text))


def test_every_bad_key_gets_its_own_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"device": "tpu:7", "frames": {"target_fps": [NaN], "target_res": [1, 1]}}')
    with pytest.raises(SettingsError) as caught:
        load_settings_file(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{path}: ") for line in lines), lines
    assert {line.split(": ")[1] for line in lines} == {"device", "frames.target_fps[0]", "frames.target_res"}
    assert caught.value.source == str(path) and len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"frames": {"target_fps": [2.0]},\n "device": "cpu",,\n}', "line 2, column"),
        ('{"device": "cpu"', "line 1, column"),
        ("", "line 1, column 1"),
    ],
)
def test_malformed_json_names_the_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError, match=re.escape(f"{path}: not valid JSON: ")) as caught:
        Settings.load(path)
    assert where in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('["device", "cpu"]', "must hold a JSON object ({...}), got list"),
        ('{"device": "cpu", "device": "cuda"}', "key 'device' is written twice"),
    ],
)
def test_other_file_shapes_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError, match=re.escape(f"{path}: {fragment}")):
        Settings.load(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"{tmp_path / 'nope.json'}: no such settings file")):
        Settings.load(tmp_path / "nope.json")


def test_readme_example_and_defaults_load(tmp_path: Path) -> None:
    settings = Settings.load(_write(tmp_path, README_EXAMPLE))
    assert settings.clipping.method == "scene_cut"
    assert settings.frames.policies == ("sequence", "middle")
    assert settings.model("internvideo2").texts_to_verify == ("a dog", "a bike")
    assert Settings() == Settings.load(_write(tmp_path, "{}"))


def test_good_edges_load() -> None:
    Settings(
        device=" CUDA:1 ",
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=1.0, min_clip_len_s=2.0),
        frames=FrameSettings(target_fps=(0.5, 120.0), target_res=(16, 8192)),
        models={"internvideo2": ModelSettings(target_fps=120.0, batch_size=1024)},
    )
    # scene_cut does not read clip_len_s, so a minimum above it is fine there.
    ClippingSettings(method="scene_cut", min_clip_len_s=12, max_clip_len_s=30)
    assert Settings(device=" CUDA:1 ").device == "cuda:1"  # the value in force is the one resolved


def test_from_env_uses_the_loader_and_applies_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"input_dir": "a", "device": "cpu"}')
    settings = Settings.from_env({"VIDEO_ASSETS_SETTINGS": str(path), "VIDEO_ASSETS_DATA_DIR": str(tmp_path)})
    assert (settings.input_dir, settings.data_dir, settings.device) == (Path("a"), tmp_path, "cpu")
    bad = _write(tmp_path, '{"frames": {"target_fps": [NaN]}}')
    with pytest.raises(SettingsError, match=re.escape(f"{bad}: frames.target_fps[0]: must be finite, got nan")):
        Settings.from_env({"VIDEO_ASSETS_SETTINGS": str(bad)})
    assert Settings.from_env({}) == Settings()


def test_saved_settings_round_trip() -> None:
    # The CLI and the Dagster settings resource save settings as JSON and read them back.
    settings = Settings(frames=FrameSettings(target_fps=(2.0, 4.0), target_res=(224, 224)), device="cuda:0")
    assert Settings.model_validate_json(settings.model_dump_json()) == settings
