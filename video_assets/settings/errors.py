"""Settings that cannot work, said in one line per bad key.

`SettingsError` is what `Settings.load` raises: each line names the source (the
settings file) and the key path, e.g.
``data/settings.json: frames.target_fps[0]: must be finite, got nan``.
Pydantic's own wording ("Input should be ...") is turned into ours, and an
unknown key lists the keys that are allowed in its place.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


class SettingsError(ValueError):
    """Settings refused when they load. `problems` are the lines after the source."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def read_settings_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; malformed JSON is refused with its line and column.

    A key written twice in one object is refused too: json.loads would keep the last
    one silently, and a setting accepted and then ignored is a bug.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(source, ["no such settings file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(source, [f"cannot read the settings file ({error})"]) from error
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as error:
        raise SettingsError(
            source, [f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"]
        ) from error
    except _DuplicateKeyError as error:
        raise SettingsError(source, [str(error)]) from None
    if not isinstance(data, dict):
        raise SettingsError(source, [f"must hold a JSON object ({{...}}), got {type(data).__name__}"])
    return data


class _DuplicateKeyError(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"key {key!r} is written twice in the same object; keep one")
        result[key] = value
    return result


def describe_validation_error(error: ValidationError, source: str, model: type[BaseModel]) -> SettingsError:
    """One line per pydantic error: ``<key path>: <what is wrong>, got <value>``."""
    return SettingsError(source, [_problem(item, model) for item in error.errors()])


def key_path(loc: Sequence[str | int]) -> str:
    """('frames', 'target_fps', 0) -> 'frames.target_fps[0]'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _problem(item: Any, model: type[BaseModel]) -> str:
    loc = tuple(item["loc"])
    kind = item["type"]
    value = item.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        allowed = f" (allowed here: {', '.join(known)})" if known else ""
        return f"{key_path(loc)}: unknown key{allowed}"
    if kind == "value_error":
        # Our own validators: their message already names the values.
        message = str(item["msg"]).removeprefix("Value error, ")
        return f"{key_path(loc)}: {message}" if loc else message
    if kind == "finite_number":
        message = "must be finite"
    else:
        message = str(item["msg"]).replace("Input should be", "must be", 1)
    return f"{key_path(loc)}: {message}, got {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # nan, inf, 100000.0
    return json.dumps(value) if isinstance(value, (list, tuple, str, int, bool)) else repr(value)


def _known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The field names of the settings object at `loc` (walking models, dicts and tuples)."""
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(annotation.model_fields)
    return []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0]
    return None


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
