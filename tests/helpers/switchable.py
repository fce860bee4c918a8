"""A target whose health the test decides: ``GET /<name>`` answers 200, or 503 while that
name (or everything) is failing. Monitors point at it; the test flips it."""

from __future__ import annotations

from aiohttp import web
from tests.helpers.servers import WebServer


class SwitchableTarget(WebServer):
    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.all_failing = False
        self.hits: dict[str, int] = {}
        app = web.Application()
        app.router.add_get("/{name}", self._answer)
        super().__init__(app)

    def fail(self, *names: str) -> None:
        self.failing.update(names)

    def heal(self, *names: str) -> None:
        self.failing.difference_update(names)

    def is_failing(self, name: str) -> bool:
        return self.all_failing or name in self.failing

    async def _answer(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        if self.is_failing(name):
            return web.Response(status=503, text=f"{name} is failing")
        return web.Response(text=f"{name} is fine")
