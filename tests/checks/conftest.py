"""Fixtures for the check tests: real servers on free ports, test certificates, and ``check``,
which parses monitors from YAML and runs them (``run_check`` / ``check_once``)."""

from __future__ import annotations

import ssl
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import pytest
from tests.helpers import faults
from tests.helpers.certs import CertificateSet, IssuedCertificate
from tests.helpers.dns_server import DnsServer
from tests.helpers.servers import Handler, RawServer, RefusingPort
from tests.helpers.web_app import ProbeTargetServer

from watchkeeper.checks import Resources
from watchkeeper.config import Monitor, parse_config
from watchkeeper.engine import check_once, run_check
from watchkeeper.model import Result

DNS_ZONE = {
    "www.example.test.": {"A": ["192.0.2.10", "192.0.2.11"], "AAAA": ["2001:db8::10"]},
    "example.test.": {
        "MX": ["10 mail.example.test.", "20 backup-mail.example.test."],
        "TXT": ['"v=spf1 -all"', '"hello" " world"'],
    },
    "text-only.example.test.": {"TXT": ['"nothing else here"']},
    "mail.example.test.": {"A": ["192.0.2.25"]},
}


def monitors_from(text: str) -> tuple[Monitor, ...]:
    """The Monitors of a ``monitors:`` YAML document (indentation is dedented)."""
    return parse_config(textwrap.dedent(text), "test.yaml").monitors


# -- running checks -----------------------------------------------------------------------------
@pytest.fixture
async def resources() -> AsyncIterator[Resources]:
    shared = Resources()
    yield shared
    await shared.aclose()


@pytest.fixture
def check(resources: Resources) -> Callable[[str], Awaitable[Result]]:
    """``await check(yaml)``: run the one monitor the YAML declares through ``run_check``."""

    async def run(text: str) -> Result:
        monitors = monitors_from(text)
        assert len(monitors) == 1, "check() runs exactly one monitor"
        return await run_check(monitors[0], resources)

    return run


@pytest.fixture
def check_all() -> Callable[[str], Awaitable[list[Result]]]:
    """``await check_all(yaml)``: run every monitor once, concurrently, via ``check_once``."""

    async def run(text: str) -> list[Result]:
        return await check_once(monitors_from(text))

    return run


@pytest.fixture
def monitors() -> Callable[[str], tuple[Monitor, ...]]:
    return monitors_from


# -- servers --------------------------------------------------------------------------------------
@pytest.fixture
async def servers() -> AsyncIterator[AsyncExitStack]:
    """Everything a test started; closed when it ends."""
    async with AsyncExitStack() as stack:
        yield stack


@pytest.fixture
async def web(servers: AsyncExitStack) -> ProbeTargetServer:
    """The probe target over plain HTTP; ``web.requests`` is what it received."""
    return await servers.enter_async_context(ProbeTargetServer())


@pytest.fixture
def serve_https(
    servers: AsyncExitStack,
) -> Callable[[IssuedCertificate], Awaitable[ProbeTargetServer]]:
    """``await serve_https(certificates.expired)``: the probe target over HTTPS."""

    async def start(certificate: IssuedCertificate) -> ProbeTargetServer:
        server = ProbeTargetServer(ssl_context=certificate.server_context())
        return await servers.enter_async_context(server)

    return start


@pytest.fixture
async def https(
    serve_https: Callable[[IssuedCertificate], Awaitable[ProbeTargetServer]],
    certificates: CertificateSet,
) -> ProbeTargetServer:
    """The probe target over HTTPS, with a certificate the test CA signed."""
    return await serve_https(certificates.valid)


@pytest.fixture
def serve_raw(servers: AsyncExitStack) -> Callable[..., Awaitable[RawServer]]:
    """``await serve_raw(handler, ssl_context=None)``: a RawServer running ``handler``."""

    async def start(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> RawServer:
        return await servers.enter_async_context(RawServer(handler, ssl_context=ssl_context))

    return start


@pytest.fixture
def refusing_port() -> Iterator[RefusingPort]:
    with RefusingPort() as port:
        yield port


# -- misbehaving peers (see tests.helpers.faults) -------------------------------------------------
@pytest.fixture
async def hanging_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    return await serve_raw(faults.never_answer())


@pytest.fixture
async def resetting_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    return await serve_raw(faults.reset_after_request())


@pytest.fixture
async def slowloris_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    return await serve_raw(faults.drip_headers())


@pytest.fixture
async def dripping_body_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    return await serve_raw(faults.drip_body())


@pytest.fixture(params=["chunked", "unframed"])
async def endless_server(
    request: pytest.FixtureRequest, serve_raw: Callable[..., Awaitable[RawServer]]
) -> RawServer:
    """Streams a body forever: chunked, or with no length at all (read until close)."""
    return await serve_raw(faults.endless_body(chunked=request.param == "chunked"))


@pytest.fixture
async def huge_length_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    """Declares a 100 MiB body and sends none of it."""
    return await serve_raw(faults.declared_huge_body(100 * 1024 * 1024))


@pytest.fixture
async def smtp_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    return await serve_raw(faults.banner(b"220 mail.example.test ESMTP Postfix\r\n"))


@pytest.fixture
async def pong_server(serve_raw: Callable[..., Awaitable[RawServer]]) -> RawServer:
    return await serve_raw(faults.reply(b"PING\r\n", b"+PONG\r\n"))


@pytest.fixture
async def tls_server(
    serve_raw: Callable[..., Awaitable[RawServer]], certificates: CertificateSet
) -> RawServer:
    """Completes a TLS handshake (test-CA certificate for localhost), then stays silent."""
    return await serve_raw(faults.silent(), certificates.valid.server_context())


# -- DNS ------------------------------------------------------------------------------------------
@pytest.fixture
async def dns_server(servers: AsyncExitStack) -> DnsServer:
    """Authoritative for DNS_ZONE over UDP and TCP; broken.example.test gets SERVFAIL."""
    return await servers.enter_async_context(DnsServer(DNS_ZONE, servfail=["broken.example.test."]))


@pytest.fixture
async def silent_dns_server(servers: AsyncExitStack) -> DnsServer:
    """Receives queries and never answers."""
    return await servers.enter_async_context(DnsServer({}, silent=True))
