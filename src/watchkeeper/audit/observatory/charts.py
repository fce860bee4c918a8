"""What each result is worth and which grade a score earns: the Observatory's published charts
for algorithm version 4 (scanner 1.4.8). A new algorithm version is a new table here, not new
tests. The numbers are the scanner's; the wording is ours."""

from __future__ import annotations

from enum import StrEnum

ALGORITHM_VERSION = 4
MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90
"""Bonuses count only when the score without them is at least this (an A already)."""
STARTING_SCORE = 100


class Result(StrEnum):
    """Every result a test can give, by the scanner's names."""

    csp_no_unsafe_default_src_none = "csp-implemented-with-no-unsafe-default-src-none"
    csp_no_unsafe = "csp-implemented-with-no-unsafe"
    csp_unsafe_inline_style_only = "csp-implemented-with-unsafe-inline-in-style-src-only"
    csp_insecure_passive_only = "csp-implemented-with-insecure-scheme-in-passive-content-only"
    csp_unsafe_eval = "csp-implemented-with-unsafe-eval"
    csp_unsafe_inline = "csp-implemented-with-unsafe-inline"
    csp_insecure_scheme = "csp-implemented-with-insecure-scheme"
    csp_duplicate_directives = "csp-implemented-but-duplicate-directives"
    csp_invalid = "csp-header-invalid"
    csp_missing = "csp-not-implemented"
    csp_report_only = "csp-not-implemented-but-reporting-enabled"

    cookies_secure_httponly_samesite = "cookies-secure-with-httponly-sessions-and-samesite"
    cookies_secure_httponly = "cookies-secure-with-httponly-sessions"
    cookies_none = "cookies-not-found"
    cookies_insecure_but_hsts = "cookies-without-secure-flag-but-protected-by-hsts"
    cookies_session_insecure_but_hsts = "cookies-session-without-secure-flag-but-protected-by-hsts"
    cookies_insecure = "cookies-without-secure-flag"
    cookies_samesite_invalid = "cookies-samesite-flag-invalid"
    cookies_anticsrf_without_samesite = "cookies-anticsrf-without-samesite-flag"
    cookies_session_without_httponly = "cookies-session-without-httponly-flag"
    cookies_session_insecure = "cookies-session-without-secure-flag"

    cors_none = "cross-origin-resource-sharing-not-implemented"
    cors_public = "cross-origin-resource-sharing-implemented-with-public-access"
    cors_restricted = "cross-origin-resource-sharing-implemented-with-restricted-access"
    cors_universal = "cross-origin-resource-sharing-implemented-with-universal-access"

    redirection_all_preloaded = "redirection-all-redirects-preloaded"
    redirection_to_https = "redirection-to-https"
    redirection_no_http = "redirection-not-needed-no-http"
    redirection_off_host = "redirection-off-host-from-http"
    redirection_not_https_first = "redirection-not-to-https-on-initial-redirection"
    redirection_not_https = "redirection-not-to-https"
    redirection_missing = "redirection-missing"
    redirection_invalid_cert = "redirection-invalid-cert"

    referrer_private = "referrer-policy-private"
    referrer_missing = "referrer-policy-not-implemented"
    referrer_unsafe = "referrer-policy-unsafe"
    referrer_invalid = "referrer-policy-header-invalid"

    hsts_preloaded = "hsts-preloaded"
    hsts_six_months = "hsts-implemented-max-age-at-least-six-months"
    hsts_short = "hsts-implemented-max-age-less-than-six-months"
    hsts_missing = "hsts-not-implemented"
    hsts_invalid = "hsts-header-invalid"
    hsts_no_https = "hsts-not-implemented-no-https"
    hsts_invalid_cert = "hsts-invalid-cert"

    sri_all_secure = "sri-implemented-and-all-scripts-loaded-securely"
    sri_external_secure = "sri-implemented-and-external-scripts-loaded-securely"
    sri_not_html = "sri-not-implemented-response-not-html"
    sri_no_scripts = "sri-not-implemented-but-no-scripts-loaded"
    sri_same_origin = "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
    sri_missing_external_secure = "sri-not-implemented-but-external-scripts-loaded-securely"
    sri_external_insecure = "sri-implemented-but-external-scripts-not-loaded-securely"
    sri_missing_external_insecure = "sri-not-implemented-and-external-scripts-not-loaded-securely"
    html_not_parseable = "html-not-parseable"

    xcto_nosniff = "x-content-type-options-nosniff"
    xcto_missing = "x-content-type-options-not-implemented"
    xcto_invalid = "x-content-type-options-header-invalid"

    xfo_via_csp = "x-frame-options-implemented-via-csp"
    xfo_sameorigin_or_deny = "x-frame-options-sameorigin-or-deny"
    xfo_allow_from = "x-frame-options-allow-from-origin"
    xfo_missing = "x-frame-options-not-implemented"
    xfo_invalid = "x-frame-options-header-invalid"

    corp_invalid = "corp-header-invalid"
    corp_cross_origin = "corp-implemented-with-cross-origin"
    corp_same_origin = "corp-implemented-with-same-origin"
    corp_same_site = "corp-implemented-with-same-site"
    corp_missing = "corp-not-implemented"


R = Result
MODIFIERS: dict[Result, int] = {
    R.csp_no_unsafe_default_src_none: 10,
    R.csp_no_unsafe: 5,
    R.csp_unsafe_inline_style_only: 0,
    R.csp_insecure_passive_only: -10,
    R.csp_unsafe_eval: -10,
    R.csp_unsafe_inline: -20,
    R.csp_insecure_scheme: -20,
    R.csp_invalid: -25,
    R.csp_missing: -25,
    R.csp_report_only: -25,
    R.csp_duplicate_directives: 0,
    R.cookies_secure_httponly_samesite: 5,
    R.cookies_secure_httponly: 0,
    R.cookies_none: 0,
    R.cookies_insecure_but_hsts: -5,
    R.cookies_session_insecure_but_hsts: -10,
    R.cookies_insecure: -20,
    R.cookies_samesite_invalid: -20,
    R.cookies_anticsrf_without_samesite: -20,
    R.cookies_session_without_httponly: -30,
    R.cookies_session_insecure: -40,
    R.cors_none: 0,
    R.cors_public: 0,
    R.cors_restricted: 0,
    R.cors_universal: -50,
    R.redirection_all_preloaded: 0,
    R.redirection_to_https: 0,
    R.redirection_no_http: 0,
    R.redirection_off_host: -5,
    R.redirection_not_https_first: -10,
    R.redirection_not_https: -20,
    R.redirection_missing: -20,
    R.redirection_invalid_cert: -20,
    R.referrer_private: 5,
    R.referrer_missing: 0,
    R.referrer_unsafe: -5,
    R.referrer_invalid: -5,
    R.hsts_preloaded: 5,
    R.hsts_six_months: 0,
    R.hsts_short: -10,
    R.hsts_missing: -20,
    R.hsts_invalid: -20,
    R.hsts_no_https: -20,
    R.hsts_invalid_cert: -20,
    R.sri_all_secure: 5,
    R.sri_external_secure: 5,
    R.sri_not_html: 0,
    R.sri_no_scripts: 0,
    R.sri_same_origin: 0,
    R.sri_missing_external_secure: -5,
    R.sri_external_insecure: -20,
    R.sri_missing_external_insecure: -50,
    R.xcto_nosniff: 0,
    R.xcto_missing: -5,
    R.xcto_invalid: -5,
    R.xfo_via_csp: 5,
    R.xfo_sameorigin_or_deny: 0,
    R.xfo_allow_from: 0,
    R.xfo_missing: -20,
    R.xfo_invalid: -20,
    R.corp_invalid: -5,
    R.corp_cross_origin: 0,
    R.corp_same_origin: 10,
    R.corp_same_site: 10,
    R.corp_missing: 0,
    R.html_not_parseable: -20,
}

GRADES: tuple[tuple[int, str], ...] = (
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
)
"""Lowest score (a multiple of 5) for each grade, best first."""
GRADE_ORDER = tuple(grade for _score, grade in GRADES)


def grade_for(score: int) -> tuple[int, str]:
    """The score as reported (never below 0) and its grade; above 100 is still an A+."""
    score = max(score, 0)
    step = min(score - score % 5, 100)
    grade = next(grade for lowest, grade in GRADES if step >= lowest)
    return score, grade


def modifier(result: Result | None) -> int:
    return 0 if result is None else MODIFIERS[result]
