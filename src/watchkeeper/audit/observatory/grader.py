"""Grading: run the ten tests on a retrieval, add up their modifiers from 100, count bonuses
only when the score without them is already 90 or more, and read the grade off the chart."""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.audit.observatory.charts import (
    ALGORITHM_VERSION,
    MINIMUM_SCORE_FOR_EXTRA_CREDIT,
    STARTING_SCORE,
    Result,
    grade_for,
    modifier,
)
from watchkeeper.audit.observatory.model import (
    Outcome,
    Retrieval,
    ScanError,
    Scorecard,
    TestOutcome,
)
from watchkeeper.audit.observatory.preload import HstsPreload
from watchkeeper.audit.observatory.rules import (
    content,
    cookies,
    cors,
    csp,
    framing,
    hsts,
    redirection,
    referrer,
    sri,
)

GRADED_STATUSES = (401, 403)
"""Error answers the Observatory still grades (a login wall); other 4xx/5xx are not graded."""

Test = Callable[[Retrieval, HstsPreload], Outcome]
TESTS: tuple[tuple[str, Result, Test], ...] = (
    (csp.NAME, csp.EXPECTATION, lambda r, _p: csp.run(r)),
    (cookies.NAME, cookies.EXPECTATION, cookies.run),
    (cors.NAME, cors.EXPECTATION, lambda r, _p: cors.run(r)),
    (redirection.NAME, redirection.EXPECTATION, redirection.run),
    (referrer.NAME, referrer.EXPECTATION, lambda r, _p: referrer.run(r)),
    (hsts.NAME, hsts.EXPECTATION, hsts.run),
    (sri.NAME, sri.EXPECTATION, lambda r, _p: sri.run(r)),
    (content.XCTO, content.XCTO_EXPECTATION, lambda r, _p: content.run_xcto(r)),
    (framing.NAME, framing.EXPECTATION, lambda r, _p: framing.run(r)),
    (content.CORP, content.CORP_EXPECTATION, lambda r, _p: content.run_corp(r)),
)
"""The tests in the scanner's order (its JSON lists them so)."""


def grade(retrieval: Retrieval, *, preload: HstsPreload | None = None) -> Scorecard:
    """The Observatory's scorecard for ``retrieval``. Raises ScanError when the site gave
    nothing to grade (no answer at all, or a status the Observatory refuses)."""
    session = retrieval.session
    if session is None or session.response is None:
        raise ScanError("The site seems to be down.")
    status = session.response.status
    if status < 200 or (status >= 400 and status not in GRADED_STATUSES):
        raise ScanError(f"Site did respond with an unexpected HTTP status code {status}.")
    known = preload or HstsPreload()
    tests: dict[str, TestOutcome] = {}
    with_bonuses = uncurved = STARTING_SCORE
    for name, expectation, test in TESTS:
        outcome = test(retrieval, known)
        points = modifier(outcome.result)
        with_bonuses += points
        if points < 0:
            uncurved += points
        tests[name] = TestOutcome(
            name=name,
            expectation=expectation,
            result=outcome.result,
            passed=outcome.passed,
            modifier=points,
            data=outcome.data,
        )
    total = with_bonuses if uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else uncurved
    score, letter = grade_for(total)
    return Scorecard(
        algorithm_version=ALGORITHM_VERSION,
        score=score,
        grade=letter,
        status_code=status,
        tests=tests,
        host=retrieval.host,
        url=session.start_url,
        response_headers=session.headers.as_json(),
        uncurved_score=uncurved,
    )
