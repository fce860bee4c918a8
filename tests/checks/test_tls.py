"""The tls check: handshake, chain and hostname verdicts, and certificate facts."""

from __future__ import annotations

from watchkeeper.model import State


async def test_it_passes_a_valid_chain_from_a_trusted_ca(check, https, certificates):
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{https.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
            expect:
              - tls.protocol in ['TLSv1.2', 'TLSv1.3']
              - cert.expires_in > 80d
              - tls.chain_valid == true
              - tls.hostname_match == true
              - cert.issuer contains 'Watchkeeper Test CA'
              - cert.sans contains '127.0.0.1'
        """)
    assert result.ok, result.reason
    assert result.phases.dns is not None
    assert result.phases.connect is not None
    assert result.phases.tls is not None


async def test_it_matches_an_ip_address_against_the_ip_names_of_the_certificate(
    check, https, certificates
):
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "{https.address}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
            expect: [tls.hostname_match == true]
        """)
    assert result.ok, result.reason
    assert result.phases.dns is None


async def test_it_rejects_a_chain_it_cannot_verify_without_the_ca(check, https):
    result = await check(f"""
        monitors:
          - name: cert
            tls: localhost:{https.port}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("TLS: untrusted issuer")


async def test_it_only_reports_chain_and_hostname_facts_when_not_verifying(
    check, serve_https, certificates
):
    server = await serve_https(certificates.self_signed)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{server.port}", verify: false}}
            timeout: 2s
            expect:
              - tls.chain_valid == false
              - tls.hostname_match == true
              - cert.expires_in > 80d
              - cert.issuer contains 'CN=localhost'
        """)
    assert result.ok, result.reason


async def test_it_reports_a_hostname_mismatch_as_a_fact_when_not_verifying(
    check, serve_https, certificates
):
    server = await serve_https(certificates.wrong_host)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{server.port}", verify: false}}
            timeout: 2s
            expect: [tls.hostname_match == true]
        """)
    assert not result.ok
    assert result.error is None
    assert result.failures == ["tls.hostname_match false, expected == true"]


async def test_it_matches_the_servername_instead_of_the_address(check, https, certificates):
    result = await check(f"""
        monitors:
          - name: cert
            tls:
              address: "{https.address}"
              servername: wrong.example.test
              ca_file: "{certificates.ca_file}"
        """)
    assert not result.ok
    assert result.error == (
        "TLS: hostname mismatch (certificate is for 127.0.0.1, localhost, not wrong.example.test)"
    )


async def test_a_certificate_expiring_in_five_days_fails_the_default_expectation(
    check, serve_https, certificates
):
    server = await serve_https(certificates.expiring_soon)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{server.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is None
    (failure,) = result.failures
    assert failure.startswith("cert.expires_in 5d")
    assert failure.endswith(", expected > 7d")


async def test_a_certificate_past_its_renewal_point_degrades_before_it_nears_expiry(
    check, serve_https, certificates
):
    stale = await serve_https(certificates.not_renewed)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{stale.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
        """)
    assert result.ok, "20 days left passes the 7-day expectation"
    assert result.health is State.DEGRADED
    (warning,) = result.warnings
    # 20 days from when the certificate was made: "19d23h…", or "20d" when the check runs
    # within half a second of it (the duration is rounded to the second)
    assert warning.startswith(
        (
            "certificate not renewed: it expires in 19d",
            "certificate not renewed: it expires in 20d,",
        )
    )
    assert "90d lifetime" in warning
    assert 89 * 86400 < result.metrics["cert.lifetime"] < 91 * 86400
    fresh = await serve_https(certificates.valid)
    result = await check(f"""
        monitors:
          - name: cert
            tls: {{address: "localhost:{fresh.port}", ca_file: "{certificates.ca_file}"}}
            timeout: 2s
        """)
    assert result.health is State.UP and result.warnings == []
    assert result.metrics["cert.expires_in"] > 89 * 86400


async def test_it_reports_a_peer_that_does_not_speak_tls(check, web):
    result = await check(f"""
        monitors:
          - name: cert
            tls: {web.address}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("TLS: handshake failed")


async def test_it_times_out_in_the_tls_phase_when_the_handshake_never_completes(
    check, hanging_server
):
    result = await check(f"""
        monitors:
          - name: cert
            tls: {hanging_server.address}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in tls (waiting for the TLS handshake)"
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75


async def test_it_reports_connection_refused(check, refusing_port):
    result = await check(f"""
        monitors:
          - name: cert
            tls: {refusing_port.address}
            timeout: 1s
        """)
    assert not result.ok
    assert result.error == f"connection refused ({refusing_port.address})"
