"""Everything wrong with a peer's certificate, said at once.

OpenSSL stops verifying at the first error it meets, and its order is its own: an expired
self-signed certificate is reported as self-signed only, an expired certificate for another
host as a hostname mismatch only. Fixing the one problem named then uncovers the next. So the
verification error is kept for what only OpenSSL can judge (the chain), and the leaf's own
dates and names are judged here from the certificate itself, read again in a handshake that
verifies nothing when the verifying one was refused.
"""

from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING

from watchkeeper.checks._address import is_ip
from watchkeeper.checks._net import (
    close_stream,
    describe_verify_error,
    hostname_matches,
    name_resolver,
    name_text,
    sans,
)
from watchkeeper.units import format_duration

if TYPE_CHECKING:  # imported where used: loading a config reads none of them (checks.prepare)
    import asyncio

    from watchkeeper.checks.base import Attempt

_NOT_YET_VALID, _EXPIRED = 9, 10
_NAME_MISMATCH = (62, 64)  # OpenSSL's own hostname and IP checks; judged here instead
_KEPT_BACK = 0.05
"""Seconds of the monitor's timeout a second handshake leaves, so that giving up on it ends
the probe with the first error rather than a timeout."""


def certificate_problems(
    error: ssl.SSLCertVerificationError | None,
    der: bytes | None,
    name: str,
    now: float | None = None,
) -> list[str]:
    """Each problem with the certificate ``der`` a server presented for ``name``, given the
    error a verifying handshake gave (None: it verified), in the order chain, dates, name:
    ``["self-signed certificate", "certificate expired 1d ago"]``. Empty: nothing wrong."""
    from cryptography import x509

    code = getattr(error, "verify_code", None) if error is not None else None
    try:
        cert = x509.load_der_x509_certificate(der) if der else None
    except ValueError:
        cert = None
    if cert is None:  # nothing to judge beyond what OpenSSL said
        return [] if error is None else [_plain(describe_verify_error(error))]
    now = time.time() if now is None else now
    problems: list[str] = []
    expired = cert.not_valid_after_utc.timestamp() - now
    early = cert.not_valid_before_utc.timestamp() - now
    if error is not None and code not in _NAME_MISMATCH:
        if code == _EXPIRED and expired >= 0:
            problems.append("a certificate in the chain expired")
        elif code == _NOT_YET_VALID and early <= 0:
            problems.append("a certificate in the chain is not yet valid")
        elif code not in (_EXPIRED, _NOT_YET_VALID):
            problems.append(_plain(describe_verify_error(error)))
    if expired < 0:
        problems.append(f"certificate expired {format_duration(-expired)} ago")
    elif early > 0:
        problems.append(f"certificate not yet valid (for another {format_duration(early)})")
    if not hostname_matches(der or b"", name):
        names = ", ".join(sorted(sans(cert))) or name_text(cert.subject) or "?"
        problems.append(f"hostname mismatch (certificate is for {names}, not {name})")
    return problems


def describe(problems: list[str]) -> str:
    """One failure line naming every problem."""
    return "TLS: " + "; ".join(problems)


def _plain(reason: str) -> str:
    return reason.removeprefix("TLS: ")


async def peer_certificate(
    host: str, port: int, servername: str | None, attempt: Attempt
) -> bytes | None:
    """The certificate ``host:port`` presents, read in a handshake that verifies nothing, on a
    connection outside the timed phases, within what is left of the monitor's timeout; None
    when it cannot be had (the caller keeps the error it has)."""
    import asyncio

    left = attempt.timeout - (time.time() - attempt.observation.started_at) - _KEPT_BACK
    if left <= 0:
        return None
    try:
        async with asyncio.timeout(left):
            reader, writer = await open_untimed(host, port, attempt)
            try:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                await writer.start_tls(context, server_hostname=servername)
                ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
                return ssl_object.getpeercert(binary_form=True)
            finally:
                await close_stream(writer)
                del reader
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return None


async def open_untimed(
    host: str, port: int, attempt: Attempt
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A second connection that must not add to the measured phases."""
    import asyncio

    if is_ip(host):
        return await asyncio.open_connection(host.strip("[]"), port)
    last: OSError | None = None
    for _family, address in await name_resolver(attempt.resources).resolve(host, port):
        try:
            return await asyncio.open_connection(address[0], port)
        except OSError as exc:
            last = exc
    raise last or OSError(f"no address for {host}")
