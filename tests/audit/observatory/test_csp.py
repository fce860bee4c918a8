"""The CSP parser and the CSP test against the scanner's own code (run under Node on thousands
of generated policies, in one process each), plus hostile input: huge policies, many
directives, many meta policies, cost linear in their size."""

from __future__ import annotations

import random
from typing import Any

import pytest
from tests.audit.observatory.linear import assert_linear, line_events
from tests.helpers.observatory import READ_STDIN, Scanner, run_module

from watchkeeper.audit._http import Response
from watchkeeper.audit.observatory.csp_parser import (
    DUPLICATES,
    MAX_POLICIES,
    CspError,
    parse_csp,
    parse_csp_meta,
)
from watchkeeper.audit.observatory.model import Retrieval, Visit
from watchkeeper.audit.observatory.rules import csp

DIRECTIVES = [
    "default-src", "script-src", "style-src", "object-src", "img-src", "media-src",
    "base-uri", "form-action", "frame-ancestors", "report-uri", "report-to", "connect-src",
    "SCRIPT-SRC", "Default-Src", "sandbox", "upgrade-insecure-requests",
]  # fmt: skip
SOURCES = [
    "'self'", "'none'", "'unsafe-inline'", "'unsafe-eval'", "'strict-dynamic'",
    "'nonce-abc'", "'sha256-xyz'", "'sha512-q'", "data:", "http:", "https:", "ftp:", "*",
    "http://*", "https://*.*", "https://a.example", "https://a.example/", "https://a.example/x",
    "https://a.example/x/", "https://a.example/x/y", "http://b.example", "https://a.example/%41",
    "https://a.example/%zz", "blob:", "'UNSAFE-INLINE'", "*.example.com", "'report-sample'",
    "ws:", "/path", "/", "'", "'unsafe", "https://A.EXAMPLE/X", "https://a.example.evil",
    "https://a.example_/", "h", "https://a.example/é",
]  # fmt: skip
SPACES = [" ", " ", " ", "  ", "\t", "\u00a0", "\x0b", "\u3000", "\x1c"]
SEPARATORS = ["; ", ";", " ; ", ";;", "; \r\n", ", "]


def random_policy(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 5)):
        directive = rng.choice(DIRECTIVES)
        sources = [rng.choice(SOURCES) for _ in range(rng.randint(0, 4))]
        parts.append(rng.choice(SPACES).join([directive, *sources]))
    text = "".join(part + rng.choice(SEPARATORS) for part in parts)
    if rng.random() < 0.05:
        text = rng.choice(["a", "", "img-sr", "  default-src  "])
    return text


def as_plain(policy: dict[str, set[str]]) -> dict[str, list[str]]:
    return {directive: sorted(sources) for directive, sources in policy.items()}


PARSE_SCRIPT = (
    READ_STDIN
    + """
import { parseCsp, parseCspMeta } from "PKG/analyzer/cspParser.js";
const plain = (map) => Object.fromEntries([...map].map(([k, v]) => [k, [...v].sort()]));
const order = (map) => [...map.keys()];
const out = input.map(([policies, meta]) => {
  try {
    const parsed = meta ? parseCspMeta(policies) : parseCsp(policies);
    return { policy: plain(parsed), order: order(parsed) };
  } catch (e) {
    return { error: true };
  }
});
console.log(JSON.stringify(out));
"""
)


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    return Scanner(tmp_path_factory.mktemp("scanner"))


def test_the_parser_agrees_with_the_scanners_on_generated_policies(scanner: Scanner) -> None:
    rng = random.Random(14)
    cases = [
        ([random_policy(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))], rng.random() < 0.2)
        for _ in range(3000)
    ]
    theirs = run_module(scanner, PARSE_SCRIPT, cases)
    disagreements = []
    for (policies, meta), expected in zip(cases, theirs, strict=True):
        try:
            parsed = parse_csp_meta(policies) if meta else parse_csp(policies)
            ours: dict[str, Any] = {"policy": as_plain(parsed), "order": list(parsed)}
        except CspError:
            ours = {"error": True}
        if ours != expected:
            disagreements.append((policies, meta, ours, expected))
    assert not disagreements, f"{len(disagreements)} of {len(cases)}: {disagreements[:3]}"


CSP_TEST_SCRIPT = (
    READ_STDIN
    + """
import { contentSecurityPolicyTest } from "PKG/analyzer/tests/csp.js";
import { AxiosHeaders } from "axios";
const out = input.map(({ headers, meta, https }) => {
  const axiosHeaders = new AxiosHeaders();
  for (const [name, value] of Object.entries(headers)) axiosHeaders.set(name, value);
  const requests = {
    hostname: "example.com",
    resources: { path: null },
    responses: {
      auto: { status: 200, headers: axiosHeaders,
              httpEquiv: new Map([["content-security-policy", meta]]) },
    },
    session: { url: new URL(https ? "https://example.com/" : "http://example.com/") },
  };
  const o = contentSecurityPolicyTest(requests);
  return { result: o.result, pass: o.pass, data: o.data, policy: o.policy,
           http: o.http, meta: o.meta, numPolicies: o.numPolicies };
});
console.log(JSON.stringify(out));
"""
)


def retrieval_with(headers: dict[str, str], meta: list[str], *, https: bool) -> Retrieval:
    scheme = "https" if https else "http"
    response = Response(f"{scheme}://example.com/", 200, tuple(headers.items()))
    visit = Visit(f"{scheme}://example.com/", response, verified=True)
    empty = Visit(f"{'http' if https else 'https'}://example.com/")
    return Retrieval(
        host="example.com",
        http=empty if https else visit,
        https=visit if https else empty,
        auto=scheme,
        http_equiv={"content-security-policy": tuple(meta)},
    )


def test_the_csp_test_agrees_with_the_scanners_on_generated_sites(scanner: Scanner) -> None:
    rng = random.Random(41)
    cases = []
    for _ in range(2000):
        headers = {}
        if rng.random() < 0.8:
            headers["content-security-policy"] = random_policy(rng)
        if rng.random() < 0.2:
            headers["content-security-policy-report-only"] = random_policy(rng)
        meta = [random_policy(rng) for _ in range(rng.choice([0, 0, 0, 1, 2]))]
        cases.append({"headers": headers, "meta": meta, "https": rng.random() < 0.7})
    theirs = run_module(scanner, CSP_TEST_SCRIPT, cases)
    disagreements = []
    for case, expected in zip(cases, theirs, strict=True):
        outcome = csp.run(retrieval_with(case["headers"], case["meta"], https=case["https"]))
        ours = {
            "result": outcome.result.value if outcome.result else None,
            "pass": outcome.passed,
            **{key: outcome.data[key] for key in ("data", "policy", "http", "meta", "numPolicies")},
        }
        if ours != expected:
            disagreements.append((case, ours, expected))
    assert not disagreements, f"{len(disagreements)} of {len(cases)}: {disagreements[:2]}"


def test_multiple_policies_keep_only_what_every_policy_allows() -> None:
    merged = parse_csp(
        ["default-src 'self' https://a.example/x/; img-src *", "default-src https://a.example/x/y"]
    )
    assert merged["default-src"] == {"https://a.example/x/y"}
    assert merged["img-src"] == {"*"}


def test_a_repeated_directive_invalidates_but_a_repeated_report_uri_is_only_noted() -> None:
    with pytest.raises(CspError):
        parse_csp(["script-src 'self'; script-src 'none'"])
    assert parse_csp(["default-src 'self'; report-uri /a; report-uri /b"])[DUPLICATES] == {
        "report-uri"
    }


def test_a_meta_policy_loses_the_directives_only_headers_may_set() -> None:
    parsed = parse_csp_meta(["default-src 'self'; frame-ancestors 'none'; sandbox; report-uri /r"])
    assert list(parsed) == ["default-src"]


def test_a_huge_policy_of_many_directives_and_sources_is_parsed_in_linear_time() -> None:
    def policy(size: int) -> list[str]:
        directives = "; ".join(
            f"x{index}-src https://h{index}.example 'self'" for index in range(size)
        )
        return [directives + "; script-src " + " ".join(f"'nonce-{i}'" for i in range(size))]

    assert_linear(lambda size: parse_csp(policy(size)), [2_000, 8_000])
    assert len(parse_csp(policy(50_000))) == 50_001


def test_thousands_of_meta_policies_cost_no_more_than_the_first_ones() -> None:
    many = ["default-src 'self' https://a.example"] * 100_000
    merged = parse_csp(many)
    assert merged["default-src"] == {"'self'", "https://a.example"}
    capped = line_events(lambda: parse_csp(many[:MAX_POLICIES]))
    assert line_events(lambda: parse_csp(many)) == capped


def test_a_policy_of_blanks_and_separators_only_is_linear_too() -> None:
    assert_linear(lambda size: parse_csp(["default-src" + " \t\u00a0;" * size]), [10_000, 40_000])


def test_a_page_with_policies_in_its_head_is_graded_from_them() -> None:
    outcome = csp.run(retrieval_with({}, ["default-src 'none'"], https=True))
    assert outcome.result is not None and outcome.result.value == (
        "csp-implemented-with-no-unsafe-default-src-none"
    )
