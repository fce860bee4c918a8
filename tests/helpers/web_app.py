"""The HTTP application the http check is tested against; it records every request it gets.

GET  /health            JSON {"status": "ok", ...} with an X-Service header
GET  /text              a plain-text page
POST /orders            201 only for the JSON body {"item": "probe", "count": 2}
GET  /needs-header      200 only with X-Probe: 1
GET  /private           200 only with basic auth probe:s3cret
GET  /redirect/{n}      302 to /redirect/{n-1}; /redirect/0 is 200
GET  /loop/a, /loop/b   302 to each other
*    /see-other         303 to /method;  POST /temporary: 307 to /method
*    /method            JSON {"method": ..., "body": ...}
GET  /not-json          an HTML page
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import hdrs, web
from tests.helpers.servers import WebServer

HEALTH = {"status": "ok", "version": "1.2.3", "items": [{"id": 1}, {"id": 2}]}
ORDER = {"item": "probe", "count": 2}
USER, PASSWORD = "probe", "s3cret"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ProbeTarget:
    """The application and the requests it has seen."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.app = web.Application(middlewares=[self._record])
        self.app.add_routes(
            [
                web.get("/health", self.health),
                web.get("/text", self.text),
                web.post("/orders", self.orders),
                web.get("/needs-header", self.needs_header),
                web.get("/private", self.private),
                web.get("/redirect/{n}", self.redirect),
                web.get("/loop/{side}", self.loop),
                web.route("*", "/see-other", self.see_other),
                web.post("/temporary", self.temporary),
                web.route("*", "/method", self.method),
                web.get("/not-json", self.not_json),
                web.get("/goto", self.goto),
            ]
        )

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Received(
                request.method,
                request.path_qs,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        return await handler(request)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(HEALTH, headers={"X-Service": "watchkeeper-test"})

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from the test server, build v42\n")

    async def orders(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.Response(status=415, text=f"content type {request.content_type}")
        try:
            document = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        if document != ORDER:
            return web.Response(status=400, text=f"unexpected order {document!r}")
        return web.json_response({"created": True, "order": document}, status=201)

    async def needs_header(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Probe") != "1":
            return web.Response(status=400, text="X-Probe header missing")
        return web.Response(text="header seen")

    async def private(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get(hdrs.AUTHORIZATION) != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="t"'})
        return web.Response(text="welcome")

    async def redirect(self, request: web.Request) -> web.Response:
        hops = int(request.match_info["n"])
        if hops == 0:
            return web.Response(text="landed")
        return _redirect(302, f"/redirect/{hops - 1}")

    async def loop(self, request: web.Request) -> web.Response:
        other = "b" if request.match_info["side"] == "a" else "a"
        return _redirect(302, f"/loop/{other}")

    async def see_other(self, request: web.Request) -> web.Response:
        return _redirect(303, "/method")

    async def temporary(self, request: web.Request) -> web.Response:
        return _redirect(307, "/method")

    async def method(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        return web.json_response({"method": request.method, "body": body})

    async def not_json(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>down for maintenance</body></html>", content_type="text/html"
        )

    async def goto(self, request: web.Request) -> web.Response:
        return _redirect(302, request.query["url"])


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


class ProbeTargetServer(WebServer):
    """The probe target served on a free port; ``requests`` lists what it received."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.target = ProbeTarget()
        super().__init__(self.target.app, ssl_context=ssl_context)

    @property
    def requests(self) -> list[Received]:
        return self.target.requests
