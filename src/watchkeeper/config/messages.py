"""One-line messages for config problems: pydantic errors in plain words, and the closest
valid name for a typo."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel


def closest(word: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key(key: str, candidates: list[str]) -> str:
    close = closest(key, candidates)
    hint = f" (did you mean '{close}'?)" if close else f"; valid keys: {', '.join(candidates)}"
    return f"unknown key '{key}'{hint}"


def unknown(what: str, name: str, known: list[str]) -> str:
    close = closest(name, known)
    return f"{what} '{name}' is not defined" + (f" (did you mean '{close}'?)" if close else "")


def _field_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_TYPE_WORDS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def describe(error: Any, model: type[BaseModel], extra_keys: tuple[str, ...], data: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    field = _field_path(loc)
    if kind == "extra_forbidden":
        # the kind keys are siblings of the monitor's own keys, not of a nested mapping's
        nested = len(loc) > 1
        candidates = list(_model_keys(model, loc[:-1])) + ([] if nested else list(extra_keys))
        return unknown_key(str(loc[-1]), candidates)
    if kind == "missing":
        return f"missing required key '{field}'"
    if kind in _TYPE_WORDS:
        got = error.get("input")
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        return f"{field}: expected {_TYPE_WORDS[kind]}, got {shown}"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{field}: {message}" if field else message


def _model_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        nested = [
            a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not nested:
            return []
        current = nested[0]
    return list(getattr(current, "model_fields", {}))
