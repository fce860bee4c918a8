"""A stand-in for a node's side of the agent protocol (``/api/v1/agent/*``), for the agent's
tests only: it lets a test put the agent through what a real node does rarely and on no
command — answer 503, vanish (stopped, then back on the same port), refuse a batch (413,
400), refuse the agent (401, 403, 409) or answer too slowly. It is not the node: it keeps
what it is pushed in memory and judges nothing. The node's own side is tested against the
real ``wk up``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from aiohttp import web
from tests.helpers.ports import free_port

from watchkeeper.cluster import wire

HOST = "127.0.0.1"


class StandInNode:
    def __init__(
        self,
        monitors: list[dict[str, Any]] | None = None,
        *,
        location: str = "eu-west",
        token: str = "agent-token",
        push_every: float = 0.2,
    ) -> None:
        self.location = location
        self.token = token
        self.push_every = push_every
        self.monitors: list[dict[str, Any]] = monitors or []
        self.port = free_port()
        self.pushes: list[dict[str, Any]] = []
        """Every push body it accepted, decoded, in the order they came."""
        self.headers: list[dict[str, str]] = []
        """The headers of every request."""
        self.other_tokens: set[str] = set()
        """Tokens it knows that are not agent tokens (a 403)."""
        self.fetches = 0
        self.results_status: int | None = None
        """Answer pushes with this status (and an error) instead of taking them."""
        self.assignment_status: int | None = None
        self.delay = 0.0
        """Seconds to wait before answering anything."""
        self.answer_padding = 0
        """Bytes of padding in each answer (an oversized answer)."""
        self.protocol = wire.PROTOCOL
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def version(self) -> str:
        return hashlib.sha256(json.dumps(self.monitors, sort_keys=True).encode()).hexdigest()

    @property
    def results(self) -> list[dict[str, Any]]:
        """Every result accepted, in the order they came."""
        return [result for push in self.pushes for result in push["results"]]

    async def start(self) -> StandInNode:
        app = web.Application(client_max_size=wire.MAX_BODY)
        app.router.add_get("/api/v1/agent/assignment", self._assignment)
        app.router.add_post("/api/v1/agent/results", self._results)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        """Gone: the port refuses connections until ``start`` again (same port)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StandInNode:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- the protocol ------------------------------------------------------------------------
    def _refusal(self, request: web.Request) -> web.Response | None:
        self.headers.append(dict(request.headers))
        if request.headers.get("Authorization") in {f"Bearer {t}" for t in self.other_tokens}:
            return _error(403, "not an agent token")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "unknown token")
        if request.headers.get("X-Watchkeeper-Protocol") != str(self.protocol):
            return _error(409, f"agent protocol {self.protocol} here, update the agent")
        return None

    async def _assignment(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        self.fetches += 1
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if self.assignment_status is not None:
            return _error(self.assignment_status, "assignment unavailable")
        return web.json_response(
            {
                "protocol": self.protocol,
                "location": self.location,
                "server_time": _now(),
                "version": self.version,
                "push_every": self.push_every,
                "monitors": self.monitors,
                "padding": "x" * self.answer_padding,
            }
        )

    async def _results(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if self.results_status is not None:
            return _error(self.results_status, "not now")
        body = json.loads(await request.read())  # aiohttp undoes Content-Encoding: gzip
        for item in body["results"]:  # what a node would do with them: checked, or a 400
            try:
                wire.decode(item, "http", self.location, 0.0)
            except wire.WireError as exc:
                return _error(400, str(exc))
        self.pushes.append(body)
        return web.json_response(
            {
                "accepted": len(body["results"]),
                "refused": [],
                "server_time": _now(),
                "version": self.version,
                "padding": "x" * self.answer_padding,
            }
        )


def _now() -> float:
    return time.time()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
