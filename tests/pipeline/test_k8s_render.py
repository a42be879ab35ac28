"""The Kubernetes Jobs that `k8s_job_executor` would create for our steps, rendered without a cluster.

The definitions are the real ones (examples/k8s/definitions.py over `build_definitions`), the run
launcher is a real `K8sRunLauncher` made from examples/k8s/dagster.yaml (a kubeconfig naming no
reachable server: nothing is contacted), the step tags come from the job's execution plan, and the
pod spec is made by dagster-k8s's own code in the order its step handler
(`K8sStepHandler._get_container_context` / `launch_step`) applies it: run launcher, executor
`step_k8s_config`, the step's `dagster-k8s/config` tag, `per_step_k8s_config`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.pipeline.conftest import settings_for
from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
from video_assets.settings.config import ModelSettings

dagster_k8s = pytest.importorskip("dagster_k8s", reason="dagster-k8s is the k8s extra")

from dagster._config import validate_config  # noqa: E402
from dagster._core.execution.api import create_execution_plan  # noqa: E402
from dagster._core.storage.dagster_run import DagsterRun  # noqa: E402
from dagster._core.system_config.objects import ResolvedRunConfig  # noqa: E402
from dagster_k8s import K8sRunLauncher  # noqa: E402
from dagster_k8s.container_context import K8sContainerContext  # noqa: E402
from dagster_k8s.job import UserDefinedDagsterK8sConfig, construct_dagster_k8s_job, get_user_defined_k8s_config  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "k8s"
EXAMPLE = EXAMPLES / "definitions.py"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: unused}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


@pytest.fixture
def launcher(tmp_path: Path) -> K8sRunLauncher:
    """The run launcher of examples/k8s/dagster.yaml, as the instance would build it."""
    config = yaml.safe_load((EXAMPLES / "dagster.yaml").read_text())["run_launcher"]
    assert (config["module"], config["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = validate_config(K8sRunLauncher.config_type(), config["config"])
    assert checked.success, checked.errors
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    values = {**checked.value, "load_incluster_config": False, "kubeconfig_file": str(tmp_path / "kubeconfig")}
    return K8sRunLauncher(**values)


def _example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    # The module builds `defs` from the environment at import, as a code location does.
    monkeypatch.setenv("VIDEO_ASSETS_DATA_DIR", str(tmp_path / "import-data"))
    monkeypatch.delenv("VIDEO_ASSETS_SETTINGS", raising=False)
    spec = importlib.util.spec_from_file_location("video_assets_k8s_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _render_job(job, step_key: str, launcher: K8sRunLauncher):
    """The Kubernetes Job dagster-k8s builds for one step of a run of `job`."""
    executor_config = ResolvedRunConfig.build(job, {}).execution.execution_engine_config
    step = create_execution_plan(job).get_step_by_key(step_key)
    run = DagsterRun(job_name=job.name, run_id="0" * 36)
    context = (
        K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
        .merge(
            K8sContainerContext(
                run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(executor_config["step_k8s_config"])
            )
        )
        .merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step.tags)))
        .merge(
            K8sContainerContext(
                run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
                    executor_config["per_step_k8s_config"].get(step.op_name, {})
                )
            )
        )
    )
    k8s_job = construct_dagster_k8s_job(
        context.get_k8s_job_config("video-assets:test", launcher),
        args=["dagster", "api", "execute_step"],
        job_name=f"dagster-step-{step_key.replace('_', '-')}",
        user_defined_k8s_config=context.run_k8s_config,
    )
    assert context.namespace == "video-assets"  # launch_step creates the Job there (job_namespace)
    return k8s_job


def _render(job, step_key: str, launcher: K8sRunLauncher) -> dict:
    """The resources of that step's container, as a dict."""
    (container,) = _render_job(job, step_key, launcher).spec.template.spec.containers
    assert container.image == "video-assets:test"
    return container.to_dict()["resources"]


def test_gpu_and_cpu_steps_request_their_resources(monkeypatch, tmp_path, launcher):
    example = _example(monkeypatch, tmp_path)
    options = ModelSettings(num_gpus_per_worker=0.5, num_cpus=3)
    settings = settings_for(tmp_path / "videos", tmp_path / "data", models={"fingerprint": options})
    job = example.k8s_definitions(settings).resolve_job_def(EMBED_JOB)
    assert job.executor_def.name == "k8s_step_pods"  # a pod per step, not the in-process default

    memory = example.STEP_K8S_CONFIG["container_config"]["resources"]
    gpu_step = _render(job, "fingerprint_embeddings", launcher)
    # Half a GPU is one whole device to the device plugin; CPUs as num_cpus; memory from the example.
    assert gpu_step["limits"] == {"cpu": "3", "nvidia.com/gpu": "1", **memory["limits"]}
    assert gpu_step["requests"] == {"cpu": "3", **memory["requests"]}

    cpu_step = _render(job, "fingerprint_tensors", launcher)
    assert cpu_step["requests"] == {"cpu": "3", **memory["requests"]}
    assert "nvidia.com/gpu" not in cpu_step["limits"]

    # Two GPUs where the settings ask for 1.5; and a per-step override wins over the executor default.
    monkeypatch.setitem(
        example.PER_STEP_K8S_CONFIG,
        "fingerprint_embeddings",
        {"container_config": {"resources": {"limits": {"memory": "24Gi"}}}},
    )
    example.step_pods_executor = example.k8s_job_executor.configured(
        {"step_k8s_config": example.STEP_K8S_CONFIG, "per_step_k8s_config": example.PER_STEP_K8S_CONFIG},
        name="k8s_step_pods",
    )
    bigger = settings_for(
        tmp_path / "videos", tmp_path / "data", models={"fingerprint": ModelSettings(num_gpus_per_worker=1.5)}
    )
    job = example.k8s_definitions(bigger).resolve_job_def(EMBED_JOB)
    resources = _render(job, "fingerprint_embeddings", launcher)
    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert resources["limits"]["memory"] == "24Gi"


def test_sensors_start_the_step_pod_job(monkeypatch, tmp_path):
    example = _example(monkeypatch, tmp_path)
    defs = example.k8s_definitions(settings_for(tmp_path / "videos", tmp_path / "data"))
    repo = defs.get_repository_def()
    targets = {s.name: [t.job_name for t in s.targets] for s in repo.sensor_defs if s.has_jobs}
    assert targets["new_videos_sensor"] == [EMBED_JOB]
    assert repo.get_sensor_def("new_videos_sensor").job.executor_def.name == "k8s_step_pods"
    # Only the executor differs from the project's job: same assets, same description.
    job = repo.get_job(EMBED_JOB)
    base = build_definitions(settings_for(tmp_path / "videos", tmp_path / "data")).resolve_job_def(EMBED_JOB)
    assert job.description == base.description and base.executor_def.name != "k8s_step_pods"
    assert set(job.asset_layer.executable_asset_keys) == set(base.asset_layer.executable_asset_keys)


def test_step_pods_mount_the_shared_volumes_and_get_the_s3_secret(monkeypatch, tmp_path, launcher):
    example = _example(monkeypatch, tmp_path)
    job = example.k8s_definitions(settings_for(tmp_path / "videos", tmp_path / "data")).resolve_job_def(EMBED_JOB)
    pod = _render_job(job, "fingerprint_clip_index", launcher).spec.template.spec
    (container,) = pod.containers
    mounts = {m.mount_path: m.name for m in container.volume_mounts}
    assert {"/videos", "/data", "/models", "/config"} <= set(mounts)  # every pod sees the same data dir
    assert {v.name for v in pod.volumes} >= set(mounts.values())
    assert any(source.secret_ref and source.secret_ref.name == "video-assets-s3" for source in container.env_from)
    assert {"name": "VIDEO_ASSETS_SETTINGS", "value": "/config/settings.json"} in [
        {"name": e.name, "value": e.value} for e in container.env
    ]
