"""The Ray engine: decoding as CPU tasks, embedding in each model's actor pool. The Dagster
step that calls it still writes the Parquet partition and the index commit stays single."""

from __future__ import annotations

import pyarrow as pa
import ray
from ray.exceptions import RayError

from video_assets.index.schema import clip_schema
from video_assets.models.hub import ModelHub
from video_assets.models.text_match import REFERENCE_SCALE
from video_assets.settings.execution import ExecutionSettings
from video_assets.stages.frames import FramesSummary
from video_assets.stages.resolved import ModelPlan
from video_assets.stages.tensors import TensorSummary

from .base import EmbedJob, EngineError, FramesJob, TensorsJob
from .ray_connect import connect, probe
from .ray_pool import PROBE_EVERY_S, ModelPool
from .work import (
    EmbedOutcome,
    merge_frames_summary,
    merge_reports,
    merge_tensor_summaries,
    split_by_video,
    video_frames,
    video_tensors,
)

DECODE_RETRIES = 3  # Ray reruns a decode task whose worker or node died


class RayEngine:
    name = "ray"

    def __init__(self, execution: ExecutionSettings) -> None:
        self.execution = execution
        self.address = execution.address or "auto"
        self.pools: dict[str, ModelPool] = {}
        self.decode = None  # the remote video_tensors, once connected
        self.frames = None  # the remote video_frames

    def _connect(self) -> None:
        connect(self.address, self.execution.connect_timeout_s)
        if self.decode is None:
            options = {"num_cpus": self.execution.decode_num_cpus, "max_retries": DECODE_RETRIES}
            self.decode = ray.remote(video_tensors).options(**options, scheduling_strategy="SPREAD")
            self.frames = ray.remote(video_frames).options(**options, scheduling_strategy="SPREAD")

    def pool(self, plan: ModelPlan, hub: ModelHub, device: str, dtype: str) -> ModelPool:
        """The model's actor pool, started on first use and kept for the process's later runs."""
        self._connect()
        if plan.name not in self.pools:
            self.pools[plan.name] = ModelPool(plan, self.execution, hub, device, dtype)
        return self.pools[plan.name]

    def prepare(self, plans: list[ModelPlan], hub: ModelHub, device: str, dtype: str) -> None:
        for plan in plans:
            self.pool(plan, hub, device, dtype)

    def _gather(self, refs: list) -> list:
        """ray.get of every ref, probing the head while nothing finishes."""
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=PROBE_EVERY_S)
            if not done:
                probe(self.address, self.execution.connect_timeout_s)
        try:
            return ray.get(refs)
        except RayError as err:
            raise EngineError(f"a task on the Ray cluster at {self.address} failed: {err}") from err

    def extract_frames(self, job: FramesJob) -> FramesSummary:
        """One decode task per video; rows are written in video order as each result arrives,
        so the step holds one video's frames at a time (long videos: frames.storage jpeg)."""
        self._connect()
        videos = split_by_video(job.clips).values()
        refs = [self.frames.remote(video_clips, job.settings, job.signatures) for video_clips in videos]
        summary = FramesSummary(storage=job.settings.storage)
        for ref in refs:
            (part,) = self._gather([ref])
            if part.table.num_rows:
                job.writer.write(part.table)
            merge_frames_summary(summary, part.summary)
            job.strips.jpegs.update(part.strips)
        return summary

    def build_tensors(self, job: TensorsJob) -> TensorSummary:
        """One decode task per video (num_cpus each); the rows come back to the step's writer."""
        self._connect()
        plan = job.plan
        frames_of: dict[str, list[pa.Table]] = {}
        for group in job.frames.iter_row_groups():
            for video_id, rows in split_by_video(group).items():
                frames_of.setdefault(video_id, []).append(rows)
        refs = [
            self.decode.remote(
                plan.entry,
                plan.options,
                job.hub,
                plan.recipe,
                video_clips,
                frames_of.get(video_id, []),
                job.tensor_dtype,
            )
            for video_id, video_clips in split_by_video(job.clips).items()
        ]
        made = self._gather(refs)
        for part in made:
            if part.table.num_rows:
                job.writer.write(part.table)
        job.log(f"{plan.name}: {len(made)} decode task(s) on the Ray cluster at {self.address}")
        return merge_tensor_summaries([part.summary for part in made])

    def embed(self, job: EmbedJob) -> EmbedOutcome:
        """Each video's tensor rows to one actor of the model's pool; the rows come back here."""
        plan = job.plan
        pool = self.pool(plan, job.hub, job.device, job.dtype)
        rows = [t for t in job.tensors.iter_row_groups()]
        tensor_of = split_by_video(pa.concat_tables(rows)) if rows else {}
        clips_of = split_by_video(job.clips)
        jobs = {v: (t, clips_of[v]) for v, t in tensor_of.items()}
        results = pool.run(jobs)
        tables = [r.table for r in results.values()]
        first = next(iter(results.values()), None)
        return EmbedOutcome(
            table=pa.concat_tables(tables) if tables else clip_schema(plan.spec.dim).empty_table(),
            report=merge_reports([r.report for r in results.values()]),
            text_scale=first.text_scale if first else REFERENCE_SCALE,
            device=first.device if first else "none",
            dtype=first.dtype if first else "none",
            workers={v: r.worker for v, r in results.items()},
            model_loads=pool.started,
        )
