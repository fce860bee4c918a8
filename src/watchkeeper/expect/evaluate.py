"""Evaluate a compiled expectation on an Observation; a failure is a one-line message that
shows what was observed: ``latency 812ms, expected < 500ms``."""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Collection
from typing import Any

from watchkeeper.expect.ast import ORDERING, PHASE_ROOTS, Expectation, Literal, LiteralKind, Op
from watchkeeper.expect.regex import compile_regex
from watchkeeper.model import Observation
from watchkeeper.printable import visible
from watchkeeper.redact import mask_url, redact
from watchkeeper.units import format_duration, format_size, plural

_NEGATIVE = frozenset({Op.NE, Op.NOT_IN, Op.NOT_CONTAINS, Op.NOT_MATCHES})
_MISSING = object()


class _Absent:
    """Why a subject has no value in this Observation."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def evaluate(
    expectation: Expectation, observation: Observation, secrets: Collection[str] = ()
) -> str | None:
    """None when the expectation holds, else the failure line (with ``secrets`` masked)."""
    passes = expectation.passes
    if passes is not None and passes(observation):
        return None
    subject = expectation.subject
    value = _resolve(expectation, observation)
    literal = expectation.literal
    op = expectation.op
    if isinstance(value, _Absent):
        if op in _NEGATIVE:
            return None
        wanted = f"expected {op} {_hide(literal.text, secrets)}"
        return _hide(f"{subject.text} {value.why}, {wanted}", secrets)
    verdict = _compare(op, value, literal, set_semantics=isinstance(value, frozenset))
    if verdict is True:
        return None
    # the failure line is written only for a failure: most checks pass, every check evaluates
    wanted = f"expected {op} {_hide(literal.text, secrets)}"
    observed = _show(value, literal, secrets)
    if isinstance(verdict, str):
        return _hide(f"{subject.text} {observed} ({verdict}), {wanted}", secrets)
    return _hide(f"{subject.text} {observed}, {wanted}", secrets)


def _hide(text: str, secrets: Collection[str]) -> str:
    """``text`` without the config's secrets, nor secrets in a URL (``?token=***``)."""
    return mask_url(redact(text, secrets))


# -- resolving subjects -----------------------------------------------------------------------
def _resolve(expectation: Expectation, observation: Observation) -> Any:
    subject = expectation.subject
    root, path = subject.root, subject.path
    if not path and root in PHASE_ROOTS:
        seconds = observation.phases.get(PHASE_ROOTS[root])
        return _Absent("not measured") if seconds is None else _Duration(seconds)
    if root == "body" and not path:
        text = _body_text(observation)
        return _Absent("not received") if text is None else text
    if root == "json":
        return _json_path(observation, path)
    if root == "header":
        headers: dict[str, str] | None = observation.facts.get("headers")
        if headers is None:
            return _Absent("not received")
        name = str(path[0]).lower()
        return headers.get(name, _Absent("absent"))
    key = subject.key
    value = observation.facts.get(key, _MISSING)
    if value is _MISSING:
        return _Absent("not observed")
    rest = path[1:] if key != root else path
    for part in rest:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _Absent(f"has no '{part}'")
    return value


class _Duration(float):
    """A float of seconds that prints as a duration."""


def _body_text(observation: Observation) -> str | None:
    cached = observation.cache.get("body_text", _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[no-any-return]
    body: bytes | None = observation.facts.get("body")
    text = None
    if body is not None:
        charset = observation.facts.get("charset") or _charset(observation) or "utf-8"
        try:
            codec = codecs.lookup(charset)
            if not getattr(codec, "_is_text_encoding", True):  # e.g. charset=base64
                raise LookupError(charset)
            text = body.decode(codec.name, errors="replace")
        except (LookupError, UnicodeError, ValueError):  # idna and friends raise anyway
            text = body.decode("utf-8", errors="replace")
    observation.cache["body_text"] = text
    return text


_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", re.IGNORECASE)


def _charset(observation: Observation) -> str | None:
    headers = observation.facts.get("headers") or {}
    match = _CHARSET.search(headers.get("content-type", ""))
    return match.group(1) if match else None


def _json_document(observation: Observation) -> Any:
    cached = observation.cache.get("json", _MISSING)
    if cached is not _MISSING:
        return cached
    text = _body_text(observation)
    document: Any
    if text is None:
        document = _Absent("not received (no body)")
    else:
        try:
            document = json.loads(text)
        except RecursionError:
            document = _Absent("unreadable: the JSON body is nested too deeply")
        except ValueError as exc:
            reason = getattr(exc, "msg", str(exc))
            if isinstance(exc, json.JSONDecodeError):
                reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            document = _Absent(f"unreadable: body is not valid JSON ({reason})")
    observation.cache["json"] = document
    return document


def _json_path(observation: Observation, path: tuple[str | int, ...]) -> Any:
    node = _json_document(observation)
    if isinstance(node, _Absent):
        return node
    walked = "json"
    for part in path:
        if isinstance(part, int) or (isinstance(node, list) and part.lstrip("-").isdigit()):
            # json.items[0] and json.items.0 alike; the path goes on from the item
            if not isinstance(node, list):
                return _Absent(f"missing: {walked} is not a list")
            index = int(part)
            if not -len(node) <= index < len(node):
                return _Absent(f"missing: {walked} has {plural(len(node), 'item')}")
            node = node[index]
            walked += f"[{part}]" if isinstance(part, int) else f".{part}"
        else:
            if not isinstance(node, dict):
                return _Absent(f"missing: {walked} is not an object")
            if part not in node:
                return _Absent(f"missing: no key '{part}'")
            node = node[part]
            walked += f".{part}"
    return node


# -- comparing --------------------------------------------------------------------------------
def _plain(literal: Literal) -> Any:
    if literal.kind is LiteralKind.LIST:
        return [_plain(item) for item in literal.value]
    return literal.value


def _as_float(value: Any) -> float:
    """A float for any number, however large (a 400-digit JSON integer overflows float())."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _norm_name(value: Any) -> Any:
    return value.lower().rstrip(".") if isinstance(value, str) else value


def _equal(value: Any, literal: Literal, set_semantics: bool) -> bool | str:
    if set_semantics:
        if literal.kind is LiteralKind.LIST:
            return {_norm_name(v) for v in value} == {_norm_name(i.value) for i in literal.value}
        return False
    expected = _plain(literal)
    if literal.kind in (LiteralKind.NUMBER, LiteralKind.DURATION, LiteralKind.SIZE):
        if not _is_number(value):
            return "not a number"
        return math.isclose(_as_float(value), _as_float(expected), rel_tol=1e-9, abs_tol=1e-12)
    if literal.kind is LiteralKind.BOOL and not isinstance(value, bool):
        return "not true/false"
    if literal.kind is LiteralKind.TEXT and not isinstance(value, str):
        return "not text"
    if literal.kind is LiteralKind.NULL:
        return value is None
    return bool(value == expected)


def _compare(op: Op, value: Any, literal: Literal, *, set_semantics: bool) -> bool | str:
    if op is Op.EQ:
        return _equal(value, literal, set_semantics)
    if op is Op.NE:
        verdict = _equal(value, literal, set_semantics)
        return verdict is not True
    if op in ORDERING:
        if not _is_number(value):
            return "not a number"
        bound = literal.value
        if op is Op.LT:
            return bool(value < bound)
        if op is Op.LE:
            return bool(value <= bound)
        if op is Op.GT:
            return bool(value > bound)
        return bool(value >= bound)
    if op in (Op.IN, Op.NOT_IN):
        inside = _inside(value, literal, set_semantics)
        if isinstance(inside, str):
            return inside if op is Op.IN else True
        return inside if op is Op.IN else not inside
    if op in (Op.CONTAINS, Op.NOT_CONTAINS):
        found = _contains(value, literal, set_semantics)
        if isinstance(found, str):
            return found if op is Op.CONTAINS else True
        return found if op is Op.CONTAINS else not found
    if op in (Op.MATCHES, Op.NOT_MATCHES):
        if not isinstance(value, str):
            return "not text" if op is Op.MATCHES else True
        hit = compile_regex(literal.value).search(value)  # RE2: linear in the text
        return hit if op is Op.MATCHES else not hit
    return False  # pragma: no cover - every Op is handled above


def _inside(value: Any, literal: Literal, set_semantics: bool) -> bool | str:
    if literal.kind is LiteralKind.RANGE:
        if not _is_number(value):
            return "not a number"
        low, high = literal.value
        return bool(low.value <= value <= high.value)  # exact for any int, float mix
    return any(_equal(value, item, set_semantics) is True for item in literal.value)


def _contains(value: Any, literal: Literal, set_semantics: bool) -> bool | str:
    needle = _plain(literal)
    if set_semantics:
        return _norm_name(needle) in {_norm_name(v) for v in value}
    if isinstance(value, str):
        if not isinstance(needle, str):
            return "text"
        return needle in value
    if isinstance(value, list):
        return any(_equal(item, literal, False) is True for item in value)
    if isinstance(value, dict):
        return isinstance(needle, str) and needle in value  # JSON keys are text
    return "not text or a list"


# -- showing what was observed ----------------------------------------------------------------
def _show(value: Any, literal: Literal, secrets: Collection[str]) -> str:
    """The observed value, short; secrets are masked before anything is cut or quoted."""
    if isinstance(value, _Duration):
        return format_duration(value)
    if literal.kind is LiteralKind.SIZE and _is_number(value):
        return format_size(_as_float(value))
    if isinstance(value, frozenset):
        return _shorten(_hide("[" + ", ".join(sorted(map(str, value))) + "]", secrets))
    if isinstance(value, str):
        return _quote(_hide(value, secrets))
    if _is_number(value) and literal.kind is LiteralKind.DURATION:
        return format_duration(_as_float(value))
    try:
        text = json.dumps(value, default=str)
    except (RecursionError, ValueError):
        text = "<a value nested too deeply to show>"
    return _shorten(_hide(text, secrets))


def _quote(text: str, limit: int = 60) -> str:
    flat = visible(" ".join(text.split()))
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return "'" + flat.replace("'", "\\'") + "'"


def _shorten(text: str, limit: int = 80) -> str:
    text = visible(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
