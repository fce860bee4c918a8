"""Cross-origin resource sharing, from the answer to a preflight sent with a foreign Origin:
``Access-Control-Allow-Origin: *`` is public access (fine for public data); echoing the
Origin back while allowing credentials lets any site read a visitor's data (universal access,
the worst score of all)."""

from __future__ import annotations

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.jsstring import trim
from watchkeeper.audit.observatory.model import Outcome, Retrieval
from watchkeeper.audit.observatory.node_headers import NodeHeaders

NAME = "cross-origin-resource-sharing"
EXPECTATION = Result.cors_none
PASSING = frozenset({Result.cors_public, Result.cors_restricted, EXPECTATION})

REQUEST_ORIGIN_VISIBLE = False
"""Whether the scanner can see the Origin it sent when it compares. Scanner 1.4.8 looks for it
on the request object, where its HTTP library keeps no such field, so it never finds it and
never reports universal access; we do the same, to grade as it grades.
``reflects_origin_with_credentials`` tells whether a site does it all the same (the grade
does not use it)."""


def run(retrieval: Retrieval) -> Outcome:
    result = Result.cors_none
    extra: dict[str, str | None] = {"data": None}
    answer = retrieval.cors
    if answer is not None:
        headers = NodeHeaders(answer.headers)
        allowed = headers.first("access-control-allow-origin")
        if allowed:
            extra["data"] = trim(allowed[:256]).lower()
            if extra["data"] == "*":
                result = Result.cors_public
            elif REQUEST_ORIGIN_VISIBLE and reflects_origin_with_credentials(retrieval):
                result = Result.cors_universal
            else:
                result = Result.cors_restricted
    return Outcome(result, result in PASSING, extra)


def reflects_origin_with_credentials(retrieval: Retrieval) -> bool:
    """Whether the preflight's answer allowed the very Origin sent, with credentials."""
    if retrieval.cors is None:
        return False
    headers = NodeHeaders(retrieval.cors.headers)
    allowed = headers.first("access-control-allow-origin")
    credentials = headers.first("access-control-allow-credentials") or ""
    return (
        bool(allowed) and allowed == retrieval.cors_origin and credentials.strip().lower() == "true"
    )
