"""Redirection: ``http://host/`` should lead to https, and its first hop should go to https on
the same host (so HSTS can be set for it) before going anywhere else. A host whose every hop is
on the HSTS preload list needs no redirect (browsers never ask over http)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.model import Outcome, Retrieval
from watchkeeper.audit.observatory.preload import HstsPreload

NAME = "redirection"
EXPECTATION = Result.redirection_to_https
PASSING = frozenset({Result.redirection_no_http, Result.redirection_all_preloaded, EXPECTATION})


def run(retrieval: Retrieval, preload: HstsPreload) -> Outcome:
    http = retrieval.http
    response = http.response
    route = http.history
    extra: dict[str, Any] = {
        "destination": route[-1].url if route else None,
        "redirects": True,
        "route": [],
        "statusCode": response.status if response else None,
    }
    if response is None:
        result = Result.redirection_no_http
    elif not http.verified:
        result = Result.redirection_invalid_cert
    else:
        extra["route"] = [hop.url for hop in route]
        parts = [urlsplit(hop.url) for hop in route]
        if all(preload.lookup(part.hostname or "") for part in parts):
            result = Result.redirection_all_preloaded
        elif len(route) == 1:
            result = Result.redirection_missing
            extra["redirects"] = False
        elif parts[-1].scheme != "https":
            result = Result.redirection_not_https
        elif parts[1].scheme == "http":
            result = Result.redirection_not_https_first
            extra["statusCode"] = route[-1].status
        elif (
            parts[0].scheme == "http"
            and parts[1].scheme == "https"
            and (parts[0].hostname != parts[1].hostname)
        ):
            result = Result.redirection_off_host
        else:
            result = Result.redirection_to_https
    if len(json.dumps(extra["route"])) > 8192:
        extra["route"] = []
    if extra["statusCode"] is not None and len(str(extra["statusCode"])) >= 5:
        extra["statusCode"] = None
    return Outcome(result, result in PASSING, extra)
