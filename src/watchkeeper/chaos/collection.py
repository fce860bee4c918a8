"""The proxies of one fault-proxy server, by name: what the HTTP API drives.

Every change is made under one lock (starting a proxy awaits its bind, and two clients may
race), and the caps bound what a client can make the server hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from watchkeeper.chaos.errors import BadInput, Conflict, NotFound
from watchkeeper.chaos.proxy import LOOPBACK, Proxy, check_name
from watchkeeper.chaos.toxics import Toxic, parse_toxic
from watchkeeper.resolver import NameResolver

MAX_PROXIES = 200
MAX_TOXICS = 32  # per proxy


class Proxies:
    def __init__(self, *, max_proxies: int = MAX_PROXIES, max_toxics: int = MAX_TOXICS) -> None:
        self.max_proxies = max_proxies
        self.max_toxics = max_toxics
        self._proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()
        self._resolver = NameResolver()  # upstream host names, shared by every proxy

    def all(self) -> list[Proxy]:
        return list(self._proxies.values())

    def get(self, name: str) -> Proxy:
        proxy = self._proxies.get(name)
        if proxy is None:
            raise NotFound("proxy not found")
        return proxy

    async def create(self, body: object) -> Proxy:
        fields = _proxy_fields(body)
        async with self._lock:
            return await self._create(fields)

    async def _create(self, fields: Mapping[str, object]) -> Proxy:
        name = str(fields["name"])
        if name in self._proxies:
            raise Conflict("proxy already exists")
        if len(self._proxies) >= self.max_proxies:
            raise Conflict(f"too many proxies (at most {self.max_proxies})")
        proxy = Proxy(
            name,
            str(fields["listen"]),
            str(fields["upstream"]),
            enabled=bool(fields["enabled"]),
            resolver=self._resolver,
        )
        if proxy.enabled:
            await proxy.start()
        self._proxies[name] = proxy
        return proxy

    async def update(self, name: str, body: object) -> Proxy:
        if not isinstance(body, dict):
            raise BadInput("bad request body: a proxy is a JSON object")
        async with self._lock:
            proxy = self.get(name)
            listen = body.get("listen", proxy.listen)
            upstream = body.get("upstream", proxy.upstream)
            enabled = body.get("enabled", proxy.enabled)
            if not isinstance(enabled, bool):
                raise BadInput("bad request body: enabled is true or false")
            fresh = Proxy(name, str(listen), str(upstream), enabled=enabled)  # validates
            if (fresh.listen, fresh.upstream) != (proxy.listen, proxy.upstream):
                await proxy.stop()  # a new address drops the connections, as Toxiproxy does
                proxy.listen, proxy.listen_address = fresh.listen, fresh.listen_address
                proxy.upstream, proxy.upstream_address = fresh.upstream, fresh.upstream_address
            proxy.enabled = enabled
            if enabled:
                await proxy.start()
            else:
                await proxy.stop()
            return proxy

    async def delete(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            del self._proxies[name]
            await proxy.stop()

    async def populate(self, body: object) -> list[Proxy]:
        """Create the proxies listed, replacing one of the same name whose addresses differ
        and keeping one whose addresses match. All entries are checked before any applies."""
        if not isinstance(body, list):
            raise BadInput("bad request body: populate takes a JSON array of proxies")
        if len(body) > self.max_proxies:
            raise BadInput(f"too many proxies (at most {self.max_proxies})")
        entries = [_proxy_fields(entry) for entry in body]
        result: list[Proxy] = []
        async with self._lock:
            for fields in entries:
                existing = self._proxies.get(str(fields["name"]))
                if existing is not None:
                    if (existing.listen, existing.upstream) == (
                        fields["listen"],
                        fields["upstream"],
                    ):
                        result.append(existing)
                        continue
                    del self._proxies[existing.name]
                    await existing.stop()
                result.append(await self._create(fields))
        return result

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        async with self._lock:
            for proxy in self._proxies.values():
                proxy.toxics.clear()
                proxy.changed()
                proxy.enabled = True
                await proxy.start()

    async def close(self) -> None:
        async with self._lock:
            for proxy in self._proxies.values():
                await proxy.stop()
            self._proxies.clear()
            await self._resolver.close()

    def add_toxic(self, name: str, body: object) -> Toxic:
        proxy = self.get(name)
        toxic = parse_toxic(body)
        if toxic.name in proxy.toxics:
            raise Conflict("toxic already exists")
        if len(proxy.toxics) >= self.max_toxics:
            raise Conflict(f"too many toxics on proxy {name} (at most {self.max_toxics})")
        proxy.toxics[toxic.name] = toxic
        proxy.changed()
        return toxic

    def get_toxic(self, name: str, toxic_name: str) -> Toxic:
        toxic = self.get(name).toxics.get(toxic_name)
        if toxic is None:
            raise NotFound("toxic not found")
        return toxic

    def update_toxic(self, name: str, toxic_name: str, body: object) -> Toxic:
        proxy = self.get(name)
        toxic = parse_toxic(body, self.get_toxic(name, toxic_name))
        proxy.toxics[toxic_name] = toxic  # a new identity: every connection draws again
        proxy.changed()
        return toxic

    def remove_toxic(self, name: str, toxic_name: str) -> None:
        proxy = self.get(name)
        self.get_toxic(name, toxic_name)
        del proxy.toxics[toxic_name]
        proxy.changed()


def _proxy_fields(body: object) -> dict[str, object]:
    if not isinstance(body, dict):
        raise BadInput("bad request body: a proxy is a JSON object")
    name = check_name(body.get("name"))
    upstream = body.get("upstream")
    if not upstream:
        raise BadInput("missing required field: upstream")
    listen = body.get("listen") or f"{LOOPBACK}:0"
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadInput("bad request body: enabled is true or false")
    if not isinstance(listen, str) or not isinstance(upstream, str):
        raise BadInput("bad request body: listen and upstream are host:port")
    Proxy(name, listen, upstream)  # checks both addresses
    return {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
