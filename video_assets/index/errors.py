"""Errors of the clip index. Each subclasses the built-in a caller would expect
and says what went wrong and where."""

from __future__ import annotations


class InvalidRowsError(ValueError):
    """Clip rows (or a staged table) do not fit the clip schema."""


class InvalidFilterError(ValueError):
    """A user `--where` string was rejected; `position` is the character offset of the problem."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text = text
        self.position = position
        self.problem = problem
        super().__init__(f"invalid filter at character {position}: {problem} (filter: {text!r})")


class InvalidSearchError(ValueError):
    """A search argument (k, query vector, excluded ids) is out of range."""


class ClipTableNotFoundError(LookupError):
    """The model's clip table does not exist yet (nothing was committed for that model)."""

    def __init__(self, model: str, table: str, uri: str, *, detail: str | None = None) -> None:
        self.model = model
        self.table = table
        super().__init__(
            f"no clip table {table!r} for model {model!r} in {uri}: "
            "materialize that model's clip_index for at least one video first" + (f" ({detail})" if detail else "")
        )


class UnknownClipError(KeyError):
    """A clip id is not in the model's table; the message names the table, its size and `hint`."""

    def __init__(
        self,
        model: str,
        clip_id: str,
        *,
        table: str | None = None,
        rows: int | None = None,
        uri: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.model = model
        self.clip_id = clip_id
        self.table, self.rows, self.uri, self.hint = table, rows, uri, hint
        where = ", ".join(
            part
            for part in (
                f"table {table}" + (f" in {uri}" if uri else "") if table else None,
                f"{rows} clips" if rows is not None else None,
            )
            if part
        )
        message = f"clip {clip_id!r} is not in the {model!r} index" + (f" ({where})" if where else "")
        # The whole message is args[0]: callers that print a KeyError's first argument say it all.
        super().__init__(message + (f"; {hint}" if hint else ""))

    def __str__(self) -> str:
        # KeyError would print the repr of its argument, in quotes.
        return str(self.args[0])

    def with_hint(self, hint: str) -> UnknownClipError:
        """The same error with advice for the caller's user (e.g. how the CLI lists clip ids)."""
        return UnknownClipError(self.model, self.clip_id, table=self.table, rows=self.rows, uri=self.uri, hint=hint)


class IndexIntegrityError(RuntimeError):
    """The table holds something it must not (e.g. two rows with one clip id)."""


class IndexCommitError(IndexIntegrityError):
    """A partition commit was refused, or its post-commit counts do not add up."""
