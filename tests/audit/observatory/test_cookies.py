"""Set-Cookie parsing, the cookie jar and the cookies test against the scanner's own (its cookie
library and test, under Node, on thousands of generated cookies), plus hostile input."""

from __future__ import annotations

import random
from typing import Any

import pytest
from tests.audit.observatory.linear import assert_linear
from tests.helpers.observatory import READ_STDIN, Scanner, run_module

from watchkeeper.audit._http import Response
from watchkeeper.audit.observatory.cookie_jar import (
    MAX_COOKIES,
    CookieJar,
    invalid_same_site,
    parse_set_cookie,
)
from watchkeeper.audit.observatory.model import Retrieval, Visit
from watchkeeper.audit.observatory.preload import HstsPreload
from watchkeeper.audit.observatory.rules import cookies

NAMES = [
    "sessionid", "SESS", "login", "csrftoken", "XSRF-CSRF", "theme", "__Host-a", "__Secure-b",
    "__host-c", "heroku-session-affinity", "", " spaced ", "a\tb", "lang\u00a0",
]  # fmt: skip
VALUES = ["1", "", "x=y", '"q"', "a\x01b", " v ", "é"]
ATTRIBUTES = [
    "Secure", "secure", "HttpOnly", "httponly", "SameSite=Strict", "SameSite=Lax",
    "SameSite=None", "SameSite=none", "SameSite=bogus", "SameSite=", "SameSite", "Path=/",
    "Path=/app", "Path=", "Path=app", "Domain=example.com", "Domain=.example.com",
    "Domain=other.com", "Domain=com", "Domain=www.example.com", "Domain=EXAMPLE.COM",
    "Domain=github.io", "Domain=", "Max-Age=0", "Max-Age=-1", "Max-Age=abc", "Max-Age=100",
    "Expires=Wed, 21 Oct 2015 07:28:00 GMT", "junk", "=x", " Secure ", "SameSite = Lax",
    "samesite=lax=1",
]  # fmt: skip
URLS = ["https://example.com/", "https://www.example.com/app/page", "http://example.com/x"]
HSTS = [None, "max-age=63072000", "max-age=10", "bogus"]


def random_cookie(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(["", ";", "novalue", "=onlyvalue", "  "])
    pair = f"{rng.choice(NAMES)}={rng.choice(VALUES)}"
    attributes = [rng.choice(ATTRIBUTES) for _ in range(rng.randint(0, 4))]
    separator = rng.choice(["; ", ";", " ; "])
    return separator.join([pair, *attributes])


SCRIPT = (
    READ_STDIN
    + """
import { CookieJar } from "tough-cookie";
import { cookiesTest } from "PKG/analyzer/tests/cookies.js";
const out = input.map(({ cookies, url, hsts }) => {
  const jar = new CookieJar();
  for (const cookie of cookies) jar.setCookieSync(cookie, url, { ignoreError: true });
  const requests = {
    hostname: "example.com",
    responses: {
      auto: { status: 200, headers: { "set-cookie": cookies } },
      https: { status: 200, verified: true,
               headers: hsts ? { "strict-transport-security": hsts } : {} },
    },
    session: { jar },
  };
  const o = cookiesTest(requests);
  const stored = jar.serializeSync().cookies.map((c) => [
    c.key, c.value ?? "", c.domain, c.path, !!c.secure, !!c.httpOnly, c.sameSite ?? null,
    c.hostOnly ?? null,
  ]);
  return { result: o.result, pass: o.pass, sameSite: o.sameSite, stored };
});
console.log(JSON.stringify(out));
"""
)


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    return Scanner(tmp_path_factory.mktemp("scanner"))


def graded(cookies_sent: list[str], url: str, hsts: str | None) -> tuple[Any, CookieJar]:
    jar = CookieJar()
    for value in cookies_sent:
        jar.store(value, url)
    headers = [("set-cookie", value) for value in cookies_sent]
    if hsts:
        headers.append(("strict-transport-security", hsts))
    response = Response("https://example.com/", 200, tuple(headers))
    https = Visit("https://example.com/", response, cookies=jar.all())
    retrieval = Retrieval("example.com", Visit("http://example.com/"), https, "https")
    return cookies.run(retrieval, HstsPreload()), jar


def test_the_jar_and_the_cookies_test_agree_with_the_scanners(scanner: Scanner) -> None:
    rng = random.Random(2024)
    cases = [
        {
            "cookies": [random_cookie(rng) for _ in range(rng.randint(0, 4))],
            "url": rng.choice(URLS),
            "hsts": rng.choice(HSTS),
        }
        for _ in range(3000)
    ]
    theirs = run_module(scanner, SCRIPT, cases)
    disagreements = []
    for case, expected in zip(cases, theirs, strict=True):
        outcome, jar = graded(case["cookies"], case["url"], case["hsts"])
        stored = [
            [c.name, c.value, c.domain, c.path, c.secure, c.http_only, c.same_site, c.host_only]
            for c in jar.all()
        ]
        ours = {
            "result": outcome.result.value if outcome.result else None,
            "pass": outcome.passed,
            "sameSite": outcome.data["sameSite"],
            "stored": sorted(stored, key=repr),
        }
        expected["stored"] = sorted(expected["stored"], key=repr)
        if ours != expected:
            disagreements.append((case, ours, expected))
    assert not disagreements, f"{len(disagreements)} of {len(cases)}: {disagreements[:2]}"


def test_prefixed_cookies_that_break_their_rule_are_dropped() -> None:
    jar = CookieJar()
    assert jar.store("__Host-ok=1; Path=/; Secure", "https://example.com/") is not None
    assert jar.store("__Host-path=1; Path=/app; Secure", "https://example.com/") is None
    assert (
        jar.store("__Host-domain=1; Path=/; Secure; Domain=example.com", "https://example.com/")
        is None
    )
    assert jar.store("__Secure-plain=1", "https://example.com/") is None
    assert [cookie.name for cookie in jar.all()] == ["__Host-ok"]


def test_a_cookie_for_an_ip_address_domain_or_a_public_suffix_is_dropped() -> None:
    jar = CookieJar()
    assert jar.store("a=1; Domain=127.0.0.1", "http://127.0.0.1/") is None
    assert jar.store("b=1; Domain=co.uk", "https://www.example.co.uk/") is None
    assert jar.store("c=1; Domain=example.co.uk", "https://www.example.co.uk/") is not None


def test_a_cookie_set_again_replaces_the_old_one_and_expired_ones_stay() -> None:
    jar = CookieJar()
    jar.store("s=1; Path=/", "https://example.com/")
    jar.store("s=2; Path=/; Max-Age=0", "https://example.com/")
    (only,) = jar.all()
    assert (only.value, only.max_age) == ("2", 0)
    assert jar.header_for("https://example.com/") is None


def test_samesite_without_a_known_value_is_invalid_in_the_raw_header() -> None:
    assert invalid_same_site("a=1; SameSite")
    assert invalid_same_site("a=1; SameSite=Bogus")
    assert not invalid_same_site("a=1; samesite= Lax ")
    assert not invalid_same_site("a=1; Path=/")


def test_a_huge_set_cookie_is_parsed_in_linear_time() -> None:
    def header(size: int) -> str:
        return "big=" + "v" * size + "".join(f"; x{index}=y" for index in range(size))

    assert_linear(lambda size: parse_set_cookie(header(size)), [2_000, 8_000])
    parsed = parse_set_cookie(header(200_000))
    assert parsed is not None and len(parsed.extensions) == 200_000


def test_the_jar_stops_taking_cookies_at_its_cap() -> None:
    jar = CookieJar()
    for index in range(MAX_COOKIES + 50):
        jar.store(f"c{index}=1", "https://example.com/")
    assert len(jar.all()) == MAX_COOKIES
