"""Referrer-Policy, from the header and ``<meta name="referrer">`` (the meta tag, read last,
wins): the last recognised value decides; one that keeps paths from other origins earns a
bonus, one that leaks them loses 5, as does a value nobody recognises. None at all is fine
(browsers default to strict-origin-when-cross-origin)."""

from __future__ import annotations

from typing import Any

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.jsstring import trim
from watchkeeper.audit.observatory.model import Outcome, Retrieval

NAME = "referrer-policy"
EXPECTATION = Result.referrer_private
PRIVATE = ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")
LEAKY = ("origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade")
PASSING = frozenset({Result.referrer_private, Result.referrer_missing})


def run(retrieval: Retrieval) -> Outcome:
    extra: dict[str, Any] = {"data": None, "http": False, "meta": False}
    session = retrieval.session
    if session is None or session.response is None:
        return Outcome(Result.referrer_missing, False, extra)
    from_header = session.headers.values_of("referrer-policy")
    from_meta = list(retrieval.http_equiv.get("referrer-policy", ()))
    extra["http"] = bool(from_header)
    extra["meta"] = bool(from_meta)
    if not from_header and not from_meta:
        return Outcome(Result.referrer_missing, True, extra)
    extra["data"] = ", ".join([*from_header, *from_meta])
    known = [
        trim(value).lower()
        for value in extra["data"].split(",")
        if trim(value).lower() in PRIVATE + LEAKY
    ]
    policy = known[-1] if known else ""
    if policy in PRIVATE:
        result = Result.referrer_private
    elif policy in LEAKY:
        result = Result.referrer_unsafe
    else:
        result = Result.referrer_invalid
    return Outcome(result, result in PASSING, extra)
