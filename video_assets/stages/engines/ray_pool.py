"""A pool of long-lived Ray actors per model: each loads the weights once and embeds the
batches (one video's clips each) streamed to it. No dagster here: plain Ray over our
embedder registry entries."""

from __future__ import annotations

import math
import os
from collections import deque
from dataclasses import dataclass

import pyarrow as pa
import ray
from ray.exceptions import RayActorError, RayTaskError

from video_assets.models.device_runtime import make_runtime
from video_assets.models.embedder_registry import RegisteredEmbedder
from video_assets.models.hub import ModelHub
from video_assets.models.runtime import MODEL_CACHE
from video_assets.settings.config import ModelSettings
from video_assets.settings.execution import ExecutionSettings
from video_assets.stages.embeddings import EmbeddingReport
from video_assets.stages.resolved import ModelPlan

from .base import EngineError
from .ray_connect import probe
from .work import TableRows, WorkerInfo, dtype_name, embed_with

PROBE_EVERY_S = 5.0  # how often a wait with no progress checks that the head is still there
IN_FLIGHT_PER_ACTOR = 2  # one running, one queued: the actor never waits for the driver
MAX_ATTEMPTS = 3  # per video, across actors lost with their node


def ray_worker() -> WorkerInfo:
    """This Ray worker: its node id, the GPU ids Ray gave it, its pid."""
    gpu_ids = [int(g) if str(g).isdigit() else g for g in ray.get_gpu_ids()]
    return WorkerInfo(ray.get_runtime_context().get_node_id(), gpu_ids, os.getpid())


@dataclass
class ActorResult:
    table: pa.Table
    report: EmbeddingReport
    text_scale: float
    device: str
    dtype: str
    worker: WorkerInfo


class EmbedActor:
    """One model loaded once in a Ray worker process; Ray sets CUDA_VISIBLE_DEVICES to its GPUs,
    so "cuda" (or "auto") is the card it was given."""

    def __init__(
        self,
        entry: RegisteredEmbedder,
        options: ModelSettings,
        hub: ModelHub,
        device: str,
        dtype: str,
        memory_gb: float | None,
    ) -> None:
        # "cuda:N" names a card on the driver's machine; here the visible one is the given card.
        self.runtime = make_runtime("cuda" if device.startswith("cuda") else device, dtype, memory_gb)
        self.options = options
        self.loads = 0
        key = entry.cache_key(self.runtime.device, self.runtime.dtype, entry.weight_dirs(hub), options)
        self.embedder = MODEL_CACHE.get_or_load(key, lambda: self._load(entry, hub))

    def _load(self, entry: RegisteredEmbedder, hub: ModelHub):
        self.loads += 1
        return entry.load(hub, self.runtime.device, self.runtime.dtype, self.options)

    def ready(self) -> WorkerInfo:
        return ray_worker()

    def load_count(self) -> int:
        return self.loads

    def embed(self, tensors: pa.Table, clips: pa.Table) -> ActorResult:
        table, report, scale = embed_with(self.embedder, self.runtime, self.options, TableRows([tensors]), clips)
        device, dtype = str(self.runtime.device), dtype_name(self.runtime.dtype)
        return ActorResult(table, report, scale, device, dtype, ray_worker())


def pool_size(plan: ModelPlan, execution: ExecutionSettings, nodes: list[dict]) -> int:
    """Actors for `plan`: the setting, else as many as the cluster's GPUs allow (one per node for
    a model that asks for no GPU), at most max_actors_per_model."""
    if execution.actors_per_model:
        return execution.actors_per_model
    if plan.num_gpus_per_worker > 0:
        total = sum(n["Resources"].get("GPU", 0.0) for n in nodes)
        fits = math.floor(total / plan.num_gpus_per_worker + 1e-9)
    else:
        fits = len(nodes)
    return max(1, min(fits, execution.max_actors_per_model))


def refuse_impossible(plan: ModelPlan, execution: ExecutionSettings, nodes: list[dict]) -> None:
    """Fail now when no node of the cluster can ever hold one actor of `plan` (unless it autoscales)."""
    if execution.autoscaling:
        return
    gpus = [n["Resources"].get("GPU", 0.0) for n in nodes]
    memory = [n["Resources"].get("memory", 0.0) / 2**30 for n in nodes]
    where = f"the Ray cluster at {execution.address} ({len(nodes)} nodes, {sum(gpus):g} GPUs in all)"
    if plan.num_gpus_per_worker > max(gpus, default=0.0):
        raise EngineError(
            f"{plan.name}: an embedding actor asks for {plan.num_gpus_per_worker:g} GPUs "
            f"(models.{plan.name}.num_gpus_per_worker) but the largest node of {where} has "
            f"{max(gpus, default=0.0):g}: the request can never be met"
        )
    if execution.actor_memory_gb and execution.actor_memory_gb > max(memory, default=0.0):
        raise EngineError(
            f"{plan.name}: an embedding actor asks for {execution.actor_memory_gb:g} GB of memory "
            f"(execution.actor_memory_gb) but the largest node of {where} has {max(memory, default=0.0):.1f} GB"
        )


class ModelPool:
    """The actors of one model, started once per process and used by every partition after."""

    def __init__(self, plan: ModelPlan, execution: ExecutionSettings, hub: ModelHub, device: str, dtype: str) -> None:
        self.plan, self.execution, self.hub, self.device, self.dtype = plan, execution, hub, device, dtype
        self.actors: list = []
        self.started = 0  # actors that loaded the model (each exactly once)
        self.cursor = 0  # where the next round of dispatch starts
        self.start()

    def _request(self) -> str:
        memory = f", memory {self.execution.actor_memory_gb:g} GB" if self.execution.actor_memory_gb else ""
        return f"num_gpus {self.plan.num_gpus_per_worker:g}{memory}"

    def start(self) -> None:
        """Start the actors and wait (at most actor_start_timeout_s) until they hold the model."""
        nodes = [n for n in ray.nodes() if n["Alive"]]
        refuse_impossible(self.plan, self.execution, nodes)
        size = pool_size(self.plan, self.execution, nodes)
        memory = self.execution.actor_memory_gb
        remote = ray.remote(EmbedActor).options(
            num_gpus=self.plan.num_gpus_per_worker,
            num_cpus=0,  # the CPUs stay for decode tasks; an actor waits on its GPU
            memory=int(memory * 2**30) if memory else None,
            scheduling_strategy="SPREAD",
            max_restarts=0,  # a lost actor's videos go to the others; the pool restarts when empty
        )
        gpu_memory = self.plan.gpu_memory_gb
        actors = [
            remote.remote(self.plan.entry, self.plan.options, self.hub, self.device, self.dtype, gpu_memory)
            for _ in range(size)
        ]
        ready_refs = [a.ready.remote() for a in actors]
        done, _ = ray.wait(ready_refs, num_returns=len(ready_refs), timeout=self.execution.actor_start_timeout_s)
        ready = []
        for actor, ref in zip(actors, ready_refs):
            if ref in done:
                try:
                    ray.get(ref)
                    ready.append(actor)
                    continue
                except RayActorError as err:
                    self._kill(actors)
                    raise EngineError(f"{self.plan.name}: an embedding actor failed to start: {err}") from err
            ray.kill(actor)  # still pending: its request does not fit now; do not let it hold a slot
        if not ready:
            raise EngineError(
                f"{self.plan.name}: no embedding actor ({self._request()}) started within "
                f"{self.execution.actor_start_timeout_s:g} s on the Ray cluster at {self.execution.address} "
                f"(available: {ray.available_resources()}): the request cannot be met"
            )
        self.actors = ready
        self.started += len(ready)

    @staticmethod
    def _kill(actors: list) -> None:
        for actor in actors:
            ray.kill(actor)

    def load_counts(self) -> list[int]:
        """Model loads of each live actor: 1 each, however many partitions they embedded."""
        return ray.get([a.load_count.remote() for a in self.actors])

    def _dispatch(self, queue: deque, jobs: dict, attempts: dict, in_flight: dict) -> None:
        """Queued videos to the least busy actors; ties go round the pool, so one video per
        partition still spreads over every actor (and node) across partitions."""
        while queue and self.actors:
            busy = [a for _, a in in_flight.values()]
            order = self.actors[self.cursor % len(self.actors) :] + self.actors[: self.cursor % len(self.actors)]
            actor = min(order, key=busy.count)
            if busy.count(actor) >= IN_FLIGHT_PER_ACTOR:
                return
            self.cursor += 1
            video_id = queue.popleft()
            attempts[video_id] += 1
            in_flight[actor.embed.remote(*jobs[video_id])] = (video_id, actor)

    def run(self, jobs: dict[str, tuple[pa.Table, pa.Table]]) -> dict[str, ActorResult]:
        """video_id -> (tensor rows, clip rows) embedded over the actors, at most
        IN_FLIGHT_PER_ACTOR each; a video whose actor died (its node lost) goes to another."""
        queue = deque(jobs)
        attempts = dict.fromkeys(jobs, 0)
        in_flight: dict = {}  # ref -> (video_id, actor)
        results: dict[str, ActorResult] = {}
        while queue or in_flight:
            if not self.actors and not in_flight:
                self.start()  # every actor was lost: start again on what is left, or fail in bounded time
            self._dispatch(queue, jobs, attempts, in_flight)
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=PROBE_EVERY_S)
            if not done:
                probe(self.execution.address or "auto", self.execution.connect_timeout_s)
            for ref in done:
                video_id, actor = in_flight.pop(ref)
                try:
                    results[video_id] = ray.get(ref)
                except RayActorError as err:
                    if actor in self.actors:
                        self.actors.remove(actor)
                        ray.kill(actor)  # lost or unreachable: it must not hold its GPU share
                    if attempts[video_id] >= MAX_ATTEMPTS:
                        message = f"{self.plan.name}: video {video_id} lost its actor {MAX_ATTEMPTS} times: {err}"
                        raise EngineError(message) from err
                    queue.appendleft(video_id)
                except RayTaskError as err:
                    raise EngineError(f"{self.plan.name}: embedding video {video_id} failed: {err.cause!r}") from err
        return results
