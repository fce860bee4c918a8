"""A small client of a Toxiproxy API (``wk chaos proxy`` or Toxiproxy itself): what an
experiment needs to set faults up and take them down. Every call has a timeout and a size
cap on the answer; a failure is a ``ChaosError`` naming the API and what it said."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

from watchkeeper.chaos.errors import ChaosError

TIMEOUT = 10.0
ANSWER_LIMIT = 1024 * 1024


class ProxyApiError(ChaosError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.answered = status


class ToxiproxyClient:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ToxiproxyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        data = None if body is None else json.dumps(body)
        try:
            async with self._session.request(
                method,
                self.url + path,
                data=data,
                headers={"Content-Type": "application/json"} if data else None,
            ) as response:
                raw = await response.content.read(ANSWER_LIMIT + 1)
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ProxyApiError(f"fault proxy API {self.url}: {reason}") from None
        if len(raw) > ANSWER_LIMIT:
            raise ProxyApiError(f"fault proxy API {self.url}: answer over {ANSWER_LIMIT} bytes")
        if status >= 400:
            said = _error_text(raw)
            raise ProxyApiError(
                f"fault proxy API {self.url}: {method} {path}: {status} {said}".rstrip(), status
            )
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ProxyApiError(f"fault proxy API {self.url}: {path} did not answer JSON") from None

    async def proxies(self) -> dict[str, dict[str, Any]]:
        found = await self._call("GET", "/proxies")
        if not isinstance(found, dict):
            raise ProxyApiError(f"fault proxy API {self.url}: /proxies is not a JSON object")
        return {str(k): v for k, v in found.items() if isinstance(v, dict)}

    async def create_proxy(self, name: str, listen: str, upstream: str) -> dict[str, Any]:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        made = await self._call("POST", "/proxies", body)
        return made if isinstance(made, dict) else {}

    async def delete_proxy(self, name: str) -> None:
        await self._call("DELETE", f"/proxies/{_seg(name)}")

    async def add_toxic(self, proxy: str, body: dict[str, object]) -> dict[str, Any]:
        made = await self._call("POST", f"/proxies/{_seg(proxy)}/toxics", body)
        return made if isinstance(made, dict) else {}

    async def remove_toxic(self, proxy: str, toxic: str) -> bool:
        """Remove a toxic; False when it (or its proxy) is already gone."""
        try:
            await self._call("DELETE", f"/proxies/{_seg(proxy)}/toxics/{_seg(toxic)}")
        except ProxyApiError as exc:
            if exc.answered == 404:
                return False
            raise
        return True


def _seg(name: str) -> str:
    return quote(name, safe="")


def _error_text(raw: bytes) -> str:
    try:
        said = json.loads(raw)
    except ValueError:
        said = None
    if isinstance(said, dict) and isinstance(said.get("error"), str):
        text = said["error"]
    else:
        text = raw[:200].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text)[:200]
