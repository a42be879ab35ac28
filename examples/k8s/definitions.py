"""Code location for Kubernetes: the project's definitions with a pod per step.

`embed_videos` runs in-process by default (one process, models loaded once). On a cluster
the `k8s_job_executor` starts each step in its own Kubernetes Job instead, so the pod of
`<model>_embeddings` gets the GPUs its op tags ask for (`nvidia.com/gpu`: whole devices from
`models.<name>.num_gpus_per_worker`, rounded up) and the decode steps stay on CPU nodes with
`num_cpus` CPUs. Memory is not per model: `STEP_K8S_CONFIG` below gives every step pod the
same request and limit; `PER_STEP_K8S_CONFIG` overrides it for one step by name.

The settings file comes from VIDEO_ASSETS_SETTINGS, as for `dagster dev`. Load with
`dagster api grpc --python-file examples/k8s/definitions.py` (values.yaml does).
Needs the `k8s` extra (dagster-k8s). Docs: docs/scale.md, "Kubernetes".
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster_k8s import k8s_job_executor
from dagster_shared.record import copy

from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
from video_assets.settings.config import Settings

# Merged under each step's own `dagster-k8s/config` op tag (the tag wins where both set a key).
STEP_K8S_CONFIG = {
    "container_config": {"resources": {"requests": {"memory": "4Gi"}, "limits": {"memory": "8Gi"}}},
}
# op name -> config, e.g. more memory for a large model's embedding step:
# {"internvideo2_embeddings": {"container_config": {"resources": {"limits": {"memory": "24Gi"}}}}}
PER_STEP_K8S_CONFIG: dict[str, dict] = {}

step_pods_executor = k8s_job_executor.configured(
    {"step_k8s_config": STEP_K8S_CONFIG, "per_step_k8s_config": PER_STEP_K8S_CONFIG},
    name="k8s_step_pods",
)


def with_executor(defs: dg.Definitions, job_name: str, executor: dg.ExecutorDefinition) -> dg.Definitions:
    """`defs` with `job_name` run by `executor`; the sensors that start it start the new job."""
    old = next(job for job in defs.jobs if job.name == job_name)
    new = copy(old, executor_def=executor)  # selection, tags, hooks, ... kept as orchestration/definitions.py set them
    with warnings.catch_warnings():  # dagster's own copy passes its beta `owners` field on
        warnings.simplefilter("ignore", dg.BetaWarning)
        sensors = [
            sensor.with_updated_job(new)
            if sensor.has_jobs and any(t.job_name == job_name for t in sensor.targets)
            else sensor
            for sensor in defs.sensors
        ]
    return dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=[new if job.name == job_name else job for job in defs.jobs],
        schedules=defs.schedules,
        sensors=sensors,
        resources=defs.resources,
    )


def k8s_definitions(settings: Settings) -> dg.Definitions:
    return with_executor(build_definitions(settings), EMBED_JOB, step_pods_executor)


defs = k8s_definitions(Settings.from_env())
