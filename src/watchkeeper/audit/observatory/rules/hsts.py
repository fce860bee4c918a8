"""Strict-Transport-Security on the https answer: a valid header with max-age of at least six
months passes, a shorter one loses 10, none (or no https, or a certificate that does not
verify) loses 20; a host on the preload list passes with a bonus whatever its header says."""

from __future__ import annotations

from typing import Any

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.jsstring import parse_int, trim
from watchkeeper.audit.observatory.model import Outcome, Retrieval
from watchkeeper.audit.observatory.preload import HstsPreload

NAME = "strict-transport-security"
EXPECTATION = Result.hsts_six_months
SIX_MONTHS = 15_552_000
"""180 days in seconds: the scanner's threshold (a little under six calendar months)."""
PASSING = frozenset({EXPECTATION, Result.hsts_preloaded})


def run(retrieval: Retrieval, preload: HstsPreload) -> Outcome:
    extra: dict[str, Any] = {
        "data": None,
        "includeSubDomains": False,
        "maxAge": None,
        "preload": False,
        "preloaded": False,
    }
    https = retrieval.https
    response = https.response
    result = Result.hsts_missing
    if response is None:
        result = Result.hsts_no_https
    elif not https.verified:
        result = Result.hsts_invalid_cert
    elif headers := https.headers.values_of("strict-transport-security"):
        result = _judge(headers[0][:1024], extra)
    if response is not None and (entry := preload.lookup(retrieval.host)) is not None:
        result = Result.hsts_preloaded
        extra["includeSubDomains"] = entry.include_subdomains
        extra["preloaded"] = True
    return Outcome(result, result in PASSING, extra)


def _judge(header: str, extra: dict[str, Any]) -> Result:
    extra["data"] = header
    if "," in header:  # sent twice (joined), which the scanner calls invalid
        return Result.hsts_invalid
    max_age_seen = False
    max_age: int | None = None
    for raw in header.split(";"):
        parameter = trim(raw).lower()
        if parameter.startswith("max-age="):
            max_age_seen = True
            max_age = parse_int(parameter[8:128])
        elif parameter == "includesubdomains":
            extra["includeSubDomains"] = True
        elif parameter == "preload":
            extra["preload"] = True
    extra["maxAge"] = max_age
    if not max_age_seen:
        return Result.hsts_invalid
    # a max-age that is not a number compares as NaN in the scanner: never "too short"
    if max_age is not None and max_age < SIX_MONTHS:
        return Result.hsts_short
    return Result.hsts_six_months
