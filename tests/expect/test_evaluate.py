from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.errors import ExpectationError
from watchkeeper.expect import ValueType, compile_expectation, evaluate
from watchkeeper.model import Observation, Phases

TABLE = {
    "status": ValueType.NUMBER,
    "latency": ValueType.DURATION,
    "ttfb": ValueType.DURATION,
    "body": ValueType.TEXT,
    "body.size": ValueType.SIZE,
    "json.*": ValueType.ANY,
    "header.*": ValueType.TEXT,
    "cert.expires_in": ValueType.DURATION,
    "cert.issuer": ValueType.TEXT,
    "dns.answers": ValueType.SET,
    "tcp.banner": ValueType.TEXT,
}


def observe(
    body: bytes = b'{"status": "ok", "items": [{"id": 7}], "n": 3, "on": true}', **facts: object
) -> Observation:
    base: dict[str, object] = {
        "status": 200,
        "body": body,
        "body.size": len(body),
        "headers": {"content-type": "application/json; charset=utf-8"},
        "cert.expires_in": 20 * 86400.0,
        "cert.issuer": "CN=Test CA,O=Watchkeeper",
        "dns.answers": frozenset({"192.0.2.1", "192.0.2.2"}),
        "tcp.banner": "220 mail ESMTP ready",
    }
    base.update(facts)
    return Observation(started_at=0.0, phases=Phases(total=0.812, ttfb=0.3), facts=base)


def check(text: str, observation: Observation | None = None) -> str | None:
    return evaluate(compile_expectation(text, TABLE), observation or observe())


@pytest.mark.parametrize(
    "text",
    [
        "status == 200",
        "status in 200..299",
        "status in [200, 204]",
        "status not in [500]",
        "latency < 1s",
        "ttfb <= 300ms",
        "json.status == 'ok'",
        "json.items[0].id == 7",
        "json.items[-1].id in [7, 8]",
        "json.n > 2",
        "json.on == true",
        "json.missing != 'x'",
        "json.status contains 'o'",
        "header.content-type contains 'json'",
        "header.x-absent != 'a'",
        "body contains '\"status\"'",
        "body matches 'st.tus'",
        "body.size < 1KiB",
        "cert.expires_in > 14d",
        "cert.issuer contains 'Test CA'",
        "dns.answers contains '192.0.2.1'",
        "dns.answers == ['192.0.2.2', '192.0.2.1']",
        "tcp.banner matches '^220 '",
        "tcp.banner not contains 'error'",
    ],
)
def test_holding_expectations_pass(text: str) -> None:
    assert check(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency < 500ms", "latency 812ms, expected < 500ms"),
        ("status == 503", "status 200, expected == 503"),
        ("json.status == 'down'", "json.status 'ok', expected == 'down'"),
        ("json.items[3].id == 1", "json.items has 1 item"),
        ("json.nope == 1", "no key 'nope'"),
        ("json.status < 3", "not a number"),
        ("cert.expires_in > 30d", "cert.expires_in 20d, expected > 30d"),
        ("header.x-absent == 'a'", "absent"),
        ("dns.answers contains '10.0.0.1'", "[192.0.2.1, 192.0.2.2]"),
        ("body.size > 1MiB", "expected > 1MiB"),
    ],
)
def test_a_failure_shows_what_was_observed(text: str, message: str) -> None:
    failure = check(text)
    assert failure is not None
    assert message in failure


def test_a_json_expectation_on_a_non_json_body_says_so() -> None:
    failure = check("json.status == 'ok'", observe(body=b"<html>oops</html>"))
    assert failure is not None
    assert "not valid JSON" in failure


def test_json_is_parsed_once_per_observation() -> None:
    observation = observe()
    check("json.status == 'ok'", observation)
    document = observation.cache["json"]
    check("json.n == 3", observation)
    assert observation.cache["json"] is document


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency < 500", "add a unit"),
        ("status == '200'", "number"),
        ("body < 5", "text"),
        ("nope == 1", "unknown subject"),
        ("statsu == 200", "did you mean 'status'"),
        ("dns.answers == 3", "list"),
        ("body matches '(('", "regular expression"),
        ("latency matches 'x'", "applies to text"),
        ("header == 'x'", "needs a path"),
        ("status in 200", "list"),
    ],
)
def test_type_errors_are_caught_at_load(text: str, message: str) -> None:
    with pytest.raises(ExpectationError) as caught:
        compile_expectation(text, TABLE)
    assert message in caught.value.message
    assert 0 <= caught.value.position <= len(text)


_BODIES = st.one_of(
    st.binary(max_size=200),
    st.integers(0, 4000).map(lambda depth: b"[" * depth + b"]" * depth),  # deep nesting
    st.integers(0, 3000).map(lambda n: b'{"a": {"b": [' + b"9" * n + b"]}}"),  # huge numbers
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.sampled_from("abxyzq"), inner),
        max_leaves=20,
    ).map(lambda doc: json.dumps({"a": doc, "x": doc, "q": doc}).encode()),
)


@settings(max_examples=500, deadline=None)
@given(
    _BODIES,
    st.sampled_from(
        [
            "json.a.b[0] == 1",
            "json[0] contains 'x'",
            "body matches 'a+'",
            "json.x in [1, 'a', null]",
            "json.y < 5",
            "json.z contains 1",
            "json.q != true",
            "json.a contains [1]",
            "json.x == 1e300",
            "json.a.b[0] in 1..10",
        ]
    ),
)
def test_evaluation_never_raises_whatever_the_body(body: bytes, text: str) -> None:
    result = check(text, observe(body=body))
    assert result is None or text.split()[0] in result


SECRETS = frozenset({"s3cr3t-T0ken-value", "it's-a-secret"})


@pytest.mark.parametrize(
    "body",
    [
        b"x" * 55 + b"s3cr3t-T0ken-value and more text after it",  # cut right through it
        b"the password is it's-a-secret, escaped when quoted",
    ],
)
def test_a_failure_never_shows_a_secret_even_cut_or_quoted(body: bytes) -> None:
    expectation = compile_expectation("body contains 'nope'", TABLE)
    failure = evaluate(expectation, observe(body=body), SECRETS)
    assert failure is not None
    for secret in SECRETS:
        for prefix in (secret[:6], secret.replace("'", "\\'")):
            assert prefix not in failure, failure


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"[" * 100_000, "json.a == 1"),  # nested past the recursion limit
        (b'{"n": ' + b"9" * 400 + b"}", "json.n == 1"),  # overflows a float
        (b'{"n": ' + b"9" * 400 + b"}", "json.n in 1..5"),
        (b'{"o": {"k": 1}}', "json.o contains [1]"),  # an unhashable needle
    ],
)
def test_hostile_json_fails_the_expectation_instead_of_raising(body: bytes, text: str) -> None:
    failure = check(text, observe(body=body))
    assert failure is not None and failure.startswith(text.split()[0])


@pytest.mark.parametrize("charset", ["idna", "punycode", "base64", "no-such-codec"])
def test_an_odd_charset_falls_back_to_utf8(charset: str) -> None:
    observation = observe(
        body="héllo".encode(), headers={"content-type": f"text/plain; charset={charset}"}
    )
    assert check("body contains 'héllo'", observation) is None


def test_a_failure_masks_a_secret_in_a_url_the_target_sent() -> None:
    body = json.dumps(
        {"next": "https://u:Passw0rdInUrl@h.example/cb?access_token=T0kenInUrl&page=2"}
    ).encode()
    failure = check("json.next == 'x'", observe(body=body))
    assert failure is not None
    assert "Passw0rd" not in failure and "T0ken" not in failure
    assert failure.startswith("json.next 'https://u:***@h.example/cb?access_token=***")


def test_control_and_bidi_characters_a_target_sent_are_shown_as_escapes() -> None:
    body = json.dumps({"v": "\x1b]8;;http://evil\x1b\\ok\x1b[0m \u202eevil"}).encode()
    failure = check("json.v == 'x'", observe(body=body))
    assert failure is not None
    assert "\x1b" not in failure and "\u202e" not in failure
    assert failure.startswith("json.v '\\x1b]8;;http://evil\\x1b\\ok\\x1b[0m \\u202eevil'")
