"""Headers and cookies graded exactly as Mozilla's HTTP Observatory grades them.

``ALGORITHM_VERSION`` is the scoring algorithm matched: version 4, as in the npm scanner
``@mdn/mdn-http-observatory`` 1.4.8 (its ten tests: CSP, cookies, CORS, redirection,
Referrer-Policy, HSTS, SRI, X-Content-Type-Options, X-Frame-Options and CORP; no COOP/COEP in
this version). Tests run the real scanner against the same nginx sites and require the same
score, grade and per-test result and modifier.

    async with Fetcher(timeout=10) as fetch:
        retrieval = await retrieve(fetch, "example.org")
    card = grade(retrieval)                  # Scorecard: score, grade, tests
    card.as_json()                           # the scanner's JSON shape, to diff
    findings(card, "https://example.org/")   # what to fix, with header/nginx/Caddy lines

Layout: ``retrieve`` fetches (I/O), ``rules/`` holds the ten tests, ``charts`` the points and
grades, ``grader`` adds them up, ``advice`` turns a scorecard into Findings; the parsers
(``csp_parser``, ``cookie_jar``, ``html_scan``, ``node_headers``) are pure and linear-time.
"""

from watchkeeper.audit.observatory.advice import findings
from watchkeeper.audit.observatory.audit import audit_headers
from watchkeeper.audit.observatory.charts import ALGORITHM_VERSION, Result
from watchkeeper.audit.observatory.grader import grade
from watchkeeper.audit.observatory.model import (
    Retrieval,
    ScanError,
    Scorecard,
    TestOutcome,
    Visit,
)
from watchkeeper.audit.observatory.preload import HstsPreload
from watchkeeper.audit.observatory.retrieve import retrieve

__all__ = [
    "ALGORITHM_VERSION",
    "HstsPreload",
    "Result",
    "Retrieval",
    "ScanError",
    "Scorecard",
    "TestOutcome",
    "Visit",
    "audit_headers",
    "findings",
    "grade",
    "retrieve",
]
