"""The engine settings, the pool sizing and refusals, and the per-node report, without a cluster."""

from __future__ import annotations

import subprocess
import sys

import pytest

from video_assets.cli.main import main
from video_assets.media.synthetic import make_video
from video_assets.settings.config import Settings
from video_assets.settings.errors import SettingsError
from video_assets.settings.execution import ExecutionSettings
from video_assets.stages.engines.base import EngineError, LocalEngine
from video_assets.stages.engines.factory import engine_for
from video_assets.stages.engines.report import videos_per_node, workers_by_video
from video_assets.stages.resolved import resolve


def test_the_default_engine_is_local_and_needs_no_ray() -> None:
    assert isinstance(engine_for(Settings().execution), LocalEngine)
    # The definitions (what the UI and `run` load) import no Ray under the default settings.
    check = "import sys, video_assets.definitions; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_engine_ray_without_an_address_is_refused_naming_the_key() -> None:
    with pytest.raises(SettingsError, match="execution"):
        Settings.validated({"execution": {"engine": "ray"}}, source="settings.json")


def test_run_dash_dash_ray_names_an_unreachable_address_and_keeps_the_other_settings(
    monkeypatch, tmp_path, dagster_home, capsys
) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"execution": {"actor_memory_gb": 4}}')
    monkeypatch.setenv("VIDEO_ASSETS_SETTINGS", str(path))
    make_video(tmp_path / "videos" / "a.mp4", duration_s=1.0, fps=8, size=(64, 48), seed=1)
    data = tmp_path / "data"
    args = ["run", "--input", str(tmp_path / "videos"), "--output", str(data), "--ray", "127.0.0.1:9"]
    assert main(args) == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in capsys.readouterr().err
    written = Settings.load(data / "settings.json").execution  # what the UI's runs then use
    assert (written.engine, written.address, written.actor_memory_gb) == ("ray", "127.0.0.1:9", 4)


def test_workers_and_videos_per_node_come_from_the_embeddings_metadata() -> None:
    worker_a = {"node": "a", "gpu_ids": [0], "pid": 1}
    worker_b = {"node": "b", "gpu_ids": [], "pid": 2}
    partitions = [
        {"fingerprint_embeddings": {"workers": {"v1": worker_a}}, "clips": {"clips": 3}},
        {"fingerprint_embeddings": {"workers": {"v2": worker_b}}, "other_embeddings": {"workers": {"v2": worker_a}}},
    ]
    workers = workers_by_video(partitions)
    assert workers == {"v1": {"fingerprint": worker_a}, "v2": {"fingerprint": worker_b, "other": worker_a}}
    assert videos_per_node(workers) == {"a": 2, "b": 1}


def _nodes(*gpus: float) -> list[dict]:
    return [{"Alive": True, "Resources": {"GPU": g, "memory": 8 * 2**30}} for g in gpus]


def _plan(num_gpus: float):
    settings = Settings.model_validate(
        {"enabled_models": ["fingerprint"], "models": {"fingerprint": {"num_gpus_per_worker": num_gpus}}}
    )
    return resolve(settings).model("fingerprint")


def test_pool_size_follows_the_gpus_and_the_settings() -> None:
    pytest.importorskip("ray")
    from video_assets.stages.engines.ray_pool import pool_size

    auto = ExecutionSettings(engine="ray", address="h:1")
    assert pool_size(_plan(0.5), auto, _nodes(1, 1)) == 4  # two per logical GPU
    assert pool_size(_plan(1), auto, _nodes(8)) == 8
    assert pool_size(_plan(0), auto, _nodes(0, 0, 0)) == 3  # one per node without GPUs
    assert pool_size(_plan(0.25), auto, _nodes(8)) == 8  # max_actors_per_model
    fixed = ExecutionSettings(engine="ray", address="h:1", actors_per_model=2)
    assert pool_size(_plan(0.5), fixed, _nodes(1, 1)) == 2


def test_a_request_no_node_can_hold_is_refused_naming_the_model_and_the_cluster() -> None:
    pytest.importorskip("ray")
    from video_assets.stages.engines.ray_pool import refuse_impossible

    execution = ExecutionSettings(engine="ray", address="h:1")
    refuse_impossible(_plan(1), execution, _nodes(1, 1))  # fits
    with pytest.raises(
        EngineError, match=r"fingerprint: .* asks for 2 GPUs .* at h:1 \(2 nodes, 2 GPUs in all\) has 1"
    ):
        refuse_impossible(_plan(2), execution, _nodes(1, 1))
    memory = ExecutionSettings(engine="ray", address="h:1", actor_memory_gb=64)
    with pytest.raises(EngineError, match="64 GB of memory"):
        refuse_impossible(_plan(0), memory, _nodes(0))
    refuse_impossible(_plan(2), ExecutionSettings(engine="ray", address="h:1", autoscaling=True), _nodes(1))


def test_an_address_nobody_listens_on_is_named_at_once() -> None:
    from video_assets.stages.engines.ray_connect import ClusterUnreachable, probe

    with pytest.raises(ClusterUnreachable, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        probe("127.0.0.1:9", timeout_s=2)
    with pytest.raises(ClusterUnreachable, match="not host:port"):
        probe("nohost", timeout_s=2)
