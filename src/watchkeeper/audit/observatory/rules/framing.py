"""X-Frame-Options, or CSP frame-ancestors in its place (which earns a bonus): DENY or
SAMEORIGIN pass, ALLOW-FROM passes (browsers ignore it, the scanner does not mind), anything
else, or nothing, leaves the site open to clickjacking."""

from __future__ import annotations

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.jsstring import trim
from watchkeeper.audit.observatory.model import Outcome, Retrieval
from watchkeeper.audit.observatory.rules import csp

NAME = "x-frame-options"
EXPECTATION = Result.xfo_sameorigin_or_deny
PASSING = frozenset({Result.xfo_allow_from, Result.xfo_sameorigin_or_deny, Result.xfo_via_csp})


def run(retrieval: Retrieval) -> Outcome:
    extra: dict[str, str | None] = {"data": None}
    session = retrieval.session
    if session is None or session.response is None:
        return Outcome(Result.xfo_missing, False, extra)
    header = session.headers.first("x-frame-options")
    if header:
        seen = header[:1024]
        extra["data"] = seen
        value = trim(seen).lower()
        if value in ("deny", "sameorigin"):
            result = Result.xfo_sameorigin_or_deny
        elif value.startswith("allow-from"):
            result = Result.xfo_allow_from
        else:
            result = Result.xfo_invalid
    else:
        result = Result.xfo_missing
    policy = csp.run(retrieval).data.get("data")
    if policy and "frame-ancestors" in policy:
        result = Result.xfo_via_csp
    return Outcome(result, result in PASSING, extra)
