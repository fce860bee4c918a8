"""Logging in and out, and the first-run page that creates the first admin.

Sessions live in an HttpOnly, SameSite=Lax cookie (Secure when served over https). The
login and setup forms, posted before there is a session, carry a double-submit CSRF token
(a random cookie the form must repeat).

Guessing is answered by ``LoginThrottle``: refused per client (and per client and name),
paced per name except for the name's owner; every attempt is counted before its password
is checked. Password hashing runs on its own two threads (``lanes.PASSWORDS``, below normal
priority): when both are busy, a stranger's login is answered 429 at once instead of
queueing (the owner's waits its turn, first in line), so a flood can neither queue up
minutes of argon2 nor take threads from the store, checks or alerts.

The first-run setup answers only a request made on this machine to a loopback name: its
peer is loopback, its Host is ``localhost``/a loopback address, and its Origin, if any, is
that same host (a page elsewhere that rebinds its DNS name to 127.0.0.1 gets nothing).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from watchkeeper.auth import AuthError
from watchkeeper.auth.limits import address_key
from watchkeeper.errors import StoreError
from watchkeeper.lanes import PASSWORDS
from watchkeeper.units import format_duration
from watchkeeper.web.activity import records
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.pages.dashboard import _local
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import SESSION_COOKIE, local_request, principal_of

router = APIRouter(include_in_schema=False)
pages = Pages()
FORM_COOKIE = "wk_form"
DEVICE_COOKIE = "wk_device"
"""Set at a successful login: this browser has logged in as that name (not paced after)."""
OWNER_PATIENCE = 10.0
"""Seconds the owner's login waits for a hashing thread during a flood."""


def _secure(web: Web, request: Request) -> bool:
    return web.secure_cookies or request.url.scheme == "https"


def _with_form_token(request: Request, web: Web, render: Callable[[str], Response]) -> Response:
    """Render a pre-session form with a double-submit token, and set its cookie."""
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
    response = render(token)
    _cookie(response, request, web, FORM_COOKIE, token, "strict", 3600)
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
    # the store away: the app's StoreError handler answers 503 with Retry-After
    if await web.run(web.needs_setup):
        return RedirectResponse("/setup", status_code=303)
    return _login_page(request, web, next_path=_local(next))


def _too_many(
    request: Request, web: Web, wait: float, error: str, name: str, next_path: str
) -> Response:
    response = _login_page(
        request, web, status_code=429, error=error, name=name, next_path=next_path
    )
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


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
    address = address_key(request.client.host) if request.client else "unknown"
    client = request.client.host if request.client else None
    activity = web.engine.activity
    if not name or not password:
        activity.login_failed(client, name, "empty")
        return _login_page(
            request,
            web,
            status_code=401,
            error="Wrong name or password.",
            name=name,
            next_path=next_path,
        )
    verdict = web.throttle.attempt(name, address, request.cookies.get(DEVICE_COOKIE))
    if verdict.refused_for is not None:
        activity.login_failed(client, name, "throttled")
        wait = verdict.refused_for
        return _too_many(
            request,
            web,
            wait,
            f"Too many failed logins: try again in {format_duration(max(1.0, wait))}.",
            name,
            next_path,
        )
    if verdict.delay:  # the name is being guessed: its tries take turns
        await asyncio.sleep(verdict.delay)
    # both hashing threads busy: a stranger is told so at once, the owner waits its turn
    hashing = await web.hashing.take(OWNER_PATIENCE) if verdict.owner else web.hashing.try_take()
    if not hashing:
        activity.login_failed(client, name, "busy")
        web.throttle.forgive(name, address)
        return _too_many(
            request, web, 1.0, "Many logins at once: try again in a second.", name, next_path
        )
    try:
        user = await PASSWORDS.run(web.auth.check_password, name, password)
    except StoreError:
        web.throttle.forgive(name, address)  # no password was checked
        raise
    finally:
        web.hashing.give()
    if user is None:
        activity.login_failed(client, name, "wrong")
        return _login_page(
            request,
            web,
            status_code=401,
            error="Wrong name or password.",
            name=name,
            next_path=next_path,
        )
    device = web.throttle.succeeded(name, address)
    token = await web.run(web.auth.start_session, user)
    await activity.record(user.name, "login", user.name, address=client, detail={"role": user.role})
    response = RedirectResponse(next_path, status_code=303)
    _set_session(response, request, web, token)
    _cookie(response, request, web, DEVICE_COOKIE, device, "strict", 180 * 86400, "/login")
    return response


def _set_session(response: Response, request: Request, web: Web, token: str) -> None:
    _cookie(response, request, web, SESSION_COOKIE, token, "lax", int(web.auth.session_ttl))
    response.delete_cookie(FORM_COOKIE)


def _cookie(
    response: Response,
    request: Request,
    web: Web,
    name: str,
    value: str,
    samesite: Literal["lax", "strict"],
    max_age: int,
    path: str = "/",
) -> None:
    """An HttpOnly cookie, Secure when the page came over https."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite=samesite,
        secure=_secure(web, request),
        max_age=max_age,
        path=path,
    )


@router.post("/logout")
@records("logout")
async def logout(request: Request) -> Response:
    """Ends the session on the server, with or without the form's CSRF token: the worst a
    forged logout can do is log someone out, and a logout that silently left the session
    alive (a stale page's token) would be worse."""
    web = web_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            await web.run(web.auth.end_session, token)
        except StoreError:
            # the cookie is deleted below; the session itself expires with its ttl
            web.auth.forget_session(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _setup_refused(request: Request, web: Web) -> Response | None:
    """None if this request may see or use the first-run setup; else the answer."""
    if not await web.run(web.needs_setup):
        return RedirectResponse("/login", status_code=303)
    if not local_request(request.scope):
        return pages.render(
            "message.html",
            403,
            user=None,
            title="Setup is only offered on this machine",
            text="Create the first admin from a browser on the machine Watchkeeper runs "
            "on, at http://127.0.0.1:PORT/setup or http://localhost:PORT/setup, or with "
            "'wk user add NAME --role admin'.",
        )
    return None


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    web = web_of(request)
    refused = await _setup_refused(request, web)
    if refused is not None:
        return refused
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
    refused = await _setup_refused(request, web)
    if refused is not None:
        return refused
    form = await request.form()
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    if not _form_token_ok(request, form.get("csrf")):
        return _setup_page(request, web, error="The form expired: try again.", name=name)
    if password != str(form.get("again") or ""):
        return _setup_page(request, web, error="The passwords differ.", name=name, status_code=422)
    try:
        await PASSWORDS.run(web.auth.add_user, name, password, "admin")
    except AuthError as exc:
        return _setup_page(request, web, error=str(exc), name=name, status_code=422)
    user = await PASSWORDS.run(web.auth.check_password, name, password)
    assert user is not None
    client = request.client.host if request.client else None
    await web.engine.activity.record(
        name, "user.create", name, address=client, detail={"role": "admin", "via": "setup"}
    )
    token = await web.run(web.auth.start_session, user)
    await web.engine.activity.record(name, "login", name, address=client, detail={"role": "admin"})
    response = RedirectResponse("/", status_code=303)
    _set_session(response, request, web, token)
    return response
