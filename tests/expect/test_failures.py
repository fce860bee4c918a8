"""Every failure line, case by case: each operator exactly at its boundary, each kind of value
that does not fit, each way a subject can be missing, and how an observed value is shown.

A failure line is what a user reads in an alert (``status 200, expected > 200``), so each case
names the exact line; ``None`` means the expectation holds.
"""

from __future__ import annotations

import json

import pytest

from watchkeeper.expect import ValueType, compile_expectation, evaluate
from watchkeeper.model import Observation, Phases
from watchkeeper.units import format_size

TABLE = {
    "status": ValueType.NUMBER,
    "ttfb": ValueType.DURATION,
    "body": ValueType.TEXT,
    "body.size": ValueType.SIZE,
    "json.*": ValueType.ANY,
    "header.*": ValueType.TEXT,
    "cert.issuer": ValueType.TEXT,
    "dns.answers": ValueType.SET,
}
HUGE = "1" + "0" * 400
"""A JSON integer no float holds."""
DOCUMENT = (
    '{"status": "ok", "n": 3, "on": true, "nil": null, "tags": ["a", "b"], "nums": [1, 2.0],'
    ' "obj": {"k": 1}, "items": [{"id": 7}], "near": 1000.0000000001, "tiny": 1e-13,'
    f' "huge": {HUGE}, "neg": -{HUGE}, "fits": ["{"a" * 76}"], "spills": ["{"a" * 77}"]}}'
)


def observe(
    body: bytes | None = DOCUMENT.encode(),
    headers: dict[str, str] | None = None,
    ttfb: float | None = 0.3,
    without: str = "",
    **facts: object,
) -> Observation:
    base: dict[str, object] = {
        "status": 200,
        "body": body,
        "body.size": None if body is None else len(body),
        "headers": {"content-type": "application/json", "server": "test"}
        if headers is None
        else headers,
        "cert.issuer": "CN=Test CA",
        "dns.answers": frozenset({"192.0.2.1", "mail.example.com."}),
    }
    base.update(facts)
    base.pop(without, None)
    return Observation(started_at=0.0, phases=Phases(total=0.5, ttfb=ttfb), facts=base)


def failure(text: str, observation: Observation | None = None) -> str | None:
    return evaluate(compile_expectation(text, TABLE), observation or observe())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status >= 200", None),
        ("status > 200", "status 200, expected > 200"),
        ("status <= 200", None),
        ("status < 200", "status 200, expected < 200"),
        ("status >= 201", "status 200, expected >= 201"),
        ("status <= 199", "status 200, expected <= 199"),
        ("status > 199", None),
        ("status < 201", None),
        ("status in 200..300", None),
        ("status in 100..200", None),
        ("status in 201..300", "status 200, expected in 201..300"),
        ("status not in 201..300", None),
        ("status not in 100..200", "status 200, expected not in 100..200"),
        ("status != 201", None),
        ("status != 200", "status 200, expected != 200"),
    ],
)
def test_each_operator_at_its_boundary(text: str, expected: str | None) -> None:
    assert failure(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("json.near == 1000", None),  # equal to a billionth, as floats are
        ("json.tiny == 0", None),  # and near zero, to a trillionth
        ("json.n == 2", "json.n 3, expected == 2"),
        (f"json.huge == {HUGE}", None),
        (f"json.huge == -{HUGE}", f"json.huge {HUGE[:79]}…, expected == -{HUGE}"),
        (f"json.neg == {HUGE}", f"json.neg -{HUGE[:78]}…, expected == {HUGE}"),
        ("json.status == 3", "json.status 'ok' (not a number), expected == 3"),
        ("json.status != 3", None),
        ("json.n == true", "json.n 3 (not true/false), expected == true"),
        ("json.n == 'x'", "json.n 3 (not text), expected == 'x'"),
        ("json.nil == null", None),
        ("json.n == null", "json.n 3, expected == null"),
        ("json.on == true", None),
        ("json.status < 3", "json.status 'ok' (not a number), expected < 3"),
        ("json.n < 1s", "json.n 3s, expected < 1s"),
        ("json.status in 1..5", "json.status 'ok' (not a number), expected in 1..5"),
        ("json.status not in 1..5", None),
        ("json.status in ['ok', 'fine']", None),
        ("json.status not in ['ok']", "json.status 'ok', expected not in ['ok']"),
        ("json.tags contains 'a'", None),
        ("json.tags contains 'c'", 'json.tags ["a", "b"], expected contains \'c\''),
        ("json.tags not contains 'a'", 'json.tags ["a", "b"], expected not contains \'a\''),
        ("json.nums contains 2", None),
        ("json.obj contains 'k'", None),
        ("json.obj contains 'z'", "json.obj {\"k\": 1}, expected contains 'z'"),
        ("json.obj not contains 'z'", None),
        ("json.n contains 'x'", "json.n 3 (not text or a list), expected contains 'x'"),
        ("json.n not contains 'x'", None),
        ("json.status not contains 1", None),
        ("json.n matches '3'", "json.n 3 (not text), expected matches '3'"),
        ("json.n not matches '3'", None),
        ("json.status not matches 'o.'", "json.status 'ok', expected not matches 'o.'"),
        ("dns.answers contains 'MAIL.example.com'", None),  # names: any case, final dot or not
        ("dns.answers == ['mail.example.com', '192.0.2.1']", None),
        (
            "dns.answers != ['MAIL.example.com', '192.0.2.1']",
            "dns.answers [192.0.2.1, mail.example.com.], expected != ['MAIL.example.com', "
            "'192.0.2.1']",
        ),
        ("dns.answers != ['192.0.2.1']", None),
        (
            "dns.answers == ['192.0.2.1']",
            "dns.answers [192.0.2.1, mail.example.com.], expected == ['192.0.2.1']",
        ),
    ],
)
def test_each_kind_of_value(text: str, expected: str | None) -> None:
    assert failure(text) == expected


@pytest.mark.parametrize(
    ("text", "observation", "expected"),
    [
        ("ttfb < 1s", observe(ttfb=None), "ttfb not measured, expected < 1s"),
        ("body contains 'x'", observe(body=None), "body not received, expected contains 'x'"),
        ("body not contains 'x'", observe(body=None), None),
        ("header.server == 'x'", observe(headers={}), "header.server absent, expected == 'x'"),
        (
            "header.server == 'x'",
            observe(without="headers"),
            "header.server not received, expected == 'x'",
        ),
        ("header.Server == 'test'", observe(), None),
        (
            "cert.issuer contains 'x'",
            observe(without="cert.issuer"),
            "cert.issuer not observed, expected contains 'x'",
        ),
        (
            "json.status == 'ok'",
            observe(body=None),
            "json.status not received (no body), expected == 'ok'",
        ),
        (
            "json.status == 'ok'",
            observe(body=b"<html>"),
            "json.status unreadable: body is not valid JSON (Expecting value at line 1 column "
            "1), expected == 'ok'",
        ),
        (
            "json.a == 1",
            observe(body=b"[" * 100_000),
            "json.a unreadable: the JSON body is nested too deeply, expected == 1",
        ),
        ("json.n[0] == 1", observe(), "json.n[0] missing: json.n is not a list, expected == 1"),
        ("json.n.x == 1", observe(), "json.n.x missing: json.n is not an object, expected == 1"),
        (
            "json.obj.k.x == 1",
            observe(),
            "json.obj.k.x missing: json.obj.k is not an object, expected == 1",
        ),
        (
            "json.items[0].id.x == 1",
            observe(),
            "json.items[0].id.x missing: json.items[0].id is not an object, expected == 1",
        ),
        ("json.obj.z == 1", observe(), "json.obj.z missing: no key 'z', expected == 1"),
        ("json.items[-1].id == 7", observe(), None),
        (
            "json.items[1].id == 7",
            observe(),
            "json.items[1].id missing: json.items has 1 item, expected == 7",
        ),
        (
            "json.items[-2].id == 7",
            observe(),
            "json.items[-2].id missing: json.items has 1 item, expected == 7",
        ),
        ("json.items.0.id == 7", observe(), None),  # the path goes on from the item
        ("json.items.-1.id == 7", observe(), None),
        ("json.items.0.id == 8", observe(), "json.items.0.id 7, expected == 8"),
        (
            "json.items.0.id.x == 1",
            observe(),
            "json.items.0.id.x missing: json.items.0.id is not an object, expected == 1",
        ),
        (
            "json.items.1.id == 7",
            observe(),
            "json.items.1.id missing: json.items has 1 item, expected == 7",
        ),
        (
            "json.items.-2.id == 7",
            observe(),
            "json.items.-2.id missing: json.items has 1 item, expected == 7",
        ),
    ],
)
def test_each_way_a_subject_can_be_missing(
    text: str, observation: Observation, expected: str | None
) -> None:
    assert failure(text, observation) == expected


@pytest.mark.parametrize(
    ("body", "headers", "facts"),
    [
        ("café".encode("latin-1"), {"content-type": "text/plain; charset=ISO-8859-1"}, {}),
        ("café".encode("latin-1"), {"content-type": "text/plain"}, {"charset": "latin-1"}),
        ("café".encode(), {"content-type": "text/plain; charset=base64"}, {}),  # no text codec
        ("café".encode(), {"content-type": "text/plain; charset=nonsense"}, {}),
        ("café".encode(), {"content-type": "text/plain"}, {}),
    ],
)
def test_a_body_is_read_in_its_declared_charset_else_as_utf_8(
    body: bytes, headers: dict[str, str], facts: dict[str, object]
) -> None:
    observation = observe(body, headers, **facts)
    assert failure("body contains 'café'", observation) is None
    assert failure("body == 'café'", observation) is None, "read once, the same again"


def test_bytes_that_do_not_decode_are_replaced_not_fatal() -> None:
    observation = observe(b"caf\xe9 ok", {"content-type": "text/plain; charset=utf-8"})
    assert failure("body == 'caf\ufffd ok'", observation) is None
    observation = observe(b"caf\xe9 ok", {"content-type": "text/plain; charset=idna"})
    assert failure("body == 'caf\ufffd ok'", observation) is None


def test_a_json_body_is_parsed_once_and_read_again_by_the_next_expectation() -> None:
    observation = observe()
    assert failure("json.n == 3", observation) is None
    assert failure("json.status == 'ok'", observation) is None
    assert failure("json.tags contains 'b'", observation) is None


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("x" * 60, "'" + "x" * 60 + "'"),
        ("x" * 61, "'" + "x" * 59 + "…'"),
        ("it's\n  here", "'it\\'s here'"),
    ],
)
def test_text_is_shown_on_one_line_quoted_and_cut_at_60(body: str, shown: str) -> None:
    observation = observe(body.encode(), {"content-type": "text/plain"})
    assert failure("body contains 'nope'", observation) == f"body {shown}, expected contains 'nope'"


def test_other_values_are_shown_as_json_cut_at_80() -> None:
    fits, spills = json.dumps(["a" * 76]), json.dumps(["a" * 77])
    assert failure("json.fits contains 'b'") == f"json.fits {fits}, expected contains 'b'"
    assert failure("json.spills contains 'b'") == (
        f"json.spills {spills[:79]}…, expected contains 'b'"
    )


def test_a_size_is_shown_as_a_size() -> None:
    body = b"x" * 3000
    observation = observe(body, {"content-type": "text/plain"})
    assert failure("body.size < 1KiB", observation) == (
        f"body.size {format_size(3000)}, expected < 1KiB"
    )
