"""Cookies: every cookie the graded session stored (expired ones too) should be Secure, session
and login cookies (a name containing "sess" or "login") HttpOnly as well, anti-CSRF cookies
SameSite; a SameSite with no or an unknown value is invalid. The worst finding wins; HSTS
softens a missing Secure flag. All cookies Secure, sessions HttpOnly and every cookie SameSite
earns a bonus."""

from __future__ import annotations

from typing import Any

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.cookie_jar import invalid_same_site
from watchkeeper.audit.observatory.model import Outcome, Retrieval
from watchkeeper.audit.observatory.preload import HstsPreload
from watchkeeper.audit.observatory.rules import hsts

NAME = "cookies"
EXPECTATION = Result.cookies_secure_httponly
IGNORED = ("heroku-session-affinity",)
"""Cookies the scanner leaves out (a platform's, set with no flags the site controls)."""
WORST_LAST = (
    Result.cookies_insecure_but_hsts,
    Result.cookies_insecure,
    Result.cookies_session_insecure_but_hsts,
    Result.cookies_samesite_invalid,
    Result.cookies_anticsrf_without_samesite,
    Result.cookies_session_without_httponly,
    Result.cookies_session_insecure,
)
PASSING = frozenset({Result.cookies_none, Result.cookies_secure_httponly_samesite, EXPECTATION})
MAX_DATA = 32_768


def _worse(new: Result, old: Result | None) -> Result:
    if old is None or WORST_LAST.index(new) > WORST_LAST.index(old):
        return new
    return old


def run(retrieval: Retrieval, preload: HstsPreload) -> Outcome:
    protected = hsts.run(retrieval, preload).passed
    result: Result | None = None
    session = retrieval.session
    if session is not None and session.response is not None:
        for raw in session.headers.values_of("set-cookie"):
            if invalid_same_site(raw):
                result = _worse(Result.cookies_samesite_invalid, result)
    cookies = [
        cookie
        for cookie in (session.cookies if session else ())
        if cookie.name and cookie.name not in IGNORED
    ]
    extra: dict[str, Any] = {"data": None, "sameSite": False}
    if not cookies:
        result = Result.cookies_none
    else:
        missing_same_site = False
        for cookie in cookies:
            lowered = cookie.name.lower()
            session_cookie = "login" in lowered or "sess" in lowered
            if not cookie.secure and cookie.same_site == "none":
                result = _worse(Result.cookies_samesite_invalid, result)
            if not cookie.secure:
                flaw = Result.cookies_insecure_but_hsts if protected else Result.cookies_insecure
                result = _worse(flaw, result)
            if "csrf" in lowered and not cookie.same_site:
                result = _worse(Result.cookies_anticsrf_without_samesite, result)
            if session_cookie and not cookie.secure:
                flaw = (
                    Result.cookies_session_insecure_but_hsts
                    if protected
                    else Result.cookies_session_insecure
                )
                result = _worse(flaw, result)
            if session_cookie and not cookie.http_only:
                result = _worse(Result.cookies_session_without_httponly, result)
            if not cookie.same_site:
                missing_same_site = True
        if result is None:
            result = (
                Result.cookies_secure_httponly
                if missing_same_site
                else Result.cookies_secure_httponly_samesite
            )
            extra["sameSite"] = not missing_same_site
        # the scanner measures the cookies joined as text, where each reads "[object Object]"
        if len("[object Object]") * len(cookies) < MAX_DATA:
            extra["data"] = {cookie.name: cookie.as_json() for cookie in cookies}
    return Outcome(result, result in PASSING, extra)
