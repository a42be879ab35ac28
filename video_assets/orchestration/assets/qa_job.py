"""The `ask` job: multiple-choice QA from the UI (thin: calls curation/qa.py).

Launched from the launchpad with the question, the choices and optionally the model,
k, the scale, a template and a filter as run config; the run's output carries the
ranked answers and the clips they were read from as Markdown tables (and logs them),
the same answers `video-assets ask` prints. It writes nothing and materializes no
asset: a question is not data of the collection.
"""

# No `from __future__ import annotations`: Dagster resolves Config types from real annotations.

from enum import Enum

import dagster as dg
from pydantic import Field

from video_assets.curation.qa import (
    DEFAULT_TEMPLATE,
    MAX_CHOICES,
    MAX_K,
    answers_markdown,
    ask,
    text_models,
)
from video_assets.models.embedder_registry import get
from video_assets.settings.config import Settings

ASK_JOB = "ask"


class AnswerScale(Enum):
    """The launchpad's choice of scale (an enum: it checks the value before the run starts)."""

    reference = "reference"
    model = "model"


class AskConfig(dg.Config):
    """What the launchpad asks for: every field is described there, and the scale is a choice the
    launchpad checks before the run starts."""

    question: str = Field(description='The question about the clips, e.g. "what is the man holding?"')
    choices: list[str] = Field(description=f'2 to {MAX_CHOICES} candidate answers, e.g. ["a cup", "a phone"]')
    model: str | None = Field(
        None, description="An enabled model with a text tower whose index answers; empty: the first such model."
    )
    k: int = Field(
        5, ge=1, le=MAX_K, description="How many clips the question retrieves; the answers are read from them."
    )
    scale: AnswerScale | None = Field(
        None,
        description='How similarities become probabilities: "reference" (softmax of 100 x cosine) or "model" '
        "(its learned logit scale); empty: the model's text_match_scale setting.",
    )
    template: str = Field(DEFAULT_TEMPLATE, description='How a choice is embedded, e.g. "a man holding {answer}".')
    where: str | None = Field(
        None, description='A SQL filter on the index\'s columns restricting the clips retrieved, e.g. "duration_s > 2".'
    )


def text_model_problem(settings: Settings, model: str | None) -> str | None:
    """Why the ask job cannot answer with `model` (None: the first enabled model with a text tower), in
    the launchpad's terms; None when it can. Checked before anything loads, so a wrong config fails at once."""
    if model is None:
        if text_models(settings):
            return None
        return (
            "ask needs a model with a text tower (it embeds the question and the choices as text), and none of the "
            "enabled models has one: set the run config's model, or enable "
            "such a model (e.g. internvideo2) in the settings this code location loads and index the videos with it"
        )
    try:
        has_text = get(model).spec.has_text
    except LookupError:
        has_text = None
    if has_text:
        return None
    offer = ", ".join(text_models(settings)) or "none is enabled"
    what = "is not a registered model" if has_text is None else "has no text tower"
    return f"model {model!r} {what}: set the run config's model to one with a text tower ({offer}), or leave it empty"


def build_ask_job(settings: Settings) -> dg.JobDefinition:
    """The job, answering from the index of `settings` (those the definitions were loaded with)."""

    @dg.op(
        name="ask_question",
        out=dg.Out(dg.Nothing),
        description="Rank the choices over the clips the question retrieves",
    )
    def ask_op(context: dg.OpExecutionContext, config: AskConfig):  # yields the output with its metadata
        problem = text_model_problem(settings, config.model)
        if problem:  # before a model loads: a wrong config fails in a second, in one line
            raise dg.Failure(description=problem, allow_retries=False)
        try:
            result = ask(
                settings,
                config.question,
                list(config.choices),
                model=config.model,
                k=config.k,
                scale=config.scale.value if config.scale else None,
                template=config.template,
                where=config.where,
            )
        except (ValueError, LookupError) as err:  # bad config or an unknown model/table: one line in the UI
            raise dg.Failure(description=str(err), allow_retries=False) from None
        table = answers_markdown(result)
        context.log.info(f"{config.question!r} ({result.model}):\n{table}")
        best = result.answers[0] if result.answers else None
        yield dg.Output(
            None,
            metadata={
                "answers": dg.MetadataValue.md(table),
                "best_answer": best.answer if best else "",
                "best_probability": best.prob if best else 0.0,
                "model": result.model,
                "scale": result.scale,
                "scale_source": result.scale_source,
                "clips": len(result.clips),
            },
        )

    @dg.job(
        name=ASK_JOB,
        # Its own (config-free) resources: the Definitions' pipeline resources are not bound to it, so
        # its launchpad holds the question's config alone, not their settings and docstrings.
        resource_defs={"io_manager": dg.mem_io_manager},
        description="Multiple-choice video QA over the clip index: set question and choices "
        "in the launchpad; the answers are in the run's output metadata.",
    )
    def ask_job():
        ask_op()

    return ask_job
