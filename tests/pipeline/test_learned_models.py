"""Learned embedders through the whole graph: a real Dagster instance, real LanceDB tables.

fingerprint, a tiny InternVideo2 (the official-layout reference checkpoint) and a tiny
Cosmos-Embed1 (remote code from a snapshot approved by its manifest hash in the settings)
run side by side over the same partitions, each into its own table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pytest
import torch

from tests.pipeline.learned_fixtures import (
    COSMOS_TINY,
    COSMOS_VARIANT,
    INTERNVIDEO2_TINY,
    build_cosmos_tiny,
    cosmos_tiny_entry,
    internvideo2_tiny_config,
    internvideo2_tiny_entry,
    registered,
    snapshot_manifest,
)
from video_assets.app.outcome import PartitionOutcome, RunSummary
from video_assets.app.runner import run_folder
from video_assets.catalog.registry import video_id_for
from video_assets.curation.query import embed_file, load_embedder, search
from video_assets.index.connection import clip_table_exists, connect, open_clip_table
from video_assets.index.schema import table_name
from video_assets.index.search import SearchRequest
from video_assets.media.synthetic import make_video
from video_assets.models import embedder_registry
from video_assets.models.cosmos_embed1 import VARIANTS
from video_assets.models.fingerprint import FINGERPRINT_SPEC
from video_assets.models.frame_selection import TOO_FEW_FRAMES
from video_assets.orchestration.definitions import EMBED_JOB, build_definitions
from video_assets.settings.config import ClippingSettings, ModelSettings, Settings

pytestmark = pytest.mark.slow

MODELS = ("fingerprint", INTERNVIDEO2_TINY, COSMOS_TINY)
TEXTS = {
    INTERNVIDEO2_TINY: ("a dog runs on the grass", "a red ball", "people walk in the city street"),
    COSMOS_TINY: ("red", "green", "blue"),  # words of the tiny snapshot's vocab
}
# Clips of 2 s every 2 s, kept down to 0.2 s: durations -> clip count.
VIDEOS = {"three seconds.mp4": (3.0, 2), "two seconds.mp4": (2.0, 1), "short.mp4": (1.2, 1), "tiny.mp4": (0.3, 1)}
FPS = 24  # of the generated videos
# At 2 fps the 1.2 s clip has 3 frames and the 0.3 s clip 1; re-extraction doubles the fps
# up to 16. The 1.2 s clip has 5+ frames at 4 fps (InternVideo2 needs 4) and 10 at 8 fps
# (fingerprint and Cosmos need 8); the 0.3 s clip has 5 frames at 16 fps: enough for
# InternVideo2, too few for the others, which skip it.
EXPECTED_ROWS = {"fingerprint": 4, INTERNVIDEO2_TINY: 5, COSMOS_TINY: 4}


@dataclass
class LearnedRun:
    settings: Settings
    summary: RunSummary

    def outcome(self, video: str) -> PartitionOutcome:
        by_key = {o.key: o for o in self.summary.partitions}
        return by_key[video_id_for(video)]

    def rows(self, model: str) -> list[dict]:
        return open_clip_table(connect(self.settings.paths.lancedb_uri), model).to_arrow().to_pylist()


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LearnedRun]:
    root = tmp_path_factory.mktemp("learned").resolve()
    for seed, (name, (duration, _)) in enumerate(VIDEOS.items(), 1):
        make_video(root / "videos" / name, duration_s=duration, fps=FPS, size=(64, 48), seed=seed)
    snapshot = build_cosmos_tiny(root / "models")
    settings = Settings(
        input_dir=root / "videos",
        data_dir=root / "data",
        enabled_models=MODELS,
        clipping=ClippingSettings(clip_len_s=2.0, stride_s=2.0, min_clip_len_s=0.2),
        models={
            INTERNVIDEO2_TINY: ModelSettings(texts_to_verify=TEXTS[INTERNVIDEO2_TINY]),
            COSMOS_TINY: ModelSettings(
                texts_to_verify=TEXTS[COSMOS_TINY],
                text_match_scale="model",  # the snapshot's own logit_scale.exp()
                trust_snapshot_sha256=snapshot_manifest(snapshot),
            ),
        },
        device="cpu",
        dtype="fp32",
    )
    entries = [internvideo2_tiny_entry(), cosmos_tiny_entry(snapshot)]
    with pytest.MonkeyPatch.context() as mp, registered(entries, device=torch.device("cpu"), dtype=torch.float32):
        (root / "dagster_home").mkdir()
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        yield LearnedRun(settings, run_folder(settings, progress=lambda _: None))


def test_each_model_fills_its_own_table_side_by_side(learned_run: LearnedRun) -> None:
    assert not learned_run.summary.failed, [o.errors for o in learned_run.summary.failed]
    for video, (_, clips) in VIDEOS.items():
        assert learned_run.outcome(video).metadata["clips"]["clips"] == clips, video

    db = connect(learned_run.settings.paths.lancedb_uri)
    dims = {
        "fingerprint": FINGERPRINT_SPEC.dim,
        INTERNVIDEO2_TINY: internvideo2_tiny_config().embed_dim,
        COSMOS_TINY: VARIANTS[COSMOS_VARIANT].dim,
    }
    assert len(set(dims.values())) == 3  # a vector in the wrong table could not pass
    for model in MODELS:
        assert clip_table_exists(db, model) and table_name(model) == f"clips_{model}"
        rows = learned_run.rows(model)
        assert len(rows) == EXPECTED_ROWS[model], model
        assert len({r["clip_id"] for r in rows}) == len(rows)
        embedded = sum(o.metadata[f"{model}_embeddings"]["clips"] for o in learned_run.summary.partitions)
        assert embedded == len(rows)
        vectors = np.array([r["vector"] for r in rows])
        assert vectors.shape == (len(rows), dims[model])
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        spec = embedder_registry.get(model).spec
        assert {(r["model_id"], r["model_revision"]) for r in rows} == {(spec.model_id, spec.revision)}
    assert embedder_registry.get(COSMOS_TINY).spec.model_id == "nvidia/Cosmos-Embed1-224p"


@pytest.mark.parametrize("model", [INTERNVIDEO2_TINY, COSMOS_TINY])
def test_index_vectors_are_the_models_vectors_of_those_clips(learned_run: LearnedRun, model: str) -> None:
    """The stored vector of each clip is what the model gives for that clip's frames,
    outside Dagster (tensors went to disk as float16, hence the tolerance)."""
    video = learned_run.settings.input_dir / "three seconds.mp4"
    rows = sorted(
        (r for r in learned_run.rows(model) if r["video_id"] == video_id_for(video.name)),
        key=lambda r: r["span_start_s"],
    )
    assert [(r["span_start_s"], r["span_end_s"]) for r in rows] == [(0.0, 2.0), (2.0, 3.0)]
    embedder = load_embedder(learned_run.settings, model)
    expected = embed_file(learned_run.settings, embedder, video)  # (clips, dim), in span order
    stored = np.array([r["vector"] for r in rows])
    np.testing.assert_allclose(stored, expected, atol=1e-3)
    distances = np.linalg.norm(stored[:, None] - expected[None], axis=-1)  # (stored, expected)
    assert distances.argmin(axis=1).tolist() == [0, 1]  # each clip's vector, not its neighbour's


@pytest.mark.parametrize("model", [INTERNVIDEO2_TINY, COSMOS_TINY])
def test_texts_to_verify_scores_are_the_softmax_over_the_texts(learned_run: LearnedRun, model: str) -> None:
    texts = TEXTS[model]
    embedder = load_embedder(learned_run.settings, model)
    text_vectors = embedder.embed_text(list(texts)).numpy()  # (K, dim)
    # NeMo Curator's fixed 100, or (Cosmos here, by config) the model's own learned scale.
    scale = embedder.logit_scale if model == COSMOS_TINY else 100.0
    assert scale == pytest.approx(50.0 if model == COSMOS_TINY else 100.0)
    rows = learned_run.rows(model)
    for row in rows:
        scores = json.loads(row["text_scores"])
        assert list(scores) == list(texts)
        probs = np.array(list(scores.values()))
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert row["text_match"] == texts[int(probs.argmax())]
        assert row["text_match_prob"] == pytest.approx(probs.max(), rel=1e-6)
        logits = scale * text_vectors @ np.asarray(row["vector"])
        expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        np.testing.assert_allclose(probs, expected, atol=1e-4)
    for outcome in learned_run.summary.partitions:
        assert outcome.metadata[f"{model}_embeddings"]["texts_to_verify"] == list(texts)
        assert outcome.metadata[f"{model}_embeddings"]["text_match_scale"] == pytest.approx(scale)
    assert all(r["text_scores"] is None and r["text_match"] is None for r in learned_run.rows("fingerprint"))


def test_short_clips_are_reextracted_or_skipped_per_model(learned_run: LearnedRun) -> None:
    short, tiny = learned_run.outcome("short.mp4"), learned_run.outcome("tiny.mp4")
    assert short.success and tiny.success
    for model in MODELS:
        made = short.metadata[f"{model}_tensors"]
        assert (made["reextracted_clips"], made["skipped_clips"]) == (1, 0), model
        assert sum(r["video_id"] == short.key for r in learned_run.rows(model)) == 1, model

    for model in ("fingerprint", COSMOS_TINY):  # 8 frames per clip: the 0.3 s clip has 5 at most
        made = tiny.metadata[f"{model}_tensors"]
        assert (made["clips"], made["skipped_clips"]) == (0, 1), model
        assert TOO_FEW_FRAMES in made["skipped"][0]
        embedded = tiny.metadata[f"{model}_embeddings"]
        assert (embedded["clips"], embedded["skipped_clips"]) == (0, 1), model
        assert not any(r["video_id"] == tiny.key for r in learned_run.rows(model)), model
    made = tiny.metadata[f"{INTERNVIDEO2_TINY}_tensors"]  # 4 frames per clip: 16 fps gives enough
    assert (made["clips"], made["reextracted_clips"], made["skipped_clips"]) == (1, 1, 0)
    assert sum(r["video_id"] == tiny.key for r in learned_run.rows(INTERNVIDEO2_TINY)) == 1


def test_search_by_text_with_tiny_internvideo2(learned_run: LearnedRun) -> None:
    query = "a dog runs on the grass"
    hits = search(learned_run.settings, text=query, model=INTERNVIDEO2_TINY, request=SearchRequest(k=3))
    assert len(hits) == 3
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    # Exactly the three best cosines over the whole table, with their clips.
    text = load_embedder(learned_run.settings, INTERNVIDEO2_TINY).embed_text([query])[0].numpy()
    cosine = {r["clip_id"]: float(np.dot(r["vector"], text)) for r in learned_run.rows(INTERNVIDEO2_TINY)}
    best = sorted(cosine.values(), reverse=True)[:3]
    np.testing.assert_allclose(scores, best, atol=1e-4)
    for hit in hits:
        assert hit.score == pytest.approx(cosine[hit.clip_id], abs=1e-4)


def test_rerun_of_a_partition_leaves_one_row_per_clip(learned_run: LearnedRun) -> None:
    before = {m: sorted(r["clip_id"] for r in learned_run.rows(m)) for m in MODELS}
    key = video_id_for("three seconds.mp4")
    job = build_definitions(learned_run.settings).resolve_job_def(EMBED_JOB)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(partition_key=key, instance=instance, run_config=quiet)
    assert result.success
    for model in MODELS:
        after = sorted(r["clip_id"] for r in learned_run.rows(model))
        assert after == before[model], model
        commit = result.asset_materializations_for_node(f"{model}_clip_index")[0].metadata
        assert commit["operation"].value == "merge"
        assert (commit["updated"].value, commit["inserted"].value, commit["deleted"].value) == (2, 0, 0)
        assert commit["rows_for_videos"].value == 2
