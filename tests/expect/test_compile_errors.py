"""What ``wk validate`` says of an expectation that cannot work, and where: each type rule's
exact message and the 0-based column it points at."""

from __future__ import annotations

import pytest

from watchkeeper.errors import ExpectationError
from watchkeeper.expect import ValueType, compile_expectation

TABLE = {
    "status": ValueType.NUMBER,
    "latency": ValueType.DURATION,
    "body": ValueType.TEXT,
    "body.size": ValueType.SIZE,
    "json.*": ValueType.ANY,
    "header.*": ValueType.TEXT,
    "dns.answers": ValueType.SET,
    "tls.ok": ValueType.BOOL,
}


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("body matches 5", "'matches' needs a quoted regular expression, e.g. 'v\\d+'", 13),
        ("status matches 'x'", "'status' is a number: 'matches' applies to text", 15),
        ("status in 5", "'in' needs a list like [200, 204] or a range like 200..299", 10),
        ("status in [1, 'x']", "'status' is a number: compare it with e.g. 200", 14),
        ("dns.answers contains 5", "'dns.answers' holds text: write e.g. '192.0.2.1'", 21),
        ("dns.answers == ['a', 5]", "'dns.answers' holds text: quote each item", 21),
        ("dns.answers < 3", "'dns.answers' is a list: use contains, == [..] or != [..]", 14),
        ("dns.answers == 'x'", "'dns.answers' is a list: use contains, == [..] or != [..]", 15),
        ("status contains 'x'", "'status' is a number: 'contains' applies to text and lists", 16),
        ("body contains 5", "'contains' on text needs quoted text, e.g. 'ok'", 14),
        ("body < 5", "'body' is text: use ==, !=, contains or matches", 0),
        ("tls.ok > 1", "'tls.ok' is bool: use ==, !=, contains or matches", 0),
        ("status < 'x'", "'<' needs a number, duration or size", 9),
        ("status == 'x'", "'status' is a number: compare it with e.g. 200", 10),
        ("latency < 5", "'latency' is a duration: add a unit, e.g. 5ms", 10),
        ("latency == 'x'", "'latency' is a duration: compare it with e.g. 500ms", 11),
        ("body.size == 'x'", "'body.size' is a size: compare it with e.g. 1MiB", 13),
        ("tls.ok == 1", "'tls.ok' is a bool: compare it with e.g. true", 10),
        ("json.a == [1, 5ms]", "JSON lists hold numbers, text, true/false or null", 10),
        ("statsu == 1", "unknown subject 'statsu' (did you mean 'status'?)", 0),
        (
            "zzzzz == 1",
            "unknown subject 'zzzzz'; this kind observes: body, body.size, dns.answers, "
            "header.<path>, json.<path>, latency, status, tls.ok",
            0,
        ),
        ("json == 1", "'json' needs a path, e.g. json.name", 0),
        ("body.size.x == 1", "'body.size' takes no further path", 9),
        ("latency.x == 1", "unknown subject 'latency.x' (did you mean 'latency'?)", 0),
        ("body matches 'a(b'", "bad regular expression: missing ): a(b", 14),
    ],
)
def test_each_rule_says_what_is_wrong_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpectationError) as caught:
        compile_expectation(text, TABLE)
    assert (caught.value.message, caught.value.position) == (message, column)
    assert caught.value.text == text


@pytest.mark.parametrize(
    "text",
    [
        "json.a in [1, 2ms]",
        "json.a == [1, 'x', true, null, [2]]",
        "json.a in [[1], 'x']",
        "tls.ok == true",
        "dns.answers == ['a', 'b']",
        "dns.answers not contains 'a'",
        "header.server != 'x'",
        "status in 200..299",
    ],
)
def test_what_fits_compiles(text: str) -> None:
    compiled = compile_expectation(text, TABLE)
    assert compiled.text == text and not compiled.soft


def test_a_soft_expectation_is_the_same_expectation_marked_soft() -> None:
    hard = compile_expectation("latency < 500ms", TABLE)
    soft = compile_expectation("latency < 500ms", TABLE, soft=True)
    assert soft.soft and (soft.subject, soft.op, soft.literal, soft.text) == (
        hard.subject,
        hard.op,
        hard.literal,
        hard.text,
    )
