from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.errors import ExpectationError
from watchkeeper.expect import LiteralKind, Op, parse


@pytest.mark.parametrize(
    ("text", "root", "path", "op", "kind", "value"),
    [
        ("status == 200", "status", (), Op.EQ, LiteralKind.NUMBER, 200),
        ("latency < 500ms", "latency", (), Op.LT, LiteralKind.DURATION, 0.5),
        ("latency<500ms", "latency", (), Op.LT, LiteralKind.DURATION, 0.5),
        ("cert.expires_in > 14d", "cert", ("expires_in",), Op.GT, LiteralKind.DURATION, 14 * 86400),
        ("json.items[0].id != 'x'", "json", ("items", 0, "id"), Op.NE, LiteralKind.TEXT, "x"),
        ('json["a.b"].c >= 1.5', "json", ("a.b", "c"), Op.GE, LiteralKind.NUMBER, 1.5),
        (
            "header.content-type contains 'json'",
            "header",
            ("content-type",),
            Op.CONTAINS,
            LiteralKind.TEXT,
            "json",
        ),
        ("body matches 'v\\d+'", "body", (), Op.MATCHES, LiteralKind.TEXT, "v\\d+"),
        ("body.size <= 1MiB", "body", ("size",), Op.LE, LiteralKind.SIZE, 1024 * 1024),
        ("json.ok == true", "json", ("ok",), Op.EQ, LiteralKind.BOOL, True),
        ("json.error == null", "json", ("error",), Op.EQ, LiteralKind.NULL, None),
        (
            "tcp.banner not contains 'error'",
            "tcp",
            ("banner",),
            Op.NOT_CONTAINS,
            LiteralKind.TEXT,
            "error",
        ),
        (
            'metric.http_requests_total{code="500"}.rate < 1',
            "metric",
            ('http_requests_total{code="500"}', "rate"),
            Op.LT,
            LiteralKind.NUMBER,
            1,
        ),
    ],
)
def test_it_parses_each_form(
    text: str, root: str, path: tuple[object, ...], op: Op, kind: LiteralKind, value: object
) -> None:
    expectation = parse(text)
    assert expectation.subject.root == root
    assert expectation.subject.path == path
    assert expectation.op is op
    assert expectation.literal.kind is kind
    assert (
        expectation.literal.value == pytest.approx(value)
        if isinstance(value, float)
        else (expectation.literal.value == value)
    )


def test_it_parses_lists_and_ranges() -> None:
    listed = parse("status in [200, 204, 301]")
    assert listed.literal.kind is LiteralKind.LIST
    assert [item.value for item in listed.literal.value] == [200, 204, 301]
    ranged = parse("status in 200..299")
    assert ranged.literal.kind is LiteralKind.RANGE
    low, high = ranged.literal.value
    assert (low.value, high.value) == (200, 299)
    negated = parse("status not in [500, 502]")
    assert negated.op is Op.NOT_IN


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("status = 200", "use '=='", 7),
        ("json.status == ok", "quoted", 15),
        ("status <", "missing value", 8),
        ("", "empty", 0),
        ("latency < 5xs", "unknown unit", 11),
        ("status == 200 300", "unexpected", 14),
        ("body contains 'abc", "unclosed string", 14),
        ("status in [1, 2", "unclosed list", 10),
        ("status in 300..200", "below", 15),
        ("json.a[x] == 1", "index", 7),
        ("status is 200", "unknown operator", 7),
        ("status not equals 3", "after 'not'", 11),
    ],
)
def test_every_error_says_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpectationError) as caught:
        parse(text)
    assert message in caught.value.message
    assert caught.value.position == column


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=80))
def test_no_input_crashes_the_parser(text: str) -> None:
    error = _error_of(text)
    if error is not None:
        assert 0 <= error.position <= len(text)
        assert error.message


_PIECES = st.sampled_from(
    [
        "status",
        "latency",
        "json",
        ".",
        "a",
        "[",
        "]",
        "0",
        "'",
        '"',
        "x",
        " ",
        "==",
        "<",
        ">=",
        "!=",
        "in",
        "not",
        "contains",
        "matches",
        "500ms",
        "1MiB",
        "14d",
        ",",
        "..",
        "{",
        "}",
        "true",
        "null",
        "-",
        "1.5",
        "\\",
        "header.x-y",
        "=",
        "1e999",
        "e",
        "E+",
        "9" * 400,
        "1e308",
        "body.size",
        "KiB",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_near_miss_expectations_fail_cleanly_with_a_position(text: str) -> None:
    error = _error_of(text)
    if error is not None:
        assert 0 <= error.position <= len(text)
    else:
        assert parse(text).text == text.strip()


def _error_of(text: str) -> ExpectationError | None:
    """Parse; any exception other than ExpectationError fails the test by propagating."""
    try:
        parse(text)
    except ExpectationError as exc:
        return exc
    return None


@pytest.mark.parametrize("text", ["body.size < 1e999KiB", "latency < 1e308d", "status < 1e999"])
def test_a_number_too_large_is_an_error_not_a_crash(text: str) -> None:
    with pytest.raises(ExpectationError, match="too large"):
        parse(text)
