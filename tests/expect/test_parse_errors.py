"""What the parser says of text that is no expectation, and where (0-based column), and what
it makes of the forms that are: quoted keys, escapes, signs, units, ranges, nesting."""

from __future__ import annotations

import pytest

from watchkeeper.errors import ExpectationError
from watchkeeper.expect.ast import LiteralKind
from watchkeeper.expect.parser import parse

LONGEST = 4096
"""Characters an expectation may have."""


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        (None, 'an expectation must be text, e.g. "status == 200"', 0),
        ("", "empty expectation: write e.g. status == 200", 0),
        ("   ", "empty expectation: write e.g. status == 200", 3),
        ("json{a == 1", "unexpected '{' in subject", 4),
        ("json[a] == 1", 'expected an index like [0] or a quoted key like ["a.b"]', 5),
        ("json[0 == 1", "expected ']'", 7),
        ("json[0", "unclosed '['", 6),
        ("status == 200 x", "unexpected 'x' after the value", 14),
        ("status == 200 " + "y" * 30, f"unexpected '{'y' * 20}' after the value", 14),
        ("status == [1, 2", "unclosed list: add ']'", 10),
        ("status == [1 2]", "expected ',' or ']' in the list", 13),
        ("status == [1,", "unclosed list: add ']'", 10),
        ("status == ", "missing value after '=='", 10),
        ("status in 1..", "expected the upper end of the range", 13),
        ("status in -5..x", "expected the upper end of the range", 14),
        ("latency in 1s..2ms", "range upper end below its lower end", 15),
        ("status in 5..1", "range upper end below its lower end", 13),
        ("latency in 1s..2KiB", "both ends of a range need the same unit", 15),
        ("status in 1..2s", "both ends of a range need the same unit", 13),
        ("status == tru", "text must be quoted: write 'tru'", 10),
        ("status == TRUE", "text must be quoted: write 'TRUE'", 10),
        ("status == 1e999999", "number too large", 10),
        ("status = 200", "use '==' to compare, not '='", 7),
        ("status not 200", "expected 'in', 'contains' or 'matches' after 'not'", 11),
        ("status", "missing operator: one of == != < <= > >= in contains matches", 6),
        ("status ?? 1", "expected an operator: one of == != < <= > >= in contains matches", 7),
        ("json.a'b == 1", 'quote inside a path key: use json["key"] for odd keys', 6),
        ("json. == 1", "empty path element after '.'", 5),
        ("json.a. == 1", "empty path element after '.'", 7),
        ("status == 'abc", "unclosed string: add the closing '", 10),
        ("status == 'a\\", "unclosed string: add the closing '", 10),
        ("== 200", "expected a subject such as status, latency, body or json.<path>", 0),
        ("status == -x", "unexpected '-' where a value was expected", 10),
        ("s == " + "1" * (LONGEST - 4), f"expectation longer than {LONGEST} characters", LONGEST),
    ],
)
def test_each_fault_is_named_at_its_column(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpectationError) as caught:
        parse(text)  # type: ignore[arg-type]
    assert (caught.value.message, caught.value.position) == (message, column)


@pytest.mark.parametrize(
    ("text", "kind", "value", "path"),
    [
        ("json['a.b'] == 1", LiteralKind.NUMBER, 1, ("a.b",)),
        ('json["a"].b == 1', LiteralKind.NUMBER, 1, ("a", "b")),
        ("json[-1] == 1", LiteralKind.NUMBER, 1, (-1,)),
        ("json[ 0 ] == 1", LiteralKind.NUMBER, 1, (0,)),
        ("json.a-b == 1", LiteralKind.NUMBER, 1, ("a-b",)),
        ("json.a_b.c-d == 1", LiteralKind.NUMBER, 1, ("a_b", "c-d")),
        ("json.a == 'a\\'b'", LiteralKind.TEXT, "a'b", ("a",)),
        ('json.a == "x"', LiteralKind.TEXT, "x", ("a",)),
        ("json.a == 'a\\\\b'", LiteralKind.TEXT, "a\\b", ("a",)),
        ("json.a == true", LiteralKind.BOOL, True, ("a",)),
        ("json.a == false", LiteralKind.BOOL, False, ("a",)),
        ("json.a == null", LiteralKind.NULL, None, ("a",)),
        ("json.a == -5", LiteralKind.NUMBER, -5, ("a",)),
        ("json.a == 1.5", LiteralKind.NUMBER, 1.5, ("a",)),
        ("json.a == 1KiB", LiteralKind.SIZE, 1024, ("a",)),
        ("json.a == 2KB", LiteralKind.SIZE, 2000, ("a",)),
        ("json.a < 1.5s", LiteralKind.DURATION, 1.5, ("a",)),
        ("json.a < 250ms", LiteralKind.DURATION, 0.25, ("a",)),
        ("json.a == 10000000000000000000000000", LiteralKind.NUMBER, 10**25, ("a",)),
    ],
)
def test_each_form_of_value_and_path(
    text: str, kind: LiteralKind, value: object, path: tuple
) -> None:  # type: ignore[type-arg]
    expectation = parse(text)
    assert expectation.literal.kind is kind and expectation.literal.value == value
    assert type(expectation.literal.value) is type(value)
    assert expectation.subject.path == path and expectation.text == text


def test_a_literal_keeps_its_text_and_column() -> None:
    expectation = parse("status in  [200, 204]")
    literal = expectation.literal
    assert (literal.kind, literal.text, literal.position) == (LiteralKind.LIST, "[200, 204]", 11)
    assert [(item.value, item.text, item.position) for item in literal.value] == [
        (200, "200", 12),
        (204, "204", 17),
    ]
    ranged = parse("status in -5..-1").literal
    assert ranged.kind is LiteralKind.RANGE and ranged.text == "-5..-1" and ranged.position == 10
    low, high = ranged.value
    assert (low.value, high.value) == (-5, -1)
    assert parse("status in 5..5").literal.kind is LiteralKind.RANGE, "a one-value range"


def test_lists_nest_nine_deep_and_no_deeper() -> None:
    assert parse("json.a == " + "[" * 9 + "]" * 9).literal.kind is LiteralKind.LIST
    with pytest.raises(ExpectationError) as caught:
        parse("json.a == " + "[" * 10 + "]" * 10)
    assert (caught.value.message, caught.value.position) == ("lists nested too deeply", 19)
