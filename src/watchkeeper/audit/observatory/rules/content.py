"""Two one-header tests: X-Content-Type-Options must be ``nosniff``; a
Cross-Origin-Resource-Policy, if sent, must be one of the three values (same-site and
same-origin earn a bonus)."""

from __future__ import annotations

from typing import Any

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.jsstring import trim
from watchkeeper.audit.observatory.model import Outcome, Retrieval

XCTO = "x-content-type-options"
XCTO_EXPECTATION = Result.xcto_nosniff
CORP = "cross-origin-resource-policy"
CORP_EXPECTATION = Result.corp_same_site
CORP_VALUES = {
    "same-site": Result.corp_same_site,
    "same-origin": Result.corp_same_origin,
    "cross-origin": Result.corp_cross_origin,
}


def run_xcto(retrieval: Retrieval) -> Outcome:
    extra: dict[str, str | None] = {"data": None}
    session = retrieval.session
    if session is None or session.response is None:
        return Outcome(Result.xcto_missing, False, extra)
    header = session.headers.first(XCTO)
    if header:
        seen = header[:256]
        extra["data"] = seen
        nosniff = trim(seen).lower() == "nosniff"
        result = Result.xcto_nosniff if nosniff else Result.xcto_invalid
    else:
        result = Result.xcto_missing
    return Outcome(result, result == XCTO_EXPECTATION, extra)


def run_corp(retrieval: Retrieval) -> Outcome:
    extra: dict[str, Any] = {"data": None, "http": False, "meta": False}
    session = retrieval.session
    if session is None or session.response is None:
        return Outcome(Result.corp_missing, False, extra)
    header = session.headers.first(CORP)
    from_meta = retrieval.http_equiv.get(CORP, ())
    extra["http"] = bool(header)
    extra["meta"] = bool(from_meta)
    value = None
    if header:
        value = trim(header[:256]).lower()
    elif from_meta:
        value = trim(from_meta[-1][:256]).lower()
    result = Result.corp_missing
    if value:
        extra["data"] = value
        result = CORP_VALUES.get(value, Result.corp_invalid)
    return Outcome(result, result != Result.corp_invalid, extra)
