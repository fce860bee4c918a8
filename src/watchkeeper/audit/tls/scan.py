"""One TLS scan of ``host:port``: a first handshake that decides whether there is a TLS
server to scan at all (so a port that hangs or speaks something else gives one line within
one timeout), then every question at once, bounded by the target's semaphore."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

from watchkeeper.audit.tls import certificate, probes, suites
from watchkeeper.audit.tls.hsts import fetch as fetch_hsts
from watchkeeper.audit.tls.model import Support, TlsReport
from watchkeeper.checks._address import is_ip
from watchkeeper.checks._net import describe_os_error, readable_ca_file

PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
CONCURRENCY = 8
"""Handshakes in flight at once against one server: a fraction of a second for a whole
scan, and no more connections at once than a browser opens."""


async def scan(
    host: str,
    port: int = 443,
    *,
    server_name: str | None = None,
    timeout: float = 10,  # noqa: ASYNC109 (each handshake's own bound, not the whole scan's)
    ca_file: str | None = None,
    hsts: bool = True,
) -> TlsReport:
    """Scan the TLS endpoint ``host:port`` (SNI ``server_name``, else ``host`` unless it is
    an IP address). Each handshake is bounded by ``timeout``; a server that cannot be scanned
    gives a report whose ``error`` is one line. ``hsts=False`` skips the HTTP request.

    A port that hangs or is not TLS costs one handshake: the first decides whether there is
    anything to scan. After it, about twenty run at most ``CONCURRENCY`` at a time, so a
    server that stalls every one of them still ends the scan within four timeouts."""
    started = time.monotonic()

    def report(**fields: Any) -> TlsReport:
        elapsed = time.monotonic() - started
        return TlsReport(
            host, port, server_name, elapsed=elapsed, openssl=ssl.OPENSSL_VERSION, **fields
        )

    if ca_file is not None:
        try:
            await asyncio.to_thread(readable_ca_file, ca_file)
        except ValueError as exc:
            return report(error=str(exc))
    sni = server_name or (None if is_ip(host) else host)
    try:
        async with asyncio.timeout(timeout):
            address = await _resolve(host, port)
    except TimeoutError:
        return report(error=f"cannot resolve {host} within {timeout:g}s")
    except OSError as exc:
        return report(error=f"{host}: {describe_os_error(exc)}")
    target = probes.Target(address, port, sni, timeout, limit=asyncio.Semaphore(CONCURRENCY))
    where = f"{host}:{port}"
    first_failure: str | None = None
    try:
        async with target.slot():
            await probes.handshake(target, suites.context(ciphers="ALL:COMPLEMENTOFALL"))
    except TimeoutError:
        return report(
            error=f"{where}: no TLS handshake within {timeout:g}s (the port accepts "
            "connections but does not answer a ClientHello)",
            handshakes=target.handshakes,
        )
    except ssl.SSLError as exc:
        code = str(getattr(exc, "reason", None) or exc)
        if code in probes.NOT_TLS_REASONS:
            return report(
                error=f"{where}: not a TLS server (its answer to a ClientHello is not TLS: "
                f"{code.lower().replace('_', ' ')})",
                handshakes=target.handshakes,
            )
        first_failure = code.lower().replace("_", " ")
    except ConnectionRefusedError:
        return report(error=f"{where}: connection refused", handshakes=target.handshakes)
    except OSError as exc:
        if not isinstance(exc, ConnectionError):
            return report(error=f"{where}: {describe_os_error(exc)}", handshakes=target.handshakes)
        first_failure = describe_os_error(exc)

    host_header = (server_name or (f"[{host}]" if ":" in host else host)) + (
        "" if port == 443 else f":{port}"
    )
    (
        protocols,
        classes,
        (served, served_error),
        (verify_error, verify_failure),
        hsts_result,
    ) = await asyncio.gather(
        asyncio.gather(*(probes.protocol(target, name) for name in PROTOCOLS)),
        asyncio.gather(*(probes.cipher_class(target, c) for c in suites.CLASSES)),
        _served(target),
        _verification(target, ca_file),
        fetch_hsts(target, host_header) if hsts else _nothing(),
    )

    error = None
    if not any(p.support is Support.offered for p in protocols):
        error = f"{where}: no TLS handshake succeeded ({first_failure or 'every version refused'})"
    cert, stapling, cert_error = None, None, served_error
    if served is not None and served.chain:
        name = server_name or host
        if verify_failure is not None:
            cert_error = f"trust not checked: {verify_failure}"
        cert = certificate.describe(served.chain, verify_error, name, judged=verify_failure is None)
        stapling = certificate.judge_staple(served.staple, served.chain)
    elif served is not None:
        cert_error = "the server sent no certificate"
    tls13 = next((p for p in protocols if p.name == "TLSv1.3"), None)
    return report(
        error=error,
        protocols=tuple(protocols),
        cipher_classes=tuple(classes),
        tls13_suite=tls13.cipher if tls13 and tls13.support is Support.offered else None,
        certificate=cert,
        certificate_error=cert_error,
        stapling=stapling,
        hsts=hsts_result,
        handshakes=target.handshakes,
    )


async def _nothing() -> None:
    return None


async def _resolve(host: str, port: int) -> str:
    """The first address of ``host`` (every handshake goes to the same one)."""
    if is_ip(host):
        return host.strip("[]")
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    if not infos:
        raise OSError(f"no address for {host}")
    return str(infos[0][4][0])


async def _served(target: probes.Target) -> tuple[certificate.Served | None, str | None]:
    from OpenSSL import SSL

    try:
        return await certificate.served(target), None
    except TimeoutError:
        return None, f"no certificate within {target.timeout:g}s"
    except (OSError, SSL.Error) as exc:
        return None, f"certificate not read: {_first_line(exc)}"


async def _verification(
    target: probes.Target, ca_file: str | None
) -> tuple[ssl.SSLCertVerificationError | None, str | None]:
    try:
        return await certificate.verification(target, ca_file), None
    except TimeoutError:
        return None, f"no answer within {target.timeout:g}s"
    except OSError as exc:
        return None, _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
