"""Findings from a scorecard: one per test that failed or cost points, with what was seen and the
exact lines that fix it (the header, nginx's ``add_header ... always;``, Caddy's ``header``).

Severity follows the points lost: 30 or more is critical (session cookies readable or sent in
clear, any site reading a visitor's data through CORS, scripts anyone on the path can replace);
any other loss, or a failed test, is a warning; a passing test that only lost its bonus (CSP
with a repeated report directive) is info. Passing tests, bonus or not, give no finding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.model import Scorecard, TestOutcome
from watchkeeper.findings import Evidence, Finding, Severity

SOURCE = "headers"
CRITICAL_AT = -30
"""A modifier at or below this makes a critical finding."""
SEEN_LIMIT = 300

TITLES = {
    "content-security-policy": "Content Security Policy",
    "cookies": "Cookies",
    "cross-origin-resource-sharing": "CORS",
    "redirection": "Redirection",
    "referrer-policy": "Referrer-Policy",
    "strict-transport-security": "HSTS",
    "subresource-integrity": "Subresource integrity",
    "x-content-type-options": "X-Content-Type-Options",
    "x-frame-options": "X-Frame-Options",
    "cross-origin-resource-policy": "Cross-Origin-Resource-Policy",
}

CSP_LINE = (
    "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
HSTS_LINE = "max-age=63072000; includeSubDomains"
COOKIE_FLAGS = "Secure; HttpOnly; SameSite=Lax"


@dataclass(frozen=True, slots=True)
class Fix:
    problem: str
    """What is wrong, in a few words (the finding's title after the test's name)."""
    advice: str
    header: str | None = None
    """The header line to send, when a header fixes it."""
    nginx: str | None = None
    caddy: str | None = None
    html: str | None = None
    """The markup to use, when the page itself must change."""


def _header_fix(problem: str, advice: str, name: str, value: str) -> Fix:
    return Fix(
        problem,
        advice,
        header=f"{name}: {value}",
        nginx=f'add_header {name} "{value}" always;',
        caddy=f'header {name} "{value}"',
    )


_CSP_ADVICE = (
    "Start from this policy, list the other origins your pages load from, and replace inline "
    "scripts by files or by nonces ('nonce-...' with 'strict-dynamic'); trial it with "
    "Content-Security-Policy-Report-Only before enforcing it."
)
_COOKIE_FIX = Fix(
    "",
    "Set every cookie with Secure, session and login cookies with HttpOnly too, and each with "
    "SameSite; nginx and Caddy can add the flags to cookies a backend sets.",
    header=f"Set-Cookie: NAME=VALUE; Path=/; {COOKIE_FLAGS}",
    nginx="proxy_cookie_flags ~ secure httponly samesite=lax;",
    caddy=f'header >Set-Cookie "^(.*)$" "$1; {COOKIE_FLAGS}"',
)
_REDIRECT_FIX = Fix(
    "",
    "Answer every http:// request with a permanent redirect to https:// on the same host "
    "first (other hosts after that), so browsers can learn HSTS for this one.",
    nginx="server { listen 80; server_name HOST; return 301 https://$host$request_uri; }",
    caddy="http://HOST { redir https://{host}{uri} permanent }",
)
_HSTS_FIX = _header_fix(
    "",
    "Send HSTS on the https answers, with max-age of at least 180 days (two years is usual); "
    "add preload only once every subdomain serves https.",
    "Strict-Transport-Security",
    HSTS_LINE,
)
_SRI_FIX = Fix(
    "",
    "Load third-party scripts over https with an integrity hash (compute it with "
    "`openssl dgst -sha384 -binary FILE | openssl base64 -A`), or host them yourself. This is "
    "a change to the page, not to the server's configuration.",
    html='<script src="https://cdn.example/lib.js" integrity="sha384-HASH" '
    'crossorigin="anonymous"></script>',
)

FIXES: dict[Result, Fix] = {
    Result.csp_missing: _header_fix("none sent", _CSP_ADVICE, "Content-Security-Policy", CSP_LINE),
    Result.csp_report_only: _header_fix(
        "only report-only", _CSP_ADVICE, "Content-Security-Policy", CSP_LINE
    ),
    Result.csp_invalid: _header_fix(
        "policy invalid (repeated directive, 'strict-dynamic' without a nonce or hash, or "
        "malformed)",
        "Send one well-formed policy, each directive once. " + _CSP_ADVICE,
        "Content-Security-Policy",
        CSP_LINE,
    ),
    Result.csp_unsafe_inline: _header_fix(
        "allows inline or any-origin scripts ('unsafe-inline', data:, *, https:)",
        _CSP_ADVICE,
        "Content-Security-Policy",
        CSP_LINE,
    ),
    Result.csp_insecure_scheme: _header_fix(
        "allows scripts or other active content over http:",
        "Drop http: and ftp: sources from an https site's policy. " + _CSP_ADVICE,
        "Content-Security-Policy",
        CSP_LINE,
    ),
    Result.csp_unsafe_eval: _header_fix(
        "allows 'unsafe-eval'",
        "Remove 'unsafe-eval' (replace eval/new Function/string timers in the scripts). "
        + _CSP_ADVICE,
        "Content-Security-Policy",
        CSP_LINE,
    ),
    Result.csp_insecure_passive_only: _header_fix(
        "allows images or media over http:",
        "Drop http: sources from img-src/media-src (or default-src).",
        "Content-Security-Policy",
        CSP_LINE,
    ),
    Result.csp_duplicate_directives: Fix(
        "report-uri or report-to repeated (bonus lost)",
        "Name each reporting directive once per policy.",
    ),
    Result.cookies_session_insecure: replace(_COOKIE_FIX, problem="session cookie without Secure"),
    Result.cookies_session_without_httponly: replace(
        _COOKIE_FIX, problem="session cookie without HttpOnly"
    ),
    Result.cookies_anticsrf_without_samesite: replace(
        _COOKIE_FIX, problem="anti-CSRF cookie without SameSite"
    ),
    Result.cookies_samesite_invalid: replace(
        _COOKIE_FIX, problem="SameSite invalid, or None without Secure"
    ),
    Result.cookies_insecure: replace(_COOKIE_FIX, problem="cookie without Secure"),
    Result.cookies_session_insecure_but_hsts: replace(
        _COOKIE_FIX, problem="session cookie without Secure (HSTS protects it)"
    ),
    Result.cookies_insecure_but_hsts: replace(
        _COOKIE_FIX, problem="cookie without Secure (HSTS protects it)"
    ),
    Result.cors_universal: Fix(
        "any origin may read responses with the visitor's credentials",
        "Allow credentials only for origins you name; never echo the request's Origin back.",
        header="Access-Control-Allow-Origin: https://app.example",
        nginx='map $http_origin $cors_origin { default ""; "https://app.example" $http_origin; }'
        "  add_header Access-Control-Allow-Origin $cors_origin always;",
        caddy="@trusted header Origin https://app.example  "
        'header @trusted Access-Control-Allow-Origin "https://app.example"',
    ),
    Result.redirection_missing: replace(_REDIRECT_FIX, problem="http:// does not redirect"),
    Result.redirection_not_https: replace(_REDIRECT_FIX, problem="http:// does not end on https"),
    Result.redirection_not_https_first: replace(
        _REDIRECT_FIX, problem="first redirect stays on http"
    ),
    Result.redirection_off_host: replace(_REDIRECT_FIX, problem="first redirect leaves the host"),
    Result.redirection_invalid_cert: Fix(
        "the https target's certificate does not verify",
        "Serve a certificate that chains to a public CA and names this host (with the "
        "intermediates), e.g. from Let's Encrypt.",
        nginx="ssl_certificate /etc/letsencrypt/live/HOST/fullchain.pem;",
        caddy="HOST { tls you@example.org }",
    ),
    Result.referrer_unsafe: _header_fix(
        "leaks paths to other sites",
        "Send a policy that keeps paths on your own origin.",
        "Referrer-Policy",
        "strict-origin-when-cross-origin",
    ),
    Result.referrer_invalid: _header_fix(
        "no recognised value",
        "Send one of the standard values.",
        "Referrer-Policy",
        "strict-origin-when-cross-origin",
    ),
    Result.hsts_missing: replace(_HSTS_FIX, problem="not sent"),
    Result.hsts_invalid: replace(_HSTS_FIX, problem="header invalid (no max-age, or sent twice)"),
    Result.hsts_short: replace(_HSTS_FIX, problem="max-age under 180 days"),
    Result.hsts_no_https: Fix(
        "no https answer",
        "Serve the site over https (Caddy does it by itself; nginx with a certificate from "
        "Let's Encrypt), then send HSTS.",
        header=f"Strict-Transport-Security: {HSTS_LINE}",
        nginx="listen 443 ssl; ssl_certificate /etc/letsencrypt/live/HOST/fullchain.pem;",
        caddy="HOST { }",
    ),
    Result.hsts_invalid_cert: Fix(
        "certificate does not verify, so HSTS cannot count",
        "Serve a certificate that chains to a public CA and names this host.",
        nginx="ssl_certificate /etc/letsencrypt/live/HOST/fullchain.pem;",
        caddy="HOST { tls you@example.org }",
    ),
    Result.sri_missing_external_insecure: replace(
        _SRI_FIX, problem="third-party scripts over http without integrity"
    ),
    Result.sri_external_insecure: replace(
        _SRI_FIX, problem="third-party scripts with integrity but over http"
    ),
    Result.sri_missing_external_secure: replace(
        _SRI_FIX, problem="third-party scripts without integrity"
    ),
    Result.xcto_missing: _header_fix(
        "not sent", "Tell browsers not to guess content types.", "X-Content-Type-Options", "nosniff"
    ),
    Result.xcto_invalid: _header_fix(
        "not 'nosniff'", "Send exactly nosniff.", "X-Content-Type-Options", "nosniff"
    ),
    Result.xfo_missing: _header_fix(
        "pages can be framed by any site",
        "Forbid framing (or add frame-ancestors 'none' to the CSP instead, which earns 5 more).",
        "X-Frame-Options",
        "DENY",
    ),
    Result.xfo_invalid: _header_fix(
        "value not understood",
        "Send DENY or SAMEORIGIN, once (or use CSP frame-ancestors).",
        "X-Frame-Options",
        "DENY",
    ),
    Result.corp_invalid: _header_fix(
        "value not understood",
        "Send same-site, same-origin or cross-origin.",
        "Cross-Origin-Resource-Policy",
        "same-site",
    ),
}


def findings(card: Scorecard, subject: str) -> list[Finding]:
    """One Finding per test that failed or lost points on ``card``, about ``subject``."""
    found: list[Finding] = []
    for test in card.tests.values():
        if test.result is None:
            continue
        info_only = test.result == Result.csp_duplicate_directives
        if test.passed and test.modifier >= 0 and not info_only:
            continue
        fix = FIXES.get(test.result)
        if fix is None:
            continue
        found.append(_finding(card, test, fix, subject))
    return found


def _finding(card: Scorecard, test: TestOutcome, fix: Fix, subject: str) -> Finding:
    if test.modifier <= CRITICAL_AT:
        severity = Severity.critical
    elif test.modifier < 0 or not test.passed:
        severity = Severity.warning
    else:
        severity = Severity.info
    title = f"{TITLES.get(test.name, test.name)}: {fix.problem}"
    if test.modifier:
        title += f" ({test.modifier:+d})"
    evidence: Evidence = {
        "test": test.name,
        "result": test.result.value if test.result else None,
        "modifier": test.modifier,
        "seen": _seen(card, test),
        "score": card.score,
        "grade": card.grade,
    }
    lines = [fix.advice]
    if fix.header:
        lines.append(f"Header: {fix.header}")
    if fix.html:
        lines.append(f"HTML: {fix.html}")
    host = card.host or "HOST"  # the site's own name in the server blocks
    if fix.nginx:
        lines.append(f"nginx: {fix.nginx.replace('HOST', host)}")
    if fix.caddy:
        lines.append(f"Caddy: {fix.caddy.replace('HOST', host)}")
    return Finding(
        source=SOURCE,
        severity=severity,
        title=title,
        subject=subject,
        evidence=evidence,
        recommendation="\n".join(lines),
        impact=float(-test.modifier),
    )


def _seen(card: Scorecard, test: TestOutcome) -> str | None:
    """The header (or route, or scripts) as the site sent it, shortened."""
    data: Any = test.data.get("data")
    text: str | None
    if test.name == "content-security-policy":
        text = _header(card, "content-security-policy")
    elif test.name == "cookies":
        text = _cookies(card, data)
    elif test.name == "redirection":
        route = test.data.get("route") or []
        text = " -> ".join(route) if route else None
    elif test.name == "subresource-integrity":
        text = ", ".join(data) if isinstance(data, dict) and data else None
    else:
        text = data if isinstance(data, str) else None
    if text is None:
        return "(absent)"
    return text if len(text) <= SEEN_LIMIT else text[: SEEN_LIMIT - 1] + "…"


def _header(card: Scorecard, name: str) -> str | None:
    value = card.response_headers.get(name)
    if isinstance(value, list):
        return " | ".join(value)
    return value if isinstance(value, str) else None


_FLAGS = (("Secure", "secure"), ("HttpOnly", "httponly"), ("SameSite", "samesite"))


def _cookies(card: Scorecard, data: Any) -> str | None:
    if not isinstance(data, dict) or not data:
        return _header(card, "set-cookie")
    parts = []
    for name, cookie in data.items():
        missing = [flag for flag, key in _FLAGS if not cookie.get(key)]
        parts.append(f"{name} (no {', '.join(missing)})" if missing else name)
    return "; ".join(parts)
