"""Peers that misbehave: each fault is a failed Result with a one-line reason, delivered
within the monitor's timeout (plus a generous margin for a busy machine)."""

from __future__ import annotations

import re
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from watchkeeper.checks._certs import certificate_problems

MARGIN = 0.75  # seconds past the timeout a result may take on a loaded 2-core machine


def within(result, timeout: float) -> bool:
    return result.phases.total is not None and result.phases.total < timeout + MARGIN


async def test_it_reports_connection_refused(check, refusing_port):
    result = await check(f"""
        monitors:
          - name: down
            http: {refusing_port.url("/health")}
            timeout: 1s
        """)
    assert not result.ok
    assert result.error == f"connection refused (127.0.0.1:{refusing_port.port})"
    assert within(result, 1.0)


async def test_it_reports_a_connection_reset_while_waiting_for_the_response(
    check, resetting_server
):
    result = await check(f"""
        monitors:
          - name: reset
            http: {resetting_server.url("/health")}
            timeout: 1s
        """)
    assert not result.ok
    assert result.error is not None
    assert "reset" in result.error
    assert result.error == "connection reset by peer while waiting for the response"
    assert within(result, 1.0)


async def test_it_times_out_in_ttfb_when_the_server_never_answers(check, hanging_server):
    result = await check(f"""
        monitors:
          - name: silent
            http: {hanging_server.url("/health")}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in ttfb (waiting for the response)"
    assert result.phases.connect is not None
    assert within(result, 0.5)


async def test_it_times_out_on_headers_dripped_byte_by_byte(check, slowloris_server):
    result = await check(f"""
        monitors:
          - name: slowloris
            http: {slowloris_server.url("/health")}
            timeout: 700ms
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("timeout after 700ms")
    assert within(result, 0.7)


async def test_it_times_out_in_transfer_on_a_body_dripped_byte_by_byte(check, dripping_body_server):
    result = await check(f"""
        monitors:
          - name: drip
            http: {dripping_body_server.url("/health")}
            timeout: 700ms
        """)
    assert not result.ok
    assert result.error == "timeout after 700ms in transfer (waiting for the rest of the body)"
    assert result.status == 200
    assert result.phases.ttfb is not None
    assert result.phases.transfer is not None
    assert within(result, 0.7)


async def test_it_stops_reading_an_endless_body_at_the_cap(check, endless_server):
    result = await check(f"""
        monitors:
          - name: endless
            http: {{url: "{endless_server.url("/stream")}", max_body: 64KiB}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "body over cap: more than 64KiB (raise max_body)"
    assert within(result, 2.0)


async def test_it_refuses_a_declared_body_above_the_cap_without_reading_it(
    check, huge_length_server
):
    result = await check(f"""
        monitors:
          - name: huge
            http: {{url: "{huge_length_server.url("/download")}", max_body: 1MiB}}
            timeout: 2s
        """)
    assert not result.ok
    # The server never sends the body: reading it would have been a timeout instead.
    assert result.error == "body over cap: Content-Length 100MiB exceeds max_body 1MiB"
    assert result.phases.transfer is None


async def test_it_says_the_body_is_not_json_when_a_json_expectation_needs_it(check, web):
    result = await check(f"""
        monitors:
          - name: api
            http: {web.url("/not-json")}
            timeout: 2s
            expect: [status == 200, json.status == 'ok']
        """)
    assert not result.ok
    assert result.error is None
    (failure,) = result.failures
    assert failure.startswith("json.status unreadable: body is not valid JSON")
    assert failure.endswith("expected == 'ok'")


# -- certificates: the http kind (https URL, verification on) and the tls kind ------------------
BAD_CERTIFICATES = [
    pytest.param("expired", "TLS: certificate expired", id="expired"),
    pytest.param("wrong_host", "TLS: hostname mismatch", id="wrong-host"),
    pytest.param("self_signed", "TLS: self-signed certificate", id="self-signed"),
]


@pytest.mark.parametrize(("certificate", "reason"), BAD_CERTIFICATES)
async def test_the_http_check_rejects_a_bad_certificate(
    check, serve_https, certificates, certificate, reason
):
    server = await serve_https(getattr(certificates, certificate))
    result = await check(f"""
        monitors:
          - name: secure
            http:
              url: {server.url("/health", host="localhost")}
              ca_file: {certificates.ca_file}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(reason)
    assert "\n" not in result.error
    assert server.requests == []
    assert within(result, 2.0)


@pytest.mark.parametrize(("certificate", "reason"), BAD_CERTIFICATES)
async def test_the_tls_check_rejects_a_bad_certificate(
    check, serve_https, certificates, certificate, reason
):
    server = await serve_https(getattr(certificates, certificate))
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{server.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(reason)
    assert "\n" not in result.error
    assert within(result, 2.0)


EXPIRED = r"certificate expired 1d(\d+[sm])? ago"
ELSEWHERE = r"hostname mismatch \(certificate is for wrong\.example\.test, not localhost\)"
EVERY_PROBLEM = [
    pytest.param("expired_self_signed", ["self-signed certificate", EXPIRED], id="expired-self"),
    pytest.param("expired_wrong_host", [EXPIRED, ELSEWHERE], id="expired-wrong-host"),
    pytest.param(
        "all_wrong", ["self-signed certificate", EXPIRED, ELSEWHERE], id="self-expired-wrong"
    ),
    pytest.param("not_yet_valid", [r"certificate not yet valid \(for another (1d|23h.*)\)"]),
]


def monitor_of(kind: str, port: int, ca_file: object) -> str:
    if kind == "http":
        target = f"{{url: 'https://localhost:{port}/health', ca_file: '{ca_file}'}}"
    else:
        target = f"{{address: 'localhost:{port}', ca_file: '{ca_file}'}}"
    return f"""
        monitors:
          - name: secure
            {kind}: {target}
            timeout: 5s
        """


@pytest.mark.parametrize("kind", ["http", "tls"])
@pytest.mark.parametrize(("certificate", "problems"), EVERY_PROBLEM)
async def test_a_certificate_failure_names_every_problem_at_once(
    check, serve_https, certificates, kind, certificate, problems
):
    """OpenSSL stops at its first error (an expired self-signed certificate is only
    'self-signed'): fixing the one named must not uncover another."""
    server = await serve_https(getattr(certificates, certificate))
    result = await check(monitor_of(kind, server.port, certificates.ca_file))
    assert not result.ok and result.failures == []
    assert result.error is not None
    assert re.fullmatch("TLS: " + "; ".join(problems), result.error), result.error
    shown = result.to_json()  # the --json shape as before: one line of text under "error"
    assert shown["error"] == result.error and shown["failures"] == []
    assert server.requests == []


def test_an_expired_certificate_in_the_chain_is_told_from_an_expired_server_certificate(
    certificates,
):
    """OpenSSL's 'certificate expired' may be about an intermediate: with the server's own
    certificate in its dates, the chain is what expired."""
    error = ssl.SSLCertVerificationError("certificate verify failed")
    error.verify_code, error.verify_message = 10, "certificate has expired"
    valid = x509.load_pem_x509_certificate(certificates.valid.cert_file.read_bytes())
    der = valid.public_bytes(serialization.Encoding.DER)
    assert certificate_problems(error, der, "localhost") == ["a certificate in the chain expired"]
    assert certificate_problems(None, der, "localhost") == []
    error.verify_code = 20
    assert certificate_problems(error, None, "localhost") == [
        "untrusted issuer (unable to get local issuer certificate)"
    ], "no certificate to read: what OpenSSL said"


async def test_an_expired_certificate_says_how_long_ago_it_expired(
    check, serve_https, certificates
):
    server = await serve_https(certificates.expired)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{server.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
        """)
    assert result.error is not None
    assert re.fullmatch(r"TLS: certificate expired 1d(\d+[sm])? ago", result.error), result.error


async def test_a_hostname_mismatch_names_the_certificate_and_the_host(
    check, serve_https, certificates
):
    server = await serve_https(certificates.wrong_host)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{server.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
        """)
    assert result.error == (
        "TLS: hostname mismatch (certificate is for wrong.example.test, not localhost)"
    )
