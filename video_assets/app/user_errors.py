"""Bad input and missing data as one line for the user: the CLI prints it, `browse` answers it as JSON."""

from __future__ import annotations

# What a command reports as the user's problem (bad input, missing weights, tables or files), not a crash.
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, OSError, LookupError)


def user_message(err: Exception) -> str:
    """The error's message; a KeyError's without the quotes str() adds; an unknown model named as such."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return unknown_model_message(err) or str(message)


def unknown_model_message(err: Exception) -> str | None:
    """For a missing clip table of a model that is not registered (a typo in --model): say so and list the
    registered ones, instead of advising to materialize a model that does not exist."""
    from video_assets.index.errors import ClipTableNotFoundError
    from video_assets.models.embedder_registry import registered

    if not isinstance(err, ClipTableNotFoundError):
        return None
    names = registered()
    if err.model in names:
        return None
    known = ", ".join(sorted(names))
    return f"unknown embedder {err.model!r} (no clip table {err.table!r} in the index); registered: {known}"
