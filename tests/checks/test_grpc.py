"""The grpc check against real grpcio servers the tests start with the standard health
service (plaintext, and TLS with the test CA), a grpcio server without it, and a raw TCP
server that accepts and never speaks HTTP/2."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from tests.helpers import faults
from tests.helpers.certs import IssuedCertificate

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@asynccontextmanager
async def grpc_server(
    statuses: dict[str, int] | None,
    certificate: IssuedCertificate | None = None,
    host: str = "127.0.0.1",
) -> AsyncIterator[int]:
    """A grpcio server on a free port with the health service reporting ``statuses`` (None:
    no health service at all); yields its port."""
    server = grpc.aio.server()
    if statuses is not None:
        servicer = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        for service, status in statuses.items():
            await servicer.set(service, status)
    if certificate is None:
        port = server.add_insecure_port(f"{host}:0")
    else:
        credentials = grpc.ssl_server_credentials(
            [(certificate.key_file.read_bytes(), certificate.cert_file.read_bytes())]
        )
        port = server.add_secure_port(f"{host}:0", credentials)
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


@pytest.fixture
def serve_grpc(servers: AsyncExitStack) -> Callable[..., Awaitable[int]]:
    async def start(
        statuses: dict[str, int] | None,
        certificate: IssuedCertificate | None = None,
        host: str = "127.0.0.1",
    ) -> int:
        return await servers.enter_async_context(grpc_server(statuses, certificate, host))

    return start


async def test_a_serving_server_passes(check, serve_grpc):
    port = await serve_grpc({"": SERVING})
    result = await check(f"""
        monitors:
          - name: api
            grpc: 127.0.0.1:{port}
            timeout: 5s
        """)
    assert result.ok, result.reason
    assert result.phases.connect is not None and result.phases.ttfb is not None
    assert result.phases.tls is None and result.phases.dns is None


async def test_it_reaches_a_server_over_ipv6(check, serve_grpc):
    port = await serve_grpc({"": SERVING}, host="[::1]")
    result = await check(f"""
        monitors:
          - name: api6
            grpc: "[::1]:{port}"
            timeout: 5s
        """)
    assert result.ok, result.reason


async def test_a_named_service_that_is_not_serving_fails_the_default_expectation(check, serve_grpc):
    port = await serve_grpc({"": SERVING, "payments.v1.Payments": NOT_SERVING})
    result = await check(f"""
        monitors:
          - name: payments
            grpc: {{address: "localhost:{port}", service: payments.v1.Payments}}
            timeout: 5s
        """)
    assert not result.ok
    assert result.error is None
    assert result.failures == ["grpc.status 'NOT_SERVING', expected == 'SERVING'"]
    assert result.phases.dns is not None


async def test_an_unknown_service_is_service_unknown(check, serve_grpc):
    port = await serve_grpc({"": SERVING})
    result = await check(f"""
        monitors:
          - name: nobody
            grpc: {{address: "127.0.0.1:{port}", service: no.such.Service}}
            timeout: 5s
        """)
    assert not result.ok
    assert result.failures == ["grpc.status 'SERVICE_UNKNOWN', expected == 'SERVING'"]


async def test_expectations_may_accept_another_status(check, serve_grpc):
    port = await serve_grpc({"": SERVING, "batch": NOT_SERVING})
    result = await check(f"""
        monitors:
          - name: batch
            grpc: {{address: "127.0.0.1:{port}", service: batch}}
            timeout: 5s
            expect: ["grpc.status in ['SERVING', 'NOT_SERVING']"]
        """)
    assert result.ok, result.reason


async def test_a_server_without_the_health_service_says_so(check, serve_grpc):
    port = await serve_grpc(None)
    result = await check(f"""
        monitors:
          - name: bare
            grpc: 127.0.0.1:{port}
            timeout: 5s
        """)
    assert not result.ok
    assert (
        result.error == f"127.0.0.1:{port} does not serve the gRPC health service (grpc.health.v1)"
    )


async def test_a_server_that_never_speaks_http2_times_out_naming_the_phase(check, serve_raw):
    server = await serve_raw(faults.silent())  # accepts, reads, never says a word
    result = await check(f"""
        monitors:
          - name: mute
            grpc: {server.address}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in ttfb (waiting for the HTTP/2 connection)"
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75


async def test_it_connects_over_tls_with_a_private_ca(check, serve_grpc, certificates):
    port = await serve_grpc({"": SERVING}, certificates.valid)
    result = await check(f"""
        monitors:
          - name: secure
            grpc: {{address: "localhost:{port}", tls: true, ca_file: {certificates.ca_file}}}
            timeout: 5s
            expect:
              - grpc.status == 'SERVING'
              - cert.issuer contains 'Watchkeeper Test CA'
              - tls.protocol in ['TLSv1.2', 'TLSv1.3']
        """)
    assert result.ok, result.reason
    assert result.phases.tls is not None
    assert result.cert_expires_at is not None


async def test_it_rejects_a_certificate_it_does_not_trust(check, serve_grpc, certificates):
    port = await serve_grpc({"": SERVING}, certificates.valid)
    result = await check(f"""
        monitors:
          - name: secure
            grpc: {{address: "localhost:{port}", tls: true}}
            timeout: 5s
        """)
    assert not result.ok
    assert result.error is not None and result.error.startswith("TLS: untrusted issuer")


async def test_verify_tls_false_accepts_a_self_signed_certificate(check, serve_grpc, certificates):
    port = await serve_grpc({"": SERVING}, certificates.self_signed)
    result = await check(f"""
        monitors:
          - name: selfsigned
            grpc: {{address: "127.0.0.1:{port}", tls: true, verify_tls: false}}
            timeout: 5s
        """)
    assert result.ok, result.reason


async def test_plaintext_to_a_tls_server_fails_in_one_line(check, serve_grpc, certificates):
    port = await serve_grpc({"": SERVING}, certificates.valid)
    result = await check(f"""
        monitors:
          - name: wrong
            grpc: 127.0.0.1:{port}
            timeout: 5s
        """)
    assert not result.ok
    assert result.error is not None and "\n" not in result.error
    assert result.error == "gRPC could not connect (socket closed)", result.error


async def test_it_reports_connection_refused(check, refusing_port):
    result = await check(f"""
        monitors:
          - name: down
            grpc: {refusing_port.address}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == f"connection refused ({refusing_port.address})"


def test_an_address_without_a_port_is_a_config_error(monitors):
    with pytest.raises(Exception, match="needs a port"):
        monitors("""
            monitors:
              - {name: bad, grpc: api.example.com}
            """)
