"""The error text of a failed step, as `run`, `remove` and the ledger sensor print and record it."""

from __future__ import annotations

import re


def step_error_text(error: object) -> str:
    """The one line that says why a step failed: the innermost cause, without its exception class."""
    # A dg.Failure keeps its description in the message; the cause chain carries library errors.
    message = getattr(error, "message", str(error)).strip()
    cause = getattr(error, "cause", None)
    while cause is not None:
        message = getattr(cause, "message", str(cause)).strip()
        cause = getattr(cause, "cause", None)
    last = message.splitlines()[-1] if message else "unknown error"
    # "dagster._core.definitions.events.Failure: <what went wrong>" -> "<what went wrong>"
    return re.sub(r"^[\w.]+(Error|Failure|Exception): ", "", last)
