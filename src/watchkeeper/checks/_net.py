"""Network helpers shared by the check kinds: name resolution with a DNS phase, one-line
reasons for socket and TLS failures, and the facts a certificate offers to expectations.

cryptography is imported when a certificate is read and asyncio when a stream is opened, not
with this module: the check kinds' settings import it, and loading a config (``wk validate``)
neither reads a certificate nor connects."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.checks._address import is_ip
from watchkeeper.checks.base import Attempt, Resources
from watchkeeper.resolver import Address, NameResolver, ResolveError

if TYPE_CHECKING:
    import asyncio

    from cryptography import x509

_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.ECONNABORTED: "connection aborted",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connect timed out",
    errno.EPIPE: "connection closed by peer (broken pipe)",
    errno.EADDRNOTAVAIL: "address not available",
}

# OpenSSL X509 verification codes worth a plain-words reason.
_VERIFY_REASONS = {
    9: "certificate not yet valid",
    10: "certificate expired",
    18: "self-signed certificate",
    19: "self-signed certificate in the chain (untrusted root)",
    20: "untrusted issuer (unable to get local issuer certificate)",
    21: "incomplete chain (unable to verify the first certificate)",
    23: "certificate revoked",
    26: "certificate not valid for this purpose",
    62: "hostname mismatch",
    64: "IP address mismatch",
}

RUNTIME = ("asyncio", "aiodns", "pycares", "cryptography.x509", "cryptography.x509.oid")
"""What these helpers (and ``watchkeeper.resolver``) import on first use: for
``CheckKind.runtime``."""

TLS_SUBJECTS = (
    "cert.expires_in",
    "cert.issuer",
    "cert.subject",
    "cert.sans",
    "tls.protocol",
    "tls.cipher",
)


def describe_os_error(exc: BaseException) -> str:
    """``connection refused``, ``connection reset by peer``... for socket-level errors."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "connection closed by peer (broken pipe)"
    if isinstance(exc, ResolveError):
        return f"DNS: {exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_REASONS:
        return _ERRNO_REASONS[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def describe_verify_error(exc: ssl.SSLCertVerificationError) -> str:
    """``TLS: certificate expired``, ``TLS: hostname mismatch (...)``, ``TLS: self-signed ...``"""
    code = getattr(exc, "verify_code", None)
    message = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    reason = _VERIFY_REASONS.get(code or -1)
    if reason is None:
        return f"TLS: certificate not trusted ({message})"
    if code in (62, 64):
        return f"TLS: {reason} ({message.rstrip('.')})"
    return f"TLS: {reason}"


def describe_ssl_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return describe_verify_error(exc)
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return f"TLS: handshake failed ({str(reason).lower().replace('_', ' ')})"


def name_resolver(resources: Resources) -> NameResolver:
    """The engine run's one resolver (see ``watchkeeper.resolver``)."""
    return resources.shared("dns.names", lambda: NameResolver(resources.nameservers))


async def resolve(host: str, port: int, attempt: Attempt) -> list[Address]:
    """The addresses of ``host`` with the ``dns`` phase timed (skipped for IP literals).
    Raises ResolveError (an OSError) with a one-line reason."""
    if is_ip(host):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return [(family, (host.strip("[]"), port))]
    attempt.begin("dns")
    try:
        addresses = await name_resolver(attempt.resources).resolve(host, port)
    except Exception:
        attempt.end("dns")
        raise
    attempt.end("dns")
    return addresses


async def open_stream(
    host: str, port: int, attempt: Attempt, limit: int = 64 * 1024
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Resolve, then TCP-connect to the first address that answers; ``connect`` is timed.

    Raises OSError (socket.gaierror for names) like asyncio.open_connection does.
    """
    import asyncio

    addresses = await resolve(host, port, attempt)
    last: OSError | None = None
    for family, address in addresses:
        attempt.begin("connect")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            last = exc
            attempt.end("connect")
            continue
        except BaseException:
            sock.close()
            raise
        attempt.end("connect")
        return await asyncio.open_connection(sock=sock, limit=limit)
    raise last or OSError(errno.EHOSTUNREACH, "no address to connect to")


async def connect_or_fail(
    host: str, port: int, attempt: Attempt, shown: str, limit: int = 64 * 1024
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """``open_stream``, or None with the failure recorded in one line (``shown`` is the
    address as the monitor wrote it, named unless the name did not resolve)."""
    try:
        return await open_stream(host, port, attempt, limit)
    except OSError as exc:
        where = "" if isinstance(exc, ResolveError) else f" ({shown})"
        attempt.fail(describe_os_error(exc) + where)
        return None


async def start_tls_or_fail(
    writer: asyncio.StreamWriter,
    attempt: Attempt,
    host: str,
    *,
    verify: bool,
    ca_file: str | None,
) -> ssl.SSLObject | None:
    """Upgrade a probe's connection to TLS in the ``tls`` phase and record the ``tls.*``
    facts; None with the failure recorded in one line when the handshake fails."""
    context = client_context(attempt.resources, verify=verify, ca_file=ca_file)
    attempt.begin("tls")
    try:
        await writer.start_tls(context, server_hostname=host)
    except (ssl.SSLError, OSError) as exc:
        attempt.fail(
            describe_ssl_error(exc) if isinstance(exc, ssl.SSLError) else describe_os_error(exc)
        )
        return None
    attempt.end("tls")
    ssl_object: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
    attempt.observation.facts.update(tls_facts(ssl_object))
    return ssl_object


async def close_stream(writer: asyncio.StreamWriter, grace: float = 1.0) -> None:
    """Close a probe's connection: gracefully (TLS close_notify, up to ``grace`` seconds) when
    the probe finished, at once when it is being cancelled, so a timeout is never overrun."""
    import asyncio

    task = asyncio.current_task()
    if task is not None and task.cancelling():
        writer.transport.abort()
        return
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):  # ssl.SSLError is an OSError
        await asyncio.wait_for(writer.wait_closed(), grace)


def cert_facts(der: bytes | None, now: float | None = None) -> dict[str, Any]:
    """What a peer certificate tells expectations: expiry, issuer, subject, names."""
    from cryptography import x509

    if not der:
        return {}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {}
    now = time.time() if now is None else now
    not_after = cert.not_valid_after_utc.timestamp()
    facts: dict[str, Any] = {
        "cert.expires_in": not_after - now,
        "cert.lifetime": not_after - cert.not_valid_before_utc.timestamp(),
        "cert.not_after": datetime.fromtimestamp(not_after, UTC).isoformat(),
        "cert.issuer": name_text(cert.issuer),
        "cert.subject": name_text(cert.subject),
        "cert.sans": frozenset(sans(cert)),
    }
    return facts


def sans(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(extension.value.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress)]
    return names


def hostname_matches(der: bytes, host: str) -> bool:
    """RFC 6125 matching against the SANs (wildcard only as the whole left-most label)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return False
    names = sans(cert)
    host = host.rstrip(".").lower()
    if is_ip(host):
        target = ipaddress.ip_address(host.strip("[]"))
        return any(is_ip(n) and ipaddress.ip_address(n) == target for n in names)
    if not names:
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names = [str(common[0].value)] if common else []
    for name in names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == name[2:] and not is_ip(host):
                return True
    return False


def tls_facts(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any]:
    """Negotiated protocol and cipher, plus the peer certificate's facts."""
    if ssl_object is None:
        return {}
    facts = cert_facts(ssl_object.getpeercert(binary_form=True))
    version = ssl_object.version()
    if version:
        facts["tls.protocol"] = version
    cipher = ssl_object.cipher()
    if cipher:
        facts["tls.cipher"] = cipher[0]
    return facts


def name_text(name: x509.Name) -> str:
    """A distinguished name as text (RFC 4514, or as it comes if that fails)."""
    try:
        return name.rfc4514_string()
    except ValueError:
        return str(name)


def readable_ca_file(value: str | None) -> str | None:
    """A settings validator: a ``ca_file`` must be a readable file when the config loads."""
    if value is not None:
        try:
            open(value, "rb").close()  # only whether it opens
        except OSError as exc:
            raise ValueError(f"ca_file '{value}' cannot be read ({exc.strerror or exc})") from None
    return value


def client_context(
    resources: Resources, *, verify: bool, ca_file: str | None, check_hostname: bool = True
) -> ssl.SSLContext:
    """A client TLS context, made once per engine run for each combination and shared (loading
    the system's or a ``ca_file``'s CAs costs milliseconds). Raises ssl.SSLError or OSError
    when ``ca_file`` cannot be loaded."""

    def make() -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=ca_file)
        context.check_hostname = check_hostname and verify
        if not verify:
            context.verify_mode = ssl.CERT_NONE
        return context

    return resources.shared(f"tls.context.{verify}.{check_hostname}.{ca_file}", make)
