"""Type-check a parsed expectation against the subjects a check kind observes."""

from __future__ import annotations

import difflib

from watchkeeper.errors import ExpectationError
from watchkeeper.expect.ast import ORDERING, Expectation, Literal, LiteralKind, Op
from watchkeeper.expect.parser import parse
from watchkeeper.expect.regex import RegexError, compile_regex
from watchkeeper.expect.subjects import SubjectTable, ValueType, lookup, names

_TEXT_OPS = frozenset(
    {Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.CONTAINS, Op.NOT_CONTAINS, Op.MATCHES, Op.NOT_MATCHES}
)
_SCALAR_FOR = {
    ValueType.NUMBER: {LiteralKind.NUMBER},
    ValueType.DURATION: {LiteralKind.DURATION},
    ValueType.SIZE: {LiteralKind.SIZE, LiteralKind.NUMBER},
    ValueType.TEXT: {LiteralKind.TEXT},
    ValueType.BOOL: {LiteralKind.BOOL},
}
_EXAMPLE = {
    ValueType.NUMBER: "200",
    ValueType.DURATION: "500ms",
    ValueType.SIZE: "1MiB",
    ValueType.TEXT: "'ok'",
    ValueType.BOOL: "true",
}


def compile_expectation(text: str, table: SubjectTable, *, soft: bool = False) -> Expectation:
    """Parse and type-check. Raises ExpectationError with the column of the fault."""
    expectation = parse(text)
    subject = expectation.subject
    first = subject.path[0] if subject.path else None
    try:
        declared, value_type, takes_path = lookup(table, subject.root, first)
    except KeyError:
        known = names(table)
        close = difflib.get_close_matches(subject.text, known, n=1, cutoff=0.6)
        hint = (
            f" (did you mean '{close[0]}'?)"
            if close
            else f"; this kind observes: {', '.join(known)}"
        )
        raise ExpectationError(
            f"unknown subject '{subject.text}'{hint}", text, subject.position
        ) from None
    if takes_path and not subject.path:
        raise ExpectationError(
            f"'{subject.root}' needs a path, e.g. {subject.root}.name", text, subject.position
        )
    if not takes_path and len(subject.path) > (0 if declared == subject.root else 1):
        raise ExpectationError(
            f"'{declared}' takes no further path", text, subject.position + len(declared)
        )
    _check_types(expectation, value_type, text)
    if expectation.op in (Op.MATCHES, Op.NOT_MATCHES):
        try:
            compile_regex(expectation.literal.value)
        except RegexError as exc:
            raise ExpectationError(
                f"bad regular expression: {exc.message}",
                text,
                expectation.literal.position + 1 + exc.offset,
            ) from None
    if soft:
        return Expectation(subject, expectation.op, expectation.literal, expectation.text, True)
    return expectation


def _check_types(expectation: Expectation, value_type: ValueType, text: str) -> None:
    op, literal, subject = expectation.op, expectation.literal, expectation.subject
    where = literal.position

    def fail(message: str, position: int = where) -> ExpectationError:
        return ExpectationError(message, text, position)

    if op in (Op.MATCHES, Op.NOT_MATCHES):
        if literal.kind is not LiteralKind.TEXT:
            raise fail("'matches' needs a quoted regular expression, e.g. 'v\\d+'")
        if value_type not in (ValueType.TEXT, ValueType.ANY):
            raise fail(f"'{subject.text}' is a {value_type}: 'matches' applies to text")
        return
    if op in (Op.IN, Op.NOT_IN):
        if literal.kind not in (LiteralKind.LIST, LiteralKind.RANGE):
            raise fail(f"'{op}' needs a list like [200, 204] or a range like 200..299")
        items = _members(literal)
        for item in items:
            _check_scalar(value_type, item, subject.text, text)
        return
    if value_type is ValueType.SET:
        if op in (Op.CONTAINS, Op.NOT_CONTAINS):
            if literal.kind is not LiteralKind.TEXT:
                raise fail(f"'{subject.text}' holds text: write e.g. '192.0.2.1'")
            return
        if op in (Op.EQ, Op.NE) and literal.kind is LiteralKind.LIST:
            for item in literal.value:
                if item.kind is not LiteralKind.TEXT:
                    raise fail(f"'{subject.text}' holds text: quote each item", item.position)
            return
        raise fail(f"'{subject.text}' is a list: use contains, == [..] or != [..]")
    if op in (Op.CONTAINS, Op.NOT_CONTAINS):
        if value_type not in (ValueType.TEXT, ValueType.ANY):
            raise fail(f"'{subject.text}' is a {value_type}: 'contains' applies to text and lists")
        if value_type is ValueType.TEXT and literal.kind is not LiteralKind.TEXT:
            raise fail("'contains' on text needs quoted text, e.g. 'ok'")
        return
    if op in ORDERING:
        if value_type in (ValueType.TEXT, ValueType.BOOL):
            raise fail(
                f"'{subject.text}' is {value_type}: use ==, !=, contains or matches",
                subject.position,
            )
        if literal.kind not in (
            LiteralKind.NUMBER,
            LiteralKind.DURATION,
            LiteralKind.SIZE,
        ):
            raise fail(f"'{op}' needs a number, duration or size")
    _check_scalar(value_type, literal, subject.text, text)


def _members(literal: Literal) -> list[Literal]:
    if literal.kind is LiteralKind.RANGE:
        return list(literal.value)
    return list(literal.value)


def _check_scalar(value_type: ValueType, literal: Literal, subject: str, text: str) -> None:
    if value_type is ValueType.ANY:
        if literal.kind is LiteralKind.LIST and not all(
            i.kind in (LiteralKind.NUMBER, LiteralKind.TEXT, LiteralKind.BOOL, LiteralKind.NULL)
            or i.kind is LiteralKind.LIST
            for i in literal.value
        ):
            raise ExpectationError(
                "JSON lists hold numbers, text, true/false or null", text, literal.position
            )
        return
    allowed = _SCALAR_FOR.get(value_type, set())
    if literal.kind in allowed:
        return
    if value_type is ValueType.DURATION and literal.kind is LiteralKind.NUMBER:
        raise ExpectationError(
            f"'{subject}' is a duration: add a unit, e.g. {literal.text}ms", text, literal.position
        )
    example = _EXAMPLE.get(value_type, "a value")
    raise ExpectationError(
        f"'{subject}' is a {value_type}: compare it with e.g. {example}", text, literal.position
    )
