"""What a retrieval saw and what grading made of it: plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from watchkeeper.audit._http import Response
from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.cookie_jar import Cookie
from watchkeeper.audit.observatory.node_headers import NodeHeaders


class ScanError(Exception):
    """The site cannot be graded (down, or an answer the Observatory does not grade): the
    one-line reason is the message, worded as the scanner's error."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One answer of a redirect chain."""

    url: str
    status: int


@dataclass(frozen=True)
class Visit:
    """One of the two sessions the retriever opens (``http://host/`` and ``https://host/``):
    the chain of answers followed hop by hop, its cookie jar, and whether certificates
    verified."""

    start_url: str
    response: Response | None = None
    """The last answer of the chain; None when no answer came (refused, timed out, ...)."""
    history: tuple[Hop, ...] = ()
    verified: bool = True
    """False when a certificate did not verify and the chain was fetched again without
    checking (as the scanner does, to grade the rest)."""
    cookies: tuple[Cookie, ...] = ()
    error: str | None = None
    """Why there is no answer, or why the chain stopped early (a redirect to a host this
    audit may not visit)."""

    @cached_property
    def headers(self) -> NodeHeaders:
        return NodeHeaders(self.response.headers if self.response else ())

    @property
    def scheme(self) -> str:
        return self.start_url.split(":", 1)[0]


@dataclass(frozen=True)
class Retrieval:
    """Everything the tests look at, for one host."""

    host: str
    http: Visit
    https: Visit
    auto: Literal["http", "https"] | None
    """The session graded: https when it answered, else http, else None (the site is down)."""
    page: str | None = None
    """The base page as text (None when it was not text: JSON, say)."""
    http_equiv: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Headers given by the page's meta tags: content-security-policy and referrer-policy."""
    cors: Response | None = None
    """The answer to the CORS preflight (OPTIONS with an Origin)."""
    cors_origin: str = ""
    """The Origin that preflight sent."""
    elapsed: float = 0.0

    @property
    def session(self) -> Visit | None:
        if self.auto is None:
            return None
        return self.https if self.auto == "https" else self.http

    @property
    def response(self) -> Response | None:
        session = self.session
        return session.response if session else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one test found, before grading: the result and the scanner's extra fields."""

    result: Result | None
    passed: bool
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    name: str
    expectation: Result
    result: Result | None
    passed: bool
    modifier: int
    data: dict[str, Any] = field(default_factory=dict)
    """The scanner's other fields for this test (``data``, ``policy``, ``route``, ...)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation.value,
            "pass": self.passed,
            "result": self.result.value if self.result else None,
            "scoreModifier": self.modifier,
            **self.data,
        }


@dataclass(frozen=True)
class Scorecard:
    algorithm_version: int
    score: int
    grade: str
    status_code: int
    tests: dict[str, TestOutcome]
    host: str = ""
    url: str = ""
    """The URL graded (the start of the session graded)."""
    response_headers: Mapping[str, Any] = field(default_factory=dict)
    uncurved_score: int = 0
    """The score before bonuses (bonuses count only when this is 90 or more)."""

    @property
    def tests_passed(self) -> int:
        return sum(1 for test in self.tests.values() if test.passed)

    def as_json(self) -> dict[str, Any]:
        """The scanner's JSON (``scan`` and ``tests``), so the two can be diffed."""
        return {
            "scan": {
                "algorithmVersion": self.algorithm_version,
                "grade": self.grade,
                "error": None,
                "score": self.score,
                "statusCode": self.status_code,
                "testsFailed": len(self.tests) - self.tests_passed,
                "testsPassed": self.tests_passed,
                "testsQuantity": len(self.tests),
                "responseHeaders": dict(self.response_headers),
            },
            "tests": {name: test.as_json() for name, test in self.tests.items()},
        }
