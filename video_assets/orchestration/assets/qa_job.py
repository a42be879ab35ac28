"""The `ask` job: multiple-choice QA from the UI (thin: calls curation/qa.py).

Launched from the launchpad with the question, the choices and optionally the model,
k, the scale, a template and a filter as run config; the run's output carries the
ranked answers and the clips they were read from as Markdown tables (and logs them),
the same answers `video-assets ask` prints. It writes nothing and materializes no
asset: a question is not data of the collection.
"""

# No `from __future__ import annotations`: Dagster resolves Config types from real annotations.

import dagster as dg
from pydantic import Field

from video_assets.curation.qa import (
    DEFAULT_TEMPLATE,
    MAX_CHOICES,
    MAX_K,
    answers_markdown,
    ask,
)
from video_assets.settings.config import Settings

ASK_JOB = "ask"


class AskConfig(dg.Config):
    question: str = Field(description='e.g. "what is the man holding?"')
    choices: list[str] = Field(description=f'2 to {MAX_CHOICES} candidate answers, e.g. ["a cup", "a phone"]')
    # None = the first enabled model with a text tower.
    model: str | None = None
    k: int = Field(5, ge=1, le=MAX_K, description="clips the question retrieves and the answers are read from")
    # "reference" (softmax of 100*cosine) or "model" (its logit scale); None = the model's text_match_scale.
    scale: str | None = None
    template: str = Field(DEFAULT_TEMPLATE, description='how a choice is embedded, e.g. "a man holding {answer}"')
    where: str | None = Field(None, description="restrict the clips retrieved (the search's --where)")


def build_ask_job(settings: Settings) -> dg.JobDefinition:
    """The job, answering from the index of `settings` (those the definitions were loaded with)."""

    @dg.op(
        name="ask_question",
        out=dg.Out(dg.Nothing),
        description="Rank the choices over the clips the question retrieves",
    )
    def ask_op(context: dg.OpExecutionContext, config: AskConfig):  # yields the output with its metadata
        if config.scale not in (None, "reference", "model"):
            raise dg.Failure(description=f"scale must be 'reference' or 'model', got {config.scale!r}")
        try:
            result = ask(
                settings,
                config.question,
                list(config.choices),
                model=config.model,
                k=config.k,
                scale=config.scale,  # type: ignore[arg-type]  # checked above
                template=config.template,
                where=config.where,
            )
        except (ValueError, LookupError) as err:  # bad config or an unknown model/table: one line in the UI
            raise dg.Failure(description=str(err)) from err
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
        description="Multiple-choice video QA over the clip index: set question and choices "
        "in the launchpad; the answers are in the run's output metadata.",
    )
    def ask_job():
        ask_op()

    return ask_job
