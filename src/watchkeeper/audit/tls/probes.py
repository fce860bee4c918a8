"""Handshakes that ask one question each: is this protocol version offered, is a suite of
this class accepted. Each runs on its own connection, bounded by the target's timeout and
its semaphore, and ends in a result, never an exception (except cancellation).

The local OpenSSL (the stdlib's ``ssl``, one context per question) does the asking where it
can; a hand-made ClientHello (``hello``) covers the versions and suites it cannot offer.
Only where neither can ask is the answer "not testable here".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from watchkeeper.audit.tls import hello, suites
from watchkeeper.audit.tls.model import CipherClassResult, Method, ProtocolResult, Support
from watchkeeper.audit.tls.suites import CipherClass

VERSIONS: dict[str, tuple[ssl.TLSVersion | None, int | None]] = {
    # name: (the stdlib's version, the wire version a hand-made hello uses)
    "SSLv2": (None, 0x0002),
    "SSLv3": (ssl.TLSVersion.SSLv3, 0x0300),
    "TLSv1": (ssl.TLSVersion.TLSv1, 0x0301),
    "TLSv1.1": (ssl.TLSVersion.TLSv1_1, 0x0302),
    "TLSv1.2": (ssl.TLSVersion.TLSv1_2, 0x0303),
    "TLSv1.3": (ssl.TLSVersion.TLSv1_3, None),
}

NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "UNKNOWN_PROTOCOL",
        "RECORD_LENGTH_MISMATCH",
        "BAD_RECORD_TYPE",
    }
)
"""What OpenSSL says when the answer to its ClientHello is not TLS at all."""

_NO_SHARED_CIPHER = frozenset({"SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_SHARED_CIPHER"})


@dataclass
class Target:
    """Where the handshakes go: an address resolved once, the name sent as SNI, the
    timeout of each handshake and the bound on how many run at once."""

    address: str
    port: int
    server_name: str | None
    timeout: float
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))
    handshakes: int = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.limit:
            self.handshakes += 1
            async with asyncio.timeout(self.timeout):
                yield


@dataclass(frozen=True, slots=True)
class Shaken:
    """A completed OpenSSL handshake."""

    version: str | None
    cipher: str | None
    certificate: bytes | None


async def handshake(target: Target, context: ssl.SSLContext) -> Shaken:
    """One handshake with ``context``; raises what it fails with (ssl.SSLError, OSError,
    TimeoutError). The caller holds a ``slot``."""
    reader, writer = await asyncio.open_connection(
        target.address,
        target.port,
        ssl=context,
        server_hostname=target.server_name or "",
        ssl_handshake_timeout=target.timeout,
    )
    try:
        ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
        cipher = ssl_object.cipher()
        return Shaken(
            ssl_object.version(),
            cipher[0] if cipher else None,
            ssl_object.getpeercert(binary_form=True),
        )
    finally:
        writer.transport.abort()  # the answer is in; no close_notify to wait for
        del reader


def reason(exc: BaseException, timeout: float) -> tuple[Support, str]:
    """A failed handshake as a result: refused by the server (not offered) or no usable
    answer (unknown), with a short reason."""
    if isinstance(exc, TimeoutError):
        return Support.unknown, f"no answer within {timeout:g}s"
    if isinstance(exc, ssl.SSLError):
        code = str(getattr(exc, "reason", None) or exc)
        if code in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE"):
            return Support.untestable, code.lower().replace("_", " ")
        return Support.not_offered, code.lower().replace("_", " ")
    if isinstance(exc, ConnectionRefusedError):
        return Support.unknown, "connection refused"
    if isinstance(exc, ConnectionError | EOFError | asyncio.IncompleteReadError):
        return Support.not_offered, "connection closed"
    return Support.unknown, (str(exc).splitlines() or [type(exc).__name__])[0][:120]


@functools.cache
def can_offer(name: str) -> bool:
    """The local OpenSSL writes a ClientHello for protocol ``name`` alone (Debian's needs
    security level 0 for TLS 1.0/1.1; SSLv3 is not built at all)."""
    version = VERSIONS[name][0]
    if version is None:
        return False
    try:
        made = suites.context(version, version, "ALL:COMPLEMENTOFALL")
    except (ssl.SSLError, ValueError):
        return False
    probe = made.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
    try:
        probe.do_handshake()
    except ssl.SSLWantReadError:
        return True  # the hello is written and it waits for the server: it can offer it
    except ssl.SSLError:
        return False
    return False


async def protocol(target: Target, name: str) -> ProtocolResult:
    """Is protocol version ``name`` offered?"""
    version, wire = VERSIONS[name]
    if name == "SSLv2":
        return await _sslv2(target)
    if not can_offer(name):
        if wire is None:
            return ProtocolResult(name, Support.untestable, Method.none, detail=_LOCAL)
        return await _protocol_by_hello(target, name, wire)
    assert version is not None
    context = suites.context(version, version, "ALL:COMPLEMENTOFALL")
    try:
        async with target.slot():
            shaken = await handshake(target, context)
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        support, detail = reason(exc, target.timeout)
        code = str(getattr(exc, "reason", ""))
        if wire is not None and code in _NO_SHARED_CIPHER:
            # the version may be there with only suites this OpenSSL lacks: ask by hand
            by_hand = await _protocol_by_hello(target, name, wire)
            if by_hand.support is Support.offered:
                return by_hand
        return ProtocolResult(name, support, Method.openssl, detail=detail)
    return ProtocolResult(name, Support.offered, Method.openssl, cipher=shaken.cipher)


_LOCAL = f"the local {ssl.OPENSSL_VERSION} cannot offer it"


async def _protocol_by_hello(target: Target, name: str, wire: int) -> ProtocolResult:
    message = hello.client_hello(wire, suites.broad_suites(), target.server_name)
    answer, failure = await _ask(target, message)
    if failure is not None:
        return ProtocolResult(name, failure[0], Method.hello, detail=failure[1])
    assert answer is not None
    if answer.verdict is hello.Verdict.accepted and answer.version == wire:
        return ProtocolResult(name, Support.offered, Method.hello, cipher=_code(answer.suite))
    if answer.verdict is hello.Verdict.accepted:
        chosen = hello.VERSIONS.get(answer.version or 0, f"{answer.version:#06x}")
        return ProtocolResult(
            name, Support.not_offered, Method.hello, detail=f"the server answered with {chosen}"
        )
    if answer.verdict is hello.Verdict.not_tls:
        return ProtocolResult(name, Support.unknown, Method.hello, detail=answer.detail)
    return ProtocolResult(name, Support.not_offered, Method.hello, detail=answer.detail)


async def _sslv2(target: Target) -> ProtocolResult:
    answer, failure = await _ask(target, hello.sslv2_hello(suites.SSLV2_SPECS), sslv2=True)
    if failure is not None:
        return ProtocolResult("SSLv2", failure[0], Method.hello, detail=failure[1])
    assert answer is not None
    if answer.verdict is hello.Verdict.accepted:
        cipher = f"{answer.suite:#08x}" if answer.suite is not None else None
        return ProtocolResult("SSLv2", Support.offered, Method.hello, cipher=cipher)
    support = Support.unknown if answer.verdict is hello.Verdict.not_tls else Support.not_offered
    return ProtocolResult("SSLv2", support, Method.hello, detail=answer.detail)


async def _ask(
    target: Target, message: bytes, *, sslv2: bool = False
) -> tuple[hello.Answer | None, tuple[Support, str] | None]:
    try:
        async with target.slot():
            return await hello.try_hello(target.address, target.port, message, sslv2=sslv2), None
    except (OSError, TimeoutError) as exc:
        return None, reason(exc, target.timeout)


def _code(suite: int | None) -> str | None:
    return None if suite is None else f"{suite:#06x}"


async def cipher_class(
    target: Target, cipher_class: CipherClass, *, by_hand: bool = False
) -> CipherClassResult:
    """Does the server accept a suite of ``cipher_class`` under TLS <= 1.2? OpenSSL asks
    with the suites it has; a hand-made hello asks for the rest (all of them: ``by_hand``)."""
    local = () if by_hand else suites.local_suites(cipher_class.openssl)
    rest = suites.raw_suites(cipher_class) if by_hand else suites.missing(cipher_class)
    result = functools.partial(CipherClassResult, cipher_class.name, cipher_class.title)
    weak = cipher_class.weak
    outcomes: list[tuple[Support, str]] = []
    if local:
        try:
            context = suites.context(maximum=ssl.TLSVersion.TLSv1_2, ciphers=cipher_class.openssl)
            async with target.slot():
                shaken = await handshake(target, context)
            return result(Support.offered, Method.openssl, weak, cipher=shaken.cipher)
        except (OSError, TimeoutError) as exc:
            outcomes.append(reason(exc, target.timeout))
    if rest:
        message = hello.client_hello(0x0303, rest, target.server_name)
        answer, failure = await _ask(target, message)
        if answer is not None and answer.verdict is hello.Verdict.accepted:
            if answer.suite in rest:
                return result(Support.offered, Method.hello, weak, cipher=_code(answer.suite))
            outcomes.append((Support.unknown, f"server chose {_code(answer.suite)}, not offered"))
        elif answer is not None:
            bad = answer.verdict is hello.Verdict.not_tls
            outcomes.append((Support.unknown if bad else Support.not_offered, answer.detail))
        else:
            assert failure is not None
            outcomes.append(failure)
    method = _method(bool(local), bool(rest))
    if not outcomes:
        return result(Support.untestable, method, weak, detail=_LOCAL)
    unknown = [detail for support, detail in outcomes if support is not Support.not_offered]
    if unknown:
        return result(Support.unknown, method, weak, detail="; ".join(unknown))
    return result(Support.not_offered, method, weak, detail="; ".join(d for _, d in outcomes))


def _method(local: bool, rest: bool) -> Method:
    if local and rest:
        return Method.both
    return Method.openssl if local else Method.hello if rest else Method.none
