"""Zero-shot multiple-choice video QA over the clip index (`video-assets ask`).

What it is: the retrieval-style multiple-choice protocol that InternVideo2 and
Cosmos-Embed1 report zero-shot (e.g. MSR-VTT MC): a contrastive video-text
model picks, among given candidate texts, the one whose embedding is closest
to the video. It is not a generative VQA model; it cannot answer without
choices, and it answers best when a choice reads like a caption ("a man
holding a cup") rather than a bare word.

How: the question, embedded by the model's text tower, retrieves the top `k`
clips (the index's own search, `--where` filters included). Each retrieved
clip then scores every candidate: probs = softmax(scale * cos(clip, answer))
over the choices, with scale 100 (the reference, as `texts_to_verify` uses it)
or the model's learned logit scale. The answers are ranked by their mean
probability over the retrieved clips; each clip also votes for its best one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import lancedb
import numpy as np
import torch
from lancedb.expr import col, lit

from video_assets.index.connection import connect, open_clip_table
from video_assets.index.errors import IndexIntegrityError
from video_assets.index.search import SearchHit, SearchRequest, search_vector
from video_assets.models.text_match import REFERENCE_SCALE, text_match
from video_assets.settings.config import Settings

MAX_CHOICES = 64
MAX_K = 100
DEFAULT_TEMPLATE = "{answer}"

ScaleSource = Literal["reference", "model"]


@dataclass(frozen=True)
class ClipAnswers:
    """One retrieved clip: its hit (score = cosine to the question) and its answer probabilities."""

    hit: SearchHit
    probs: dict[str, float]  # answer -> probability, in the order of the choices
    best: str


@dataclass(frozen=True)
class RankedAnswer:
    answer: str
    prob: float  # mean over the retrieved clips of this answer's probability
    votes: int  # retrieved clips whose most probable answer this is
    clip_ids: list[str]  # those clips, most confident first


@dataclass(frozen=True)
class QAResult:
    question: str
    model: str
    scale: float
    scale_source: ScaleSource
    template: str
    answers: list[RankedAnswer]  # best first; empty when no clip was retrieved
    clips: list[ClipAnswers]  # in retrieval order


def check_question(question: str, choices: list[str], *, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """The texts the choices are embedded as; ValueError when the question, choices or template are unusable."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise ValueError(f"give between 2 and {MAX_CHOICES} choices, got {len(choices)}")
    blank = [i for i, c in enumerate(choices) if not isinstance(c, str) or not c.strip()]
    if blank:
        raise ValueError(f"choice(s) {blank} are blank")
    repeated = sorted({c for c in choices if choices.count(c) > 1})
    if repeated:
        raise ValueError(f"choices repeat: {repeated}")
    if "{answer}" not in template:
        raise ValueError(f"the template must contain {{answer}}, got {template!r}")
    # str.replace, not str.format: a template is user text, its other braces stay literal.
    return [template.replace("{question}", question).replace("{answer}", choice) for choice in choices]


def score_clips(
    hits: list[SearchHit], clip_vectors: np.ndarray, choices: list[str], answer_vectors: np.ndarray, *, scale: float
) -> list[ClipAnswers]:
    """clip_vectors (N, D) and answer_vectors (K, D), unit norm -> each clip's probabilities over the K choices."""
    matches = text_match(torch.from_numpy(clip_vectors), torch.from_numpy(answer_vectors), choices, scale=scale)
    return [ClipAnswers(hit, dict(zip(choices, match.probs)), match.best_text) for hit, match in zip(hits, matches)]


def rank_answers(choices: list[str], clips: list[ClipAnswers]) -> list[RankedAnswer]:
    """Choices by mean probability over `clips` (then votes, then the order given); [] without clips."""
    if not clips:
        return []
    ranked = []
    for choice in choices:
        voters = sorted((c for c in clips if c.best == choice), key=lambda c: -c.probs[choice])
        mean = float(np.mean([c.probs[choice] for c in clips]))
        ranked.append(RankedAnswer(choice, mean, len(voters), [c.hit.clip_id for c in voters]))
    order = sorted(range(len(choices)), key=lambda i: (-ranked[i].prob, -ranked[i].votes, i))
    return [ranked[i] for i in order]


def answer_from_index(
    db: lancedb.DBConnection,
    model: str,
    question_vector: np.ndarray,
    choices: list[str],
    answer_vectors: np.ndarray,
    *,
    k: int = 5,
    scale: float = REFERENCE_SCALE,
    where: str | None = None,
) -> tuple[list[RankedAnswer], list[ClipAnswers]]:
    """Retrieve the `k` clips closest to the question, score them against the choices, rank the choices."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer in 1..{MAX_K}, got {k!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    hits = search_vector(db, model, question_vector, SearchRequest(k=k, where=where))
    clips = score_clips(hits, _stored_vectors(db, model, hits), choices, answer_vectors, scale=scale) if hits else []
    return rank_answers(choices, clips), clips


def text_models(settings: Settings) -> list[str]:
    """The enabled models that can answer (those with a text tower), in order; the first is the default."""
    from video_assets.models.embedder_registry import enabled_embedders
    from video_assets.models.hub import ModelHub

    enabled = enabled_embedders(settings.enabled_models, ModelHub(settings.paths.model_dir))
    return [entry.spec.name for entry in enabled if entry.spec.has_text]


def ask(
    settings: Settings,
    question: str,
    choices: list[str],
    *,
    model: str | None = None,
    k: int = 5,
    scale: ScaleSource | None = None,
    template: str = DEFAULT_TEMPLATE,
    where: str | None = None,
) -> QAResult:
    """Answer `question` from the indexed clips of `model` (default: the first enabled model with text).

    `scale` None takes the model's configured `text_match_scale`, as its `texts_to_verify` scores do.
    """
    # The query module loads models and torch; imported here so the library above stays light.
    from video_assets.curation.query import default_model, existing_index, load_embedder
    from video_assets.models.base import TextNotSupportedError
    from video_assets.models.embedder_registry import get

    texts = check_question(question, choices, template=template)
    try:
        model = model or default_model(settings, needs_text=True)
        if not get(model).spec.has_text:
            raise TextNotSupportedError(model)
    except TextNotSupportedError as err:
        # Its own advice (--like-clip / --like-file) is for search: ask has only text to go on.
        raise ValueError(
            f"ask needs a model with a text tower (it embeds the question and the choices as text); {err.name} has "
            "none: pick one with --model (e.g. internvideo2: `video-assets models download internvideo2`, then "
            "`video-assets run` to index with it)"
        ) from None
    source: ScaleSource = scale or settings.model(model).text_match_scale
    db = connect(existing_index(settings))
    embedder = load_embedder(settings, model)
    value = REFERENCE_SCALE
    if source == "model":
        if embedder.logit_scale is None:
            raise ValueError(f"{model} has no learned logit scale: use the reference scale")
        value = float(embedder.logit_scale)
    vectors = embedder.embed_text([question, *texts]).numpy()  # (1 + K, D), unit norm
    answers, clips = answer_from_index(db, model, vectors[0], list(choices), vectors[1:], k=k, scale=value, where=where)
    return QAResult(question, model, value, source, template, answers, clips)


def _stored_vectors(db: lancedb.DBConnection, model: str, hits: list[SearchHit]) -> np.ndarray:
    """The hits' vectors (N, D) from the table, in hit order, in one read."""
    ids = [h.clip_id for h in hits]
    table = open_clip_table(db, model)
    rows = table.search().where(col("clip_id").isin([lit(c) for c in ids])).select(["clip_id", "vector"])
    found = {r["clip_id"]: r["vector"] for r in rows.limit(None).to_arrow().to_pylist()}
    missing = [c for c in ids if c not in found]
    if missing:
        # A commit removed them between the search and this read: answering without them would
        # silently change the question's clips.
        raise IndexIntegrityError(f"clip(s) {missing[:5]} left {table.name} while answering; ask again")
    return np.asarray([found[c] for c in ids], dtype=np.float32)


def answers_markdown(result: QAResult) -> str:
    """The ranked answers, then the clips they were read from, as Markdown tables (the UI's metadata)."""
    if not result.clips:
        return f"{result.question!r}: no clip to answer from (empty index, or `where` matched nothing)"
    cell = _md_cell
    lines = ["| rank | answer | probability | best for |", "|---:|---|---:|---:|"]
    for rank, answer in enumerate(result.answers, 1):
        lines.append(f"| {rank} | {cell(answer.answer)} | {answer.prob:.4f} | {answer.votes} of {len(result.clips)} |")
    lines += [
        "",
        "| clip | video | span | question cosine | best answer | its probability |",
        "|---|---|---|---:|---|---:|",
    ]
    for clip in result.clips:
        hit = clip.hit
        span = f"{hit.span_start_s:.2f}-{hit.span_end_s:.2f} s"
        lines.append(
            f"| {hit.clip_id} | {cell(hit.source_path)} | {span} | {hit.score:.4f} | {cell(clip.best)} "
            f"| {clip.probs[clip.best]:.4f} |"
        )
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    # A pipe would end the cell; a newline, the row.
    return text.replace("|", "\\|").replace("\n", " ")
