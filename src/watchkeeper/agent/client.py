"""The agent's HTTP client: fetch the assignment, push results (agent protocol version 1).

Every answer is read within a timeout (connect 5 s, all of it 15 s) and a size cap (1 MiB);
every failure comes out as one exception of this tree, with a one-line message::

    AgentError
     ├─ Refused        403, 409: this agent cannot run as it is (wrong token kind or
     │                 location, another protocol version): the agent stops, exit 2
     ├─ Unauthorized   401: the token is unknown or revoked: retried with backoff
     ├─ Rejected       400, 413: the node will never take this batch: it is dropped
     └─ Away           no connection, a timeout, 5xx, any other answer it cannot use:
                       retried with backoff, results kept on disk meanwhile
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import random
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from watchkeeper import __version__
from watchkeeper.cluster.wire import PROTOCOL
from watchkeeper.printable import one_line

ASSIGNMENT_PATH = "/api/v1/agent/assignment"
RESULTS_PATH = "/api/v1/agent/results"
MAX_ANSWER = 1024 * 1024
_PARSE_INLINE = 256 * 1024
MAX_ASSIGNMENT = 256 * 1024 * 1024
"""Bytes of an assignment, decoded (about 200 bytes a monitor: a million monitors fit)."""
"""Bytes of one answer read at most."""
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
_GZIP_INLINE = 64 * 1024  # bodies past this are compressed on a thread


class AgentError(Exception):
    """The root of the client's errors (see the module's docstring)."""


class Refused(AgentError):
    """403/409: the node refuses this agent; retrying cannot help."""


class Unauthorized(AgentError):
    """401: the token is unknown or revoked."""


class Rejected(AgentError):
    """400/413: the node will never take this batch."""


class Away(AgentError):
    """The node cannot be reached or cannot answer now."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the node gives this agent to check."""

    location: str
    version: str
    push_every: float
    monitors: list[dict[str, Any]]
    server_time: float


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """The node's answer to a push (200)."""

    accepted: int
    version: str | None
    server_time: float | None
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(monitor, reason) of results the node left out."""


def check_server(url: str) -> str:
    """The node's base URL without a trailing slash; ValueError with one line if unusable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--server {url!r}: use http(s)://HOST[:PORT]")
    if parts.query or parts.fragment:
        raise ValueError(f"--server {url!r}: no query or fragment, only the node's base URL")
    return url.rstrip("/")


def trust(ca: Path | None) -> ssl.SSLContext | None:
    """The TLS context for https: the system's CAs, or only ``ca``. Raises ValueError."""
    if ca is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"--ca {ca}: cannot load it as a CA certificate ({reason})") from None


class AgentClient:
    """One session to the node. Use as an async context manager (or call ``aclose``)."""

    def __init__(
        self,
        server: str,
        token: str,
        name: str,
        *,
        location: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        max_answer: int = MAX_ANSWER,
        max_assignment: int = MAX_ASSIGNMENT,
    ) -> None:
        self.server = check_server(server)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "X-Watchkeeper-Agent": name,
            "X-Watchkeeper-Protocol": str(PROTOCOL),
            "User-Agent": f"watchkeeper-agent/{__version__}",
        }
        if location is not None:
            self._headers["X-Watchkeeper-Location"] = location
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout, connect=connect_timeout, sock_connect=connect_timeout
        )
        self._max_answer = max_answer
        self._max_assignment = max_assignment
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=4),
                auto_decompress=True,
            )
        return self._session

    # -- the two calls -----------------------------------------------------------------------
    async def assignment(self) -> Assignment:
        status, body = await self._request("GET", ASSIGNMENT_PATH, limit=self._max_assignment)
        if status != 200:
            raise _error(status, body, "fetching the assignment")
        return _assignment(body)

    async def push(self, results: list[dict[str, Any]], agent: dict[str, Any]) -> PushAnswer:
        """Push ``results`` (wire shape) with the agent's ``agent`` block; ``sent_at`` is
        this moment of the agent's clock. Raises AgentError."""
        document = {"protocol": PROTOCOL, "sent_at": time.time(), "agent": agent}
        document["results"] = results
        raw = json.dumps(document, separators=(",", ":")).encode()
        if len(raw) > _GZIP_INLINE:
            body = await asyncio.to_thread(gzip.compress, raw, 6)
        else:
            body = gzip.compress(raw, 6)
        status, answer = await self._request(
            "POST",
            RESULTS_PATH,
            data=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        if status != 200:
            raise _error(status, answer, "pushing results")
        return _push_answer(answer, len(results))

    async def _request(
        self, method: str, path: str, *, limit: int | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or None); Away for anything that is not an answer
        (nor for an answer over ``limit`` bytes, default ``max_answer``)."""
        session = self._open()
        try:
            async with session.request(method, self.server + path, **kwargs) as response:
                data = await self._read(response, limit or self._max_answer)
                status = response.status
        except AgentError:
            raise
        except TimeoutError:
            raise Away("no answer within the timeout") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise Away(f"TLS: {one_line(str(exc.certificate_error))}") from None
        except aiohttp.ClientConnectorError as exc:
            raise Away(f"cannot connect ({one_line(exc.strerror or str(exc.os_error))})") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Away(one_line(f"{type(exc).__name__}: {exc}")) from None
        try:
            if len(data) > _PARSE_INLINE:  # a big assignment: parsed off the event loop
                parsed = await asyncio.to_thread(json.loads, data)
            else:
                parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return status, parsed

    async def _read(self, response: aiohttp.ClientResponse, limit: int) -> bytes:
        length = response.content_length
        if length is not None and length > limit and not response.headers.get("Content-Encoding"):
            raise Away(f"answer too large ({length} bytes, at most {limit})")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise Away(f"answer too large (over {limit} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)


def _said(body: Any) -> str:
    """The node's one-line reason (its ``error``), if it gave one."""
    if isinstance(body, dict):
        for key in ("error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return one_line(value)
    return ""


def _error(status: int, body: Any, doing: str) -> AgentError:
    reason = _said(body)
    said = f": {reason}" if reason else ""
    if status == 409:
        return Refused(f"the node refused this agent ({status}){said}")
    if status == 403:
        return Refused(f"the node refused this token ({status}){said}")
    if status == 401:
        return Unauthorized(f"the node does not know this token ({status}){said}")
    if status in (400, 413):
        return Rejected(f"the node refused the batch ({status}){said}")
    return Away(f"{doing}: the node answered {status}{said}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _assignment(body: Any) -> Assignment:
    if not isinstance(body, dict):
        raise Away("the assignment is not a JSON object")
    if body.get("protocol") != PROTOCOL:
        raise Refused(
            f"the node speaks agent protocol {body.get('protocol')!r}, this agent {PROTOCOL}"
        )
    location, version = body.get("location"), body.get("version")
    push_every = _number(body.get("push_every"))
    monitors = body.get("monitors")
    if not isinstance(location, str) or not location:
        raise Away("the assignment names no location")
    if not isinstance(version, str):
        raise Away("the assignment has no version")
    if push_every is None or push_every <= 0:
        raise Away("the assignment's push_every is not a positive number")
    if not isinstance(monitors, list):
        raise Away("the assignment's monitors are not a list")
    return Assignment(
        location=location,
        version=version,
        push_every=push_every,
        monitors=monitors,
        server_time=_number(body.get("server_time")) or 0.0,
    )


def _push_answer(body: Any, sent: int) -> PushAnswer:
    if not isinstance(body, dict):
        raise Away("the push's answer is not a JSON object")
    accepted = body.get("accepted")
    if isinstance(accepted, bool) or not isinstance(accepted, int) or not 0 <= accepted <= sent:
        raise Away("the push's answer has no valid accepted count")
    refused: list[tuple[str, str]] = []
    for item in body.get("refused") or []:
        if isinstance(item, dict):
            refused.append((one_line(str(item.get("monitor"))), one_line(str(item.get("reason")))))
    version = body.get("version")
    return PushAnswer(
        accepted=accepted,
        version=version if isinstance(version, str) else None,
        server_time=_number(body.get("server_time")),
        refused=refused,
    )


class Backoff:
    """Waits between attempts while the node is away: doubling from ``first`` up to
    ``limit``, each drawn at random from its upper half (agents that lost the node together
    do not come back together)."""

    def __init__(
        self, first: float = 1.0, limit: float = 60.0, rng: random.Random | None = None
    ) -> None:
        self.first = first
        self.limit = limit
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The wait after one more failure."""
        ceiling = min(self.limit, self.first * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0
