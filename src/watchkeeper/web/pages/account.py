"""Logging in and out, and the first-run page that creates the first admin.

Sessions live in an HttpOnly, SameSite=Lax cookie (Secure when served over https). The
login and setup forms, posted before there is a session, carry a double-submit CSRF token
(a random cookie the form must repeat). Failed logins are limited per client address and
per user name; a blocked attempt is answered 429 without checking the password.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from watchkeeper.auth import AuthError
from watchkeeper.units import format_duration
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.pages.dashboard import _local
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import SESSION_COOKIE, principal_of

router = APIRouter(include_in_schema=False)
pages = Pages()
FORM_COOKIE = "wk_form"


def _secure(web: Web, request: Request) -> bool:
    return web.secure_cookies or request.url.scheme == "https"


def _with_form_token(request: Request, web: Web, render: Callable[[str], Response]) -> Response:
    """Render a pre-session form with a double-submit token, and set its cookie."""
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
    response = render(token)
    response.set_cookie(
        FORM_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(web, request),
        max_age=3600,
    )
    return response


def _form_token_ok(request: Request, sent: object) -> bool:
    cookie = request.cookies.get(FORM_COOKIE)
    return bool(cookie) and isinstance(sent, str) and hmac.compare_digest(cookie or "", sent)


def _login_page(
    request: Request,
    web: Web,
    *,
    status_code: int = 200,
    error: str | None = None,
    name: str = "",
    next_path: str = "/",
) -> Response:
    return _with_form_token(
        request,
        web,
        lambda token: pages.render(
            "login.html",
            status_code,
            user=None,
            error=error,
            name=name,
            next=next_path,
            demo=web.demo_login,
            csrf=token,
        ),
    )


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    web = web_of(request)
    if principal_of(request) is not None:
        return RedirectResponse(_local(next), status_code=303)
    if await web.run(web.needs_setup):
        return RedirectResponse("/setup", status_code=303)
    return _login_page(request, web, next_path=_local(next))


@router.post("/login")
async def login(request: Request) -> Response:
    web = web_of(request)
    form = await request.form()
    name = str(form.get("name") or "").strip()[:100]
    password = str(form.get("password") or "")
    next_path = _local(str(form.get("next") or "/"))
    if not _form_token_ok(request, form.get("csrf")):
        return _login_page(
            request,
            web,
            status_code=403,
            error="The form expired: please try again.",
            name=name,
            next_path=next_path,
        )
    address = request.client.host if request.client else "unknown"
    wait = web.by_address.blocked(address) or web.by_name.blocked(name.lower())
    if wait is not None:
        response = _login_page(
            request,
            web,
            status_code=429,
            error=f"Too many failed logins: try again in {format_duration(max(1.0, wait))}.",
            name=name,
            next_path=next_path,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    user = await web.run(web.auth.check_password, name, password) if name and password else None
    if user is None:
        web.by_address.fail(address)
        web.by_name.fail(name.lower())
        return _login_page(
            request,
            web,
            status_code=401,
            error="Wrong name or password.",
            name=name,
            next_path=next_path,
        )
    web.by_name.reset(name.lower())
    token = await web.run(web.auth.start_session, user)
    response = RedirectResponse(next_path, status_code=303)
    _set_session(response, request, web, token)
    return response


def _set_session(response: Response, request: Request, web: Web, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(web, request),
        max_age=int(web.auth.session_ttl),
        path="/",
    )
    response.delete_cookie(FORM_COOKIE)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Ends the session; the form carries the session's CSRF token."""
    web = web_of(request)
    principal = principal_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    form = await request.form()
    sent = form.get("csrf")
    if (
        principal is not None
        and principal.csrf
        and isinstance(sent, str)
        and hmac.compare_digest(sent, principal.csrf)
        and token
    ):
        await web.run(web.auth.end_session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    web = web_of(request)
    if not await web.run(web.needs_setup):
        return RedirectResponse("/login", status_code=303)
    return _setup_page(request, web)


def _setup_page(
    request: Request, web: Web, *, error: str | None = None, name: str = "", status_code: int = 200
) -> Response:
    return _with_form_token(
        request,
        web,
        lambda token: pages.render(
            "setup.html", status_code, user=None, error=error, name=name, csrf=token
        ),
    )


@router.post("/setup")
async def setup(request: Request) -> Response:
    web = web_of(request)
    if not await web.run(web.needs_setup):
        return RedirectResponse("/login", status_code=303)
    form = await request.form()
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    if not _form_token_ok(request, form.get("csrf")):
        return _setup_page(request, web, error="The form expired: try again.", name=name)
    if password != str(form.get("again") or ""):
        return _setup_page(request, web, error="The passwords differ.", name=name, status_code=422)
    try:
        await web.run(web.auth.add_user, name, password, "admin")
    except AuthError as exc:
        return _setup_page(request, web, error=str(exc), name=name, status_code=422)
    user = await web.run(web.auth.check_password, name, password)
    assert user is not None
    token = await web.run(web.auth.start_session, user)
    response = RedirectResponse("/", status_code=303)
    _set_session(response, request, web, token)
    return response
