"""The tcp check: connect, read a banner, send and read the reply, optionally over TLS."""

from __future__ import annotations


async def test_it_connects_without_reading_when_nothing_asks_for_a_banner(check, web):
    result = await check(f"""
        monitors:
          - name: port
            tcp: {web.address}
            timeout: 2s
        """)
    assert result.ok, result.reason
    assert result.phases.connect is not None
    assert result.phases.dns is None
    assert result.phases.ttfb is None


async def test_it_resolves_a_host_name_in_the_dns_phase(check, web):
    result = await check(f"""
        monitors:
          - name: port
            tcp: localhost:{web.port}
            timeout: 2s
        """)
    assert result.ok, result.reason
    assert result.phases.dns is not None


async def test_it_reads_the_banner_an_expectation_asks_for(check, smtp_server):
    result = await check(f"""
        monitors:
          - name: smtp
            tcp: {smtp_server.address}
            timeout: 2s
            expect: ["tcp.banner contains 'ESMTP'", "tcp.banner matches '^220 '"]
        """)
    assert result.ok, result.reason
    assert result.phases.ttfb is not None


async def test_it_shows_the_banner_when_it_is_not_the_expected_one(check, smtp_server):
    result = await check(f"""
        monitors:
          - name: smtp
            tcp: {smtp_server.address}
            timeout: 2s
            expect: ["tcp.banner contains 'IMAP'"]
        """)
    assert not result.ok
    assert result.failures == [
        "tcp.banner '220 mail.example.test ESMTP Postfix', expected contains 'IMAP'"
    ]


async def test_it_sends_a_request_and_reads_the_reply(check, pong_server):
    result = await check(f"""
        monitors:
          - name: redis
            tcp: {{address: "{pong_server.address}", send: "PING\\r\\n"}}
            timeout: 2s
            expect: ["tcp.banner == '+PONG'"]
        """)
    assert result.ok, result.reason


async def test_it_times_out_reading_a_banner_that_never_comes(check, hanging_server):
    result = await check(f"""
        monitors:
          - name: quiet
            tcp: {hanging_server.address}
            timeout: 500ms
            expect: ["tcp.banner contains 'ESMTP'"]
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in ttfb (waiting for the response)"
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75


async def test_it_reports_a_reset_while_reading_the_reply(check, resetting_server):
    result = await check(f"""
        monitors:
          - name: reset
            tcp: {{address: "{resetting_server.address}", send: "HELLO\\r\\n\\r\\n"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "connection reset by peer while reading the banner"


async def test_it_reports_connection_refused(check, refusing_port):
    result = await check(f"""
        monitors:
          - name: down
            tcp: {refusing_port.address}
            timeout: 1s
        """)
    assert not result.ok
    assert result.error == f"connection refused ({refusing_port.address})"


async def test_it_shakes_hands_over_tls_and_reports_the_certificate(check, tls_server):
    result = await check(f"""
        monitors:
          - name: tls-port
            tcp: {{address: "{tls_server.address}", tls: true, verify_tls: false}}
            timeout: 2s
            expect:
              - tls.protocol in ['TLSv1.2', 'TLSv1.3']
              - cert.issuer contains 'Watchkeeper Test CA'
              - cert.expires_in > 80d
        """)
    assert result.ok, result.reason
    assert result.phases.tls is not None
    assert tls_server.connections == 1


async def test_it_rejects_an_untrusted_certificate_when_verifying_tls(check, tls_server):
    result = await check(f"""
        monitors:
          - name: tls-port
            tcp: {{address: "{tls_server.address}", tls: true}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("TLS: untrusted issuer")


async def test_it_times_out_in_the_tls_phase_without_overrunning_the_timeout(check, hanging_server):
    result = await check(f"""
        monitors:
          - name: tls-port
            tcp: {{address: "{hanging_server.address}", tls: true}}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in tls (waiting for the TLS handshake)"
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75
