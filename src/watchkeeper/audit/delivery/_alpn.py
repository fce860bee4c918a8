"""Which HTTP version a server picks when a browser offers HTTP/2: one TLS handshake with
ALPN ``h2, http/1.1`` and nothing sent after it.

The handshake uses a context of its own, certificates not checked: ALPN says nothing about
trust (the TLS audit judges the certificate) and the fetcher's context must not be changed,
or aiohttp, which speaks HTTP/1.1 only, would be handed an HTTP/2 connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

OFFERED = ("h2", "http/1.1")


async def negotiated(host: str, port: int, *, wait: float, server_name: str | None = None) -> str:
    """The protocol the server chose (``h2``, ``http/1.1``), or ``none`` when it ignored
    ALPN. Raises OSError (one line) when there is no TLS handshake within ``wait``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(list(OFFERED))
    try:
        async with asyncio.timeout(wait):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=server_name or host
            )
    except TimeoutError:
        raise OSError(f"no TLS handshake with {host}:{port} within {wait:g}s") from None
    except (ssl.SSLError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OSError(f"TLS handshake with {host}:{port} failed: {reason}") from None
    try:
        chosen = writer.get_extra_info("ssl_object").selected_alpn_protocol()
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(1):
                await writer.wait_closed()
    return str(chosen) if chosen else "none"
