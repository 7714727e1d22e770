"""Explaining a file's validation errors: pydantic's errors as problems a user can act on.

Each error becomes a :class:`Problem` at the line of the field that is wrong, saying
what is wrong in the YAML's terms: an unknown field with the closest allowed name
and the fields allowed there, a missing field (reported once, not again as missing
when it was misspelt), a key YAML read as a boolean or number, a value of the wrong
kind. Text from the file is quoted short (:func:`cut`, :func:`aito.org.yamlfiles.shown`),
so a message never echoes unbounded input.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic

from aito.errors import Problem
from aito.org import yamlfiles

KINDS = {list: "a list", str: "a single text value", int: "a number", float: "a number"}
"""How a YAML value of each Python type is named in messages."""


def problems_from_validation(
    path: Path, model: type[pydantic.BaseModel], exc: pydantic.ValidationError
) -> list[Problem]:
    errors = exc.errors(include_url=False)
    # A misspelt field is both unknown and missing; report it once, as the unknown one.
    misspelt: set[tuple[tuple[str | int, ...], str]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            suggestion = _suggestion(model, error["loc"])
            if suggestion is not None:
                misspelt.add((tuple(error["loc"][:-1]), suggestion))
    found = []
    for error in errors:
        location = [step for step in error["loc"] if step != "[key]"]
        if error["type"] == "missing" and (tuple(location[:-1]), location[-1]) in misspelt:
            continue
        found.append(_problem_for(path, model, location, error))
    return found


def _suggestion(model: type[pydantic.BaseModel], location: Sequence[str | int]) -> str | None:
    """The allowed field closest to the unknown one at ``location``, if one is close."""
    allowed = _allowed_fields(model, location[:-1])
    close = difflib.get_close_matches(str(location[-1]), allowed, n=1, cutoff=0.7)
    return close[0] if close else None


def _problem_for(
    path: Path,
    model: type[pydantic.BaseModel],
    location: Sequence[str | int],
    error: Any,
) -> Problem:
    dotted = _dotted(location)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = location[:-1]
        allowed = _allowed_fields(model, parent)
        where = f" in {_dotted(parent)}" if parent else ""
        suggestion = _suggestion(model, location)
        guess = f"; did you mean {suggestion!r}?" if suggestion else ""
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        message = f"unknown field {yamlfiles.shown(location[-1])}{where}{guess}{hint}"
        return Problem(path, yamlfiles.locate(path, location), message)
    if kind == "missing":
        parent = location[:-1]
        where = f" in {_dotted(parent)}" if parent else ""
        message = f"missing required field {location[-1]!r}{where}"
        return Problem(path, yamlfiles.locate(path, parent), message)
    shown = error.get("input")
    if kind == "invalid_key":
        # pydantic's location holds the key as a number (True is 1): use the key itself.
        parent = location[:-1]
        where = f" in {_dotted(parent)}" if parent else ""
        message = (
            f"key {yamlfiles.shown(shown)}{where} is a {_yaml_kind(shown)}, not text; quote it "
            "(YAML reads yes, no, on, off, true, false and numbers as other types)"
        )
        return Problem(path, yamlfiles.locate(path, [*parent, shown]), message)
    text = cut(str(error["msg"]).removeprefix("Value error, "))
    got = "" if isinstance(shown, dict | list) else f" (got {yamlfiles.shown(shown)})"
    if kind == "string_type" and isinstance(shown, bool):
        got += "; YAML reads yes, no, on, off, true and false as booleans: quote the value"
    prefix = f"{dotted}: " if dotted else ""
    return Problem(path, yamlfiles.locate(path, location), f"{prefix}{text}{got}")


def _dotted(location: Sequence[str | int]) -> str:
    """A field's path for a message; keys come from the file, so it is kept short."""
    return cut(".".join(str(step) for step in location), 120)


def cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _yaml_kind(value: object) -> str:
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else KINDS.get(type(value), "value").split()[-1]


def _allowed_fields(model: type[pydantic.BaseModel], location: Sequence[str | int]) -> list[str]:
    """Field names of the model found at ``location`` inside ``model``, best effort."""
    current: Any = model
    for step in location:
        current = _step_type(current, step)
        if current is None:
            return []
    current = _unwrap(current)  # e.g. `loop: Loop | None`
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _step_type(annotation: Any, step: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        field = annotation.model_fields.get(str(step))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(options[0]) if len(options) == 1 else annotation
    return annotation
