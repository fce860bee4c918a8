"""Grading (the chart, extra credit, refusals) and the Findings a scorecard gives, on
retrievals built by hand (no I/O)."""

from __future__ import annotations

import pytest

from watchkeeper.audit._http import Response
from watchkeeper.audit.observatory import (
    ALGORITHM_VERSION,
    HstsPreload,
    Result,
    Retrieval,
    ScanError,
    Visit,
    findings,
    grade,
)
from watchkeeper.audit.observatory.charts import MODIFIERS, grade_for
from watchkeeper.audit.observatory.cookie_jar import CookieJar
from watchkeeper.audit.observatory.model import Hop
from watchkeeper.findings import Severity

A_PLUS = (
    ("strict-transport-security", "max-age=63072000"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)


def site(
    headers: tuple[tuple[str, str], ...] = (),
    *,
    status: int = 200,
    cookies: tuple[str, ...] = (),
    redirect: bool = True,
) -> Retrieval:
    """An https site answering ``headers``, with http redirecting to it (or serving as is)."""
    url = "https://example.com/"
    jar = CookieJar()
    for value in cookies:
        jar.store(value, url)
    sent = (("content-type", "text/html"), *headers, *(("set-cookie", c) for c in cookies))
    https = Visit(url, Response(url, status, sent), history=(), cookies=jar.all())
    if redirect:
        http = Visit(
            "http://example.com/",
            Response(url, status, sent),
            history=(Hop("http://example.com/", 301), Hop(url, status)),
        )
    else:
        http = Visit(
            "http://example.com/",
            Response("http://example.com/", 200, sent),
            history=(Hop("http://example.com/", 200),),
        )
    return Retrieval("example.com", http, https, "https", page="<html></html>")


def test_every_result_has_its_points_and_the_version_is_four() -> None:
    assert ALGORITHM_VERSION == 4
    assert set(MODIFIERS) == set(Result)


@pytest.mark.parametrize(
    ("score", "expected"),
    [(135, (135, "A+")), (100, (100, "A+")), (99, (99, "A")), (90, (90, "A")), (89, (89, "A-")),
     (80, (80, "B+")), (79, (79, "B")), (65, (65, "B-")), (60, (60, "C+")), (45, (45, "C-")),
     (40, (40, "D+")), (30, (30, "D")), (25, (25, "D-")), (24, (24, "F")), (-15, (0, "F"))],
)  # fmt: skip
def test_the_grade_chart(score: int, expected: tuple[int, str]) -> None:
    assert grade_for(score) == expected


def test_a_full_set_of_headers_earns_every_bonus() -> None:
    card = grade(site(A_PLUS))
    assert (card.score, card.grade) == (120, "A+")
    assert findings(card, "https://example.com/") == []


def test_bonuses_count_only_when_the_score_without_them_is_ninety() -> None:
    # CSP default-src 'none' (+10) and a Referrer-Policy (+5), but no HSTS (-20)
    card = grade(site(A_PLUS[1:]))
    assert card.uncurved_score == 80
    assert (card.score, card.grade) == (80, "B+")


def test_the_preload_list_excuses_a_missing_header() -> None:
    preload = HstsPreload.from_mapping({"example.com": {"mode": "force-https"}})
    card = grade(site(A_PLUS[1:]), preload=preload)
    assert card.tests["strict-transport-security"].result == Result.hsts_preloaded


def test_error_statuses_other_than_401_and_403_are_not_graded() -> None:
    with pytest.raises(ScanError, match="unexpected HTTP status code 502"):
        grade(site(status=502))
    assert grade(site(A_PLUS, status=403)).status_code == 403


def test_findings_name_the_fix_with_header_nginx_and_caddy_lines() -> None:
    card = grade(site(cookies=("sessionid=abc; Path=/",), redirect=False))
    found = {
        finding.evidence["test"]: finding for finding in findings(card, "https://example.com/")
    }
    assert set(found) == {
        "content-security-policy",
        "cookies",
        "redirection",
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
    }
    session = found["cookies"]
    assert session.severity == Severity.critical  # -40: a session cookie sent in clear
    assert session.evidence["seen"] == "sessionid (no Secure, HttpOnly, SameSite)"
    assert "proxy_cookie_flags ~ secure httponly samesite=lax;" in session.recommendation
    csp = found["content-security-policy"]
    assert csp.severity == Severity.warning
    assert csp.evidence == {
        "test": "content-security-policy",
        "result": "csp-not-implemented",
        "modifier": -25,
        "seen": "(absent)",
        "score": card.score,
        "grade": card.grade,
    }
    assert 'nginx: add_header Content-Security-Policy "default-src' in csp.recommendation
    assert "always;" in csp.recommendation
    assert 'Caddy: header Content-Security-Policy "default-src' in csp.recommendation
    xfo = found["x-frame-options"].recommendation
    assert "Header: X-Frame-Options: DENY" in xfo
    assert found["redirection"].title == "Redirection: http:// does not redirect (-20)"
    assert "Caddy: http://example.com { redir https://{host}{uri} permanent }" in (
        found["redirection"].recommendation
    )


def test_a_repeated_report_directive_is_only_an_info_finding() -> None:
    headers = (
        *A_PLUS[:1],
        ("content-security-policy", "default-src 'none'; report-uri /a; report-uri /b"),
        *A_PLUS[2:],
        ("x-frame-options", "DENY"),
    )
    (only,) = findings(grade(site(headers)), "https://example.com/")
    assert only.severity == Severity.info
    assert only.evidence["result"] == Result.csp_duplicate_directives.value


def test_the_scorecards_json_has_the_scanners_shape() -> None:
    card = grade(site(A_PLUS)).as_json()
    assert set(card) == {"scan", "tests"}
    assert card["scan"]["algorithmVersion"] == 4
    assert card["scan"]["testsQuantity"] == 10
    assert card["tests"]["content-security-policy"]["scoreModifier"] == 10
    assert set(card["tests"]["redirection"]) >= {"expectation", "pass", "result", "route"}
