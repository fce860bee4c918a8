"""The HTTP surface of ``wk up``, composed: the gate (authentication), the API, ``/metrics``,
the dashboard, the public status pages and badges, and the static files.

Live state comes from the engine's memory; history from the store, in worker threads. The web
never runs checks itself except when asked to (``POST /api/v1/monitors/{name}/check``), and
then through the engine's scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

from watchkeeper import __version__
from watchkeeper.auth import Auth, Principal
from watchkeeper.engine.reload import Reloader
from watchkeeper.engine.service import Engine
from watchkeeper.errors import StoreError
from watchkeeper.store.database import StoreClosedError, StoreValueError, TransientStoreError
from watchkeeper.web.activity import Recorder, client_address
from watchkeeper.web.api import activity as activity_api
from watchkeeper.web.api import (
    agents,
    alerting,
    audits,
    drills,
    errors,
    monitors,
    pings,
    rum,
    system,
)
from watchkeeper.web.context import Web
from watchkeeper.web.ingest import SentryIngest, ingest_path
from watchkeeper.web.metrics import Metrics
from watchkeeper.web.pages import account, activity, api_docs, dashboard, overview, public, vitals
from watchkeeper.web.pages import audits as audit_pages
from watchkeeper.web.pages import errors as error_pages
from watchkeeper.web.rum import RumFastPath
from watchkeeper.web.security import Gate, is_api

log = logging.getLogger("watchkeeper.web")
STATIC = Path(__file__).parent / "static"
RETRY_AFTER_SECONDS = 5
"""What a 503 asks for while the store is away: soon, but not in a tight loop."""
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
}


def create_app(
    engine: Engine,
    *,
    auth: Auth | None = None,
    loopback: bool = True,
    secure_cookies: bool = False,
    demo_login: tuple[str, str] | None = None,
    reloader: Reloader | None = None,
) -> FastAPI:
    metrics = Metrics(engine)
    engine.result_listeners.append(metrics.observe)
    web = Web(
        engine=engine,
        auth=auth or Auth(engine.store),
        metrics=metrics,
        loopback=loopback,
        secure_cookies=secure_cookies,
        demo_login=demo_login,
        reloader=reloader,
    )
    app = WatchkeeperApp(
        title="Watchkeeper",
        version=__version__,
        description=(
            "Monitors, results, uptime, incidents, silences, maintenance windows and "
            "notification routes. Authenticate with `Authorization: Bearer <token>` "
            "(`wk token create --scope read|write`)."
        ),
        openapi_url=None,  # served by system.router, behind authentication
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = web
    public.follow_states(web)
    for router in (
        system.public,
        pings.router,
        system.router,
        monitors.router,
        alerting.router,
        audits.router,
        drills.router,
        agents.router,
        errors.router,
        rum.router,
        activity_api.router,
        account.router,
        public.router,
        overview.router,
        dashboard.router,
        audit_pages.router,
        vitals.router,
        error_pages.router,
        activity.router,
        api_docs.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(
            (STATIC / "favicon.svg").read_bytes(),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, exc.detail, exc.headers or {})

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        """The store is away, failed or refused a value: a short answer, never a 500."""
        if isinstance(exc, StoreValueError):
            return _error(request, 422, f"cannot keep that: {_cause(exc)}", {})
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        if isinstance(exc, TransientStoreError | StoreClosedError):
            return _error(
                request,
                503,
                f"the store is not answering ({_cause(exc)}); try again shortly",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return _error(request, 503, f"the store failed ({_cause(exc)})", {})

    # big pages (the overview of a thousand monitors is over a megabyte) travel compressed
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=5)
    # inside the gate (it knows who asks): every write goes to the activity log
    app.add_middleware(Recorder, activity=lambda: engine.activity)

    async def token_used(principal: Principal, scope: Scope) -> None:
        await engine.activity.token_used(principal.name, client_address(scope))

    # outermost: nothing runs before the gate has said who is asking
    app.add_middleware(
        Gate,
        auth=web.auth,
        needs_setup=web.needs_setup,
        headers=SECURITY_HEADERS,
        token_used=token_used,
    )
    # ahead of all of it: pings and beacons are public, plain, and many (see PingFastPath)
    plain_headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    app.add_middleware(pings.PingFastPath, engine=engine, headers=plain_headers)
    app.add_middleware(RumFastPath, engine=engine, headers=plain_headers)
    # ahead of FastAPI itself: Sentry SDKs authenticate with their DSN key (no login, no
    # CSRF, no cookie) and send thousands of events a second (see web.ingest)
    app.sentry = SentryIngest(engine.errors, plain_headers)
    return app


class WatchkeeperApp(FastAPI):
    """FastAPI, with the Sentry SDKs' URLs answered before any of its layers."""

    sentry: SentryIngest | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.sentry is not None and scope["type"] == "http":
            found = ingest_path(scope["path"])
            if found is not None:
                await self.sentry.serve(found, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _error(request: Request, status: int, detail: Any, headers: Mapping[str, str]) -> Response:
    """API callers get JSON; people on pages get a page."""
    wants_page = "text/html" in request.headers.get("accept", "")
    if is_api(request.url.path) or not wants_page:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    page = dashboard.pages.render(
        "message.html", status, user=None, title=f"Error {status}", text=str(detail)
    )
    page.headers.update(headers)
    return page


def _cause(exc: StoreError) -> str:
    """What the store said, without the 'cannot read store URL:' the log line carries."""
    return str(exc).split(": ", 1)[-1]
