"""The ``http`` kind's aiohttp session: a connector that times DNS, TCP connect and the TLS
handshake separately. Imported by the first probe, not by loading a config (see ``http``)."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import ssl
from typing import Any

import aiohappyeyeballs
import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from watchkeeper import __version__
from watchkeeper.checks._net import name_resolver, tls_facts
from watchkeeper.checks.base import Attempt

current_attempt: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "watchkeeper_http_attempt", default=None
)
"""The probe the session is working for (the connector's hooks time its phases)."""


class _TimedResolver(AbstractResolver):
    """aiohttp's resolver hook, answered by the engine's c-ares resolver (see
    ``watchkeeper.resolver``) with the ``dns`` phase timed."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        attempt = current_attempt.get()
        assert attempt is not None, "the http session is used by probes only"
        attempt.begin("dns")
        try:
            addresses = await name_resolver(attempt.resources).resolve(host, port, family)
        except Exception:
            attempt.end("dns")
            raise
        attempt.end("dns")
        return [
            {
                "hostname": host,
                "host": address[0],
                "port": address[1],
                "family": found_family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for found_family, address in addresses
        ]

    async def close(self) -> None:
        """The shared resolver is closed with the engine run's resources."""


class _TimedConnector(aiohttp.TCPConnector):
    """TCPConnector whose connection step connects the socket first, then runs the TLS
    handshake on it, timing each (aiohttp times them only together)."""

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[Any],
        req: Any,
        timeout: Any,  # noqa: ASYNC109 - aiohttp's signature; the runner enforces the timeout
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, Any]:
        attempt = current_attempt.get()
        loop = asyncio.get_running_loop()
        try:
            if attempt:
                attempt.begin("connect")
            sock = await aiohappyeyeballs.start_connection(addr_infos=addr_infos, loop=loop)
            if attempt:
                attempt.end("connect")
                if kwargs.get("ssl"):
                    attempt.begin("tls")
            try:
                transport, protocol = await loop.create_connection(*args, **kwargs, sock=sock)
            except BaseException:
                sock.close()
                raise
            if attempt:
                if kwargs.get("ssl"):
                    attempt.end("tls")
                    attempt.observation.facts.update(
                        tls_facts(transport.get_extra_info("ssl_object"))
                    )
                attempt.begin("ttfb")
            return transport, protocol
        except ssl.SSLCertVerificationError as exc:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            raise client_error(req.connection_key, exc) from exc


def new_session() -> aiohttp.ClientSession:
    connector = _TimedConnector(
        force_close=True, use_dns_cache=False, limit=0, resolver=_TimedResolver()
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": f"Watchkeeper/{__version__}"},
    )
