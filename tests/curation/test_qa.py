"""Multiple-choice QA (`video-assets ask`) with the tiny learned models.

- Cosmos-Embed1 tiny: its vision tower sees each frame's mean colour and "red",
  "green", "blue" embed to the same directions, so solid-colour clips embedded by
  the model itself answer "which colour?" for real.
- InternVideo2 tiny: clip vectors planted around its own text vectors, so the
  expected retrieval and answer ranking are computed here from the vectors.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.pipeline.learned_fixtures import (
    COSMOS_TINY,
    INTERNVIDEO2_TINY,
    build_cosmos_tiny,
    cosmos_tiny_entry,
    internvideo2_tiny_entry,
    registered,
    snapshot_manifest,
)
from video_assets.cli.main import main
from video_assets.curation.qa import ask, check_question, rank_answers, score_clips
from video_assets.curation.query import load_embedder
from video_assets.index.commit import commit_partition
from video_assets.index.connection import connect
from video_assets.index.schema import rows_to_table
from video_assets.settings.config import ModelSettings, Settings

COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}
# Words of the InternVideo2 tiny vocab (others are [UNK] and would embed alike).
QUESTION = "a man in the city street"
CHOICES = ["a red ball", "a dog", "a car"]


def _rows(video: str, vectors: np.ndarray, model_id: str) -> list[dict]:
    created = datetime(2024, 5, 1, tzinfo=timezone.utc)
    rows = []
    for i, v in enumerate(vectors):
        rows.append(
            {
                "clip_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}:{i}")),
                "video_id": video,
                "partition_key": f"p-{video}",
                "source_path": f"/videos/{video}.mp4",
                "span_start_s": 10.0 * i,
                "span_end_s": 10.0 * i + 8,
                "vector": v,
                "model_id": model_id,
                "model_revision": "tiny",
                "created_at": created,
            }
        )
    return rows


def _commit(data: Path, model: str, videos: dict[str, np.ndarray]) -> None:
    db = connect(str(data / "lancedb"))
    for video, vectors in videos.items():
        dim = vectors.shape[1]
        commit_partition(db, model, rows_to_table(_rows(video, vectors, f"test/{model}"), dim), [video])


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def cosmos(tmp_path_factory: pytest.TempPathFactory):
    """Settings and a data dir whose index holds red, green and blue clips embedded by the tiny model."""
    root = tmp_path_factory.mktemp("cosmos")
    snapshot = build_cosmos_tiny(root / "models")
    settings = Settings(
        data_dir=root / "data", models={COSMOS_TINY: ModelSettings(trust_snapshot_sha256=snapshot_manifest(snapshot))}
    )
    with registered([cosmos_tiny_entry(snapshot)], device=torch.device("cpu"), dtype=torch.float32):
        embedder = load_embedder(settings, COSMOS_TINY)
        videos = {}
        for name, rgb in COLOURS.items():
            # Two shades of each colour: two clips per video.
            clips = [np.broadcast_to(np.array(rgb, np.uint8) // d, (10, 20, 30, 3)).copy() for d in (1, 2)]
            videos[name] = embedder.embed_video(torch.stack([embedder.prepare(c) for c in clips])).numpy()
        _commit(root / "data", COSMOS_TINY, videos)
        yield settings, embedder, videos


@pytest.mark.parametrize("colour", list(COLOURS))
def test_the_model_answers_which_colour(cosmos, colour):
    settings, _, _ = cosmos
    # Only the colour words carry meaning in the tiny vocab; "the <colour>" retrieves that colour.
    result = ask(settings, f"the {colour}", list(COLOURS), model=COSMOS_TINY, k=2)
    assert {c.hit.video_id for c in result.clips} == {colour}  # the question retrieved its clips
    assert result.answers[0].answer == colour and result.answers[0].votes == 2
    assert result.scale == 100.0 and result.scale_source == "reference"
    assert sum(a.prob for a in result.answers) == pytest.approx(1.0, abs=1e-5)


def test_model_scale_is_the_learned_logit_scale_and_probs_follow_the_vectors(cosmos):
    settings, embedder, videos = cosmos
    result = ask(settings, "the green", list(COLOURS), model=COSMOS_TINY, k=4, scale="model")
    assert result.scale == pytest.approx(50.0) and result.scale_source == "model"
    stored = {c.hit.clip_id: c for c in result.clips}
    answers = embedder.embed_text(list(COLOURS)).numpy()
    all_vectors = np.concatenate(list(videos.values()))
    all_ids = [r["clip_id"] for v, vecs in videos.items() for r in _rows(v, vecs, "")]
    expected = dict(zip(all_ids, _softmax(50.0 * all_vectors @ answers.T)))
    for clip_id, clip in stored.items():
        np.testing.assert_allclose(list(clip.probs.values()), expected[clip_id], atol=1e-5)
    mean = np.mean([expected[c] for c in stored], axis=0)
    assert [a.answer for a in result.answers] == [list(COLOURS)[i] for i in np.argsort(-mean)]


@pytest.fixture(scope="module")
def iv2(tmp_path_factory: pytest.TempPathFactory):
    """InternVideo2 tiny and an index of planted clips: 3 near the question leaning to 'a dog',
    4 opposite it leaning to 'a car' (video 'far')."""
    data = tmp_path_factory.mktemp("iv2") / "data"
    settings = Settings(data_dir=data)
    with registered([internvideo2_tiny_entry()], device=torch.device("cpu"), dtype=torch.float32):
        embedder = load_embedder(settings, INTERNVIDEO2_TINY)
        vectors = embedder.embed_text([QUESTION, *CHOICES]).double().numpy()
        q, answers = vectors[0], vectors[1:]

        def lean(to: str) -> np.ndarray:  # the unit direction from the choices' mean to one choice, off q
            d = answers[CHOICES.index(to)] - answers.mean(axis=0)
            d -= (d @ q) * q
            return d / np.linalg.norm(d)

        near = _unit(np.stack([q + w * lean("a dog") for w in (1.5, 2.0, 2.5)]))
        far = _unit(np.stack([-q + w * lean("a car") for w in (1.0, 1.5, 2.0, 2.5)]))
        _commit(data, INTERNVIDEO2_TINY, {"near": near, "far": far})
        yield settings, {"near": near, "far": far}, answers.astype(np.float32)


def _expected_ranking(vectors: np.ndarray, answers: np.ndarray, scale: float = 100.0) -> tuple[list[str], np.ndarray]:
    mean = _softmax(scale * vectors @ answers.T).mean(axis=0)
    return [CHOICES[i] for i in np.argsort(-mean)], mean


def test_ranking_follows_the_vectors(iv2):
    settings, planted, answers = iv2
    result = ask(settings, QUESTION, CHOICES, model=INTERNVIDEO2_TINY, k=3)
    assert {c.hit.video_id for c in result.clips} == {"near"}
    order, mean = _expected_ranking(planted["near"], answers)
    assert [a.answer for a in result.answers] == order and order[0] == "a dog"
    np.testing.assert_allclose([a.prob for a in result.answers], sorted(mean, reverse=True), atol=1e-4)
    assert result.answers[0].votes == 3 and len(result.answers[0].clip_ids) == 3

    # --where restricts what the question retrieves: the far clips lean to 'a car'.
    far = ask(settings, QUESTION, CHOICES, model=INTERNVIDEO2_TINY, k=3, where="video_id = 'far'")
    assert {c.hit.video_id for c in far.clips} == {"far"}
    assert far.answers[0].answer == "a car" == _expected_ranking(planted["far"], answers)[0][0]
    none = ask(settings, QUESTION, CHOICES, model=INTERNVIDEO2_TINY, where="video_id = 'nowhere'")
    assert none.clips == [] and none.answers == []


def test_a_model_without_a_logit_scale_refuses_it(iv2):
    settings, _, _ = iv2
    with pytest.raises(ValueError, match="no learned logit scale"):
        ask(settings, QUESTION, CHOICES, model=INTERNVIDEO2_TINY, scale="model")


def test_a_model_without_text_is_refused_with_advice_for_ask(iv2, capsys, monkeypatch):
    settings, _, _ = iv2
    for name in ("VIDEO_ASSETS_SETTINGS", "VIDEO_ASSETS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    # Named, or the default when only the weights-free fingerprint is enabled: both before any index is read.
    for extra in (["--model", "fingerprint"], []):
        argv = ["ask", QUESTION, "--choices", *CHOICES, "--output", str(settings.data_dir), *extra]
        monkeypatch.setenv("VIDEO_ASSETS_SETTINGS", str(_fingerprint_only(settings)))
        assert main(argv) == 2, extra
        err = capsys.readouterr().err.strip()
        assert "ask needs a model with a text tower" in err and "fingerprint has none" in err, err
        # search's advice (--like-clip / --like-file) does not apply to ask
        assert "--like-clip" not in err and "\n" not in err, err


def _fingerprint_only(settings: Settings) -> Path:
    path = settings.data_dir.parent / "fingerprint_only.json"
    path.write_text(json.dumps({"data_dir": str(settings.data_dir), "enabled_models": ["fingerprint"]}))
    return path


def test_cli_prints_the_ranked_answers_with_their_clips(iv2, capsys, monkeypatch):
    settings, planted, answers = iv2
    for name in ("VIDEO_ASSETS_SETTINGS", "VIDEO_ASSETS_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    argv = ["ask", QUESTION, "--choices", *CHOICES, "--model", INTERNVIDEO2_TINY, "--output", str(settings.data_dir)]
    with registered([internvideo2_tiny_entry()], device=torch.device("cpu"), dtype=torch.float32):
        assert main([*argv, "-k", "3", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [a["answer"] for a in out["answers"]] == _expected_ranking(planted["near"], answers)[0]
        assert len(out["clips"]) == 3 and set(out["clips"][0]["probs"]) == set(CHOICES)

        assert main([*argv, "-k", "2"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == f"{QUESTION!r}: 2 clip(s) of {INTERNVIDEO2_TINY}, answers by softmax of 100*cosine"
        assert lines[1].endswith("a dog  (best for 2 of 2 clips)") and lines[2].lstrip().startswith("p=")

        assert main([*argv[:3], "a dog", "--model", INTERNVIDEO2_TINY, "--output", str(settings.data_dir)]) == 2
        assert "between 2 and 64 choices" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("choices", "template", "problem"),
    [
        (["a cup"], "{answer}", "between 2 and"),
        (["a cup", " "], "{answer}", "blank"),
        (["a cup", "a cup"], "{answer}", "repeat"),
        (["a cup", "a dog"], "{question}", "must contain {answer}"),
    ],
)
def test_check_question_refuses_unusable_input(choices, template, problem):
    with pytest.raises(ValueError, match=problem):
        check_question("what?", choices, template=template)


def test_template_is_plain_text_substitution():
    assert check_question("what is it?", ["a cup", "{0}"], template="{question} {0} {answer}") == [
        "what is it? {0} a cup",
        "what is it? {0} {0}",
    ]
    with pytest.raises(ValueError, match="empty"):
        check_question("  ", ["a", "b"])


def test_rank_answers_mean_then_votes_then_given_order():
    hits = [type("Hit", (), {"clip_id": f"c{i}"})() for i in range(3)]
    # Clip vectors on axes 0, 0, 1; answers x (axis 0), y (axis 1), z (axis 2) at scale 1.
    eye = np.eye(3, dtype=np.float32)
    clips = score_clips(hits, eye[[0, 0, 1]], ["x", "y", "z"], eye, scale=1.0)
    ranked = rank_answers(["x", "y", "z"], clips)
    e = np.e
    assert [r.answer for r in ranked] == ["x", "y", "z"]
    assert ranked[0].prob == pytest.approx((2 * e / (e + 2) + 1 / (e + 2)) / 3)
    assert [r.votes for r in ranked] == [2, 1, 0] and ranked[0].clip_ids == ["c0", "c1"]
    tied = rank_answers(["z", "y"], score_clips(hits[:1], eye[[0]], ["z", "y"], eye[[2, 1]], scale=1.0))
    assert [r.answer for r in tied] == ["z", "y"]  # equal probabilities keep the order given


def test_ask_job_attaches_the_ranked_answers(iv2):
    import dagster as dg

    from video_assets.orchestration.assets.qa_job import build_ask_job

    settings, planted, answers = iv2
    config = {"question": QUESTION, "choices": CHOICES, "model": INTERNVIDEO2_TINY, "k": 3}
    with registered([internvideo2_tiny_entry()], device=torch.device("cpu"), dtype=torch.float32):
        result = build_ask_job(settings).execute_in_process(run_config={"ops": {"ask_question": {"config": config}}})
        bad = build_ask_job(settings).execute_in_process(
            run_config={"ops": {"ask_question": {"config": {**config, "choices": ["a dog"]}}}}, raise_on_error=False
        )
    assert result.success and not bad.success
    failure = bad.get_step_failure_events()[0].event_specific_data.user_failure_data
    assert "between 2 and 64 choices" in failure.description
    (output,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    meta = output.event_specific_data.metadata
    order, mean = _expected_ranking(planted["near"], answers)
    table = meta["answers"].value.splitlines()
    ranked = [line.split(" | ")[1] for line in table[2 : 2 + len(CHOICES)]]
    assert ranked == order and meta["best_answer"].value == order[0] == "a dog"
    assert meta["best_probability"].value == pytest.approx(max(mean), abs=1e-4) and meta["clips"].value == 3
    assert sum(line.count(" near ") + line.count("/near.mp4") for line in table) == 3  # the 3 clips, one row each
