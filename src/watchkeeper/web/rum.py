"""``GET /rum.js`` and ``POST /rum``: real-user monitoring's public HTTP side, as plain ASGI
ahead of the framework (as the ping API is: a beacon is many and small, and FastAPI's
routing, dependencies and middleware would cost several times the beacon itself).

    GET|HEAD /rum.js   web-vitals (attribution build) and the loader as one script,
                       cacheable (ETag, an hour; gzip when asked), usable from any site
    OPTIONS  /rum      the CORS preflight of a configured origin (fetch may send one)
    POST     /rum      a batch (text/plain or application/json, at most 64 KiB):
                       202 {"accepted", "duplicates", "refused", "sampled_out"}
                       400 not a batch, 403 an origin not in rum.origins, 404 RUM is off,
                       413 too large, 415 another content type, 429 past the address's limit

No cookie is read or set, nothing needs a login or a CSRF token (a beacon changes nothing
but counts), and the client's address is used for its rate limit only, never stored.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from watchkeeper.rum.beacon import MOST_BYTES

if TYPE_CHECKING:
    from watchkeeper.engine.service import Engine
    from watchkeeper.rum.collector import Collector

HERE = Path(__file__).parent
VENDOR = HERE / "static" / "vendor" / "web-vitals" / "web-vitals.attribution.iife.js"
LOADER = HERE / "scripts" / "rum-loader.js"
SCRIPT_MAX_AGE = 3600
"""Seconds a browser keeps /rum.js before it asks again (with its ETag)."""
PREFLIGHT_MAX_AGE = 86400
_TYPES = (b"text/plain", b"application/json")
_OFF = "real-user monitoring is off: add a rum: section to the config"


@functools.cache
def script() -> tuple[bytes, str]:
    """``/rum.js`` (web-vitals, then the loader, in one function) and its ETag."""
    vendor = VENDOR.read_text(encoding="utf-8")
    vendor = "\n".join(
        line for line in vendor.splitlines() if not line.startswith("//# sourceMappingURL=")
    )
    readme = (VENDOR.parent / "README.md").read_text(encoding="utf-8").splitlines()[0]
    version = readme.removeprefix("# ").split(" (")[0]
    text = (
        f"/* Watchkeeper /rum.js: {version} (Apache-2.0, (c) Google LLC; licence at "
        "/static/vendor/web-vitals/LICENSE) and Watchkeeper's loader. */\n"
        f"(function () {{\n{vendor}\n{LOADER.read_text(encoding='utf-8')}}})();\n"
    )
    body = text.encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@functools.cache
def script_gzip() -> bytes:
    """``/rum.js`` compressed once (a third of its size), for browsers that take gzip."""
    return gzip.compress(script()[0], compresslevel=9, mtime=0)


class RumFastPath:
    """``/rum.js`` and ``/rum`` ahead of the framework; everything else goes on to it."""

    def __init__(self, app: ASGIApp, engine: Engine, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.engine = engine
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/rum":
            await self._beacon(scope, receive, send)
        elif path == "/rum.js":
            await self._script(scope, send)
        else:
            await self.app(scope, receive, send)

    async def _script(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await self._json(send, 405, {"detail": "GET /rum.js"}, [(b"allow", b"GET, HEAD")])
            return
        if not self.engine.rum.enabled:
            await self._json(send, 404, {"detail": _OFF})
            return
        body, etag = script()
        headers = [
            (b"content-type", b"text/javascript; charset=utf-8"),
            (b"cache-control", f"public, max-age={SCRIPT_MAX_AGE}".encode()),
            (b"etag", etag.encode()),
            (b"vary", b"Accept-Encoding"),
            (b"access-control-allow-origin", b"*"),
            (b"cross-origin-resource-policy", b"cross-origin"),
        ]
        if b"gzip" in (_header(scope, b"accept-encoding") or b""):
            body = script_gzip()
            headers.append((b"content-encoding", b"gzip"))
        if _header(scope, b"if-none-match") == etag.encode():
            await self._answer(send, 304, b"", headers, head=True)
            return
        await self._answer(send, 200, body, headers, head=method == "HEAD")

    async def _beacon(self, scope: Scope, receive: Receive, send: Send) -> None:
        rum: Collector = self.engine.rum
        method = scope["method"]
        origin = _header(scope, b"origin")
        origin_text = origin.decode("latin-1") if origin is not None else None
        if method not in ("POST", "OPTIONS"):
            await self._json(send, 405, {"detail": "POST /rum"}, [(b"allow", b"POST, OPTIONS")])
            return
        if not rum.enabled:
            await self._json(send, 404, {"detail": _OFF})
            return
        if not rum.allows(origin_text):
            await self._json(
                send, 403, {"detail": "this origin may not send beacons (rum.origins)"}
            )
            return
        cors = _cors(origin)
        if method == "OPTIONS":
            await self._answer(
                send,
                204,
                b"",
                [
                    *cors,
                    (b"access-control-allow-methods", b"POST"),
                    (b"access-control-allow-headers", b"content-type"),
                    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
                ],
            )
            return
        client = scope.get("client")
        wait = rum.admit(client[0] if client else None)
        if wait > 0:
            retry = [(b"retry-after", str(max(1, round(wait + 0.5))).encode())]
            await self._json(send, 429, {"detail": "too many beacons from here"}, cors + retry)
            return
        kind = (_header(scope, b"content-type") or b"text/plain").split(b";", 1)[0].strip()
        if kind.lower() not in _TYPES:
            await self._json(send, 415, {"detail": "send text/plain or application/json"}, cors)
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MOST_BYTES):
            await self._json(send, 413, {"detail": f"at most {MOST_BYTES} bytes"}, cors)
            return
        body = await _read(receive, MOST_BYTES + 1)
        if len(body) > MOST_BYTES:
            await self._json(send, 413, {"detail": f"at most {MOST_BYTES} bytes"}, cors)
            return
        taken = rum.take(body)
        if taken.status != 202:
            await self._json(send, taken.status, {"detail": taken.why}, cors)
            return
        answer: dict[str, Any] = {
            "accepted": taken.accepted,
            "duplicates": taken.duplicates,
            "refused": taken.refused,
            "sampled_out": taken.sampled_out,
        }
        if taken.why:
            answer["why"] = taken.why
        await self._json(send, 202, answer, cors)

    async def _json(
        self,
        send: Send,
        status: int,
        data: dict[str, Any],
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        await self._answer(send, status, body, [*headers, *(extra or [])])

    async def _answer(
        self,
        send: Send,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        head: bool = False,
    ) -> None:
        length = [] if status in (204, 304) else [(b"content-length", str(len(body)).encode())]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, *length, *self.headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value)
    return None


def _cors(origin: bytes | None) -> list[tuple[bytes, bytes]]:
    """The answer's CORS headers for an allowed ``origin`` (never with credentials)."""
    if origin is None:
        return []
    return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]


async def _read(receive: Receive, most: int) -> bytes:
    """At most ``most`` bytes of the body (what comes after is not buffered)."""
    data = bytearray()
    while len(data) < most:
        message = await receive()
        if message["type"] != "http.request":
            break
        data += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return bytes(data[:most])
