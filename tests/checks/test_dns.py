"""The dns check against a real DNS server (dnspython messages over UDP and TCP)."""

from __future__ import annotations


async def test_it_passes_when_the_answers_hold_the_expected_address(check, dns_server):
    result = await check(f"""
        monitors:
          - name: www
            dns: {{name: www.example.test, resolver: "{dns_server.address}"}}
            timeout: 2s
            expect:
              - dns.answers contains '192.0.2.10'
              - dns.answers == ['192.0.2.11', '192.0.2.10']
              - dns.rcode == 'NOERROR'
              - dns.ttl == 300
        """)
    assert result.ok, result.reason
    assert result.phases.dns is not None
    assert dns_server.queries == [("udp", "www.example.test.", "A")]


async def test_it_shows_the_answers_when_they_are_not_the_expected_ones(check, dns_server):
    result = await check(f"""
        monitors:
          - name: www
            dns: {{name: www.example.test, resolver: "{dns_server.address}"}}
            timeout: 2s
            expect: ["dns.answers == ['192.0.2.10']", "dns.answers contains '192.0.2.99'"]
        """)
    assert not result.ok
    assert result.failures == [
        "dns.answers [192.0.2.10, 192.0.2.11], expected == ['192.0.2.10']",
        "dns.answers [192.0.2.10, 192.0.2.11], expected contains '192.0.2.99'",
    ]


async def test_it_formats_mx_answers_as_preference_and_host(check, dns_server):
    result = await check(f"""
        monitors:
          - name: mx
            dns: {{name: example.test, type: mx, resolver: "{dns_server.address}"}}
            timeout: 2s
            expect:
              - dns.answers == ['10 mail.example.test.', '20 backup-mail.example.test.']
              - dns.answers contains '10 mail.example.test'
        """)
    assert result.ok, result.reason


async def test_it_joins_the_strings_of_a_txt_record(check, dns_server):
    result = await check(f"""
        monitors:
          - name: txt
            dns: {{name: example.test, type: TXT, resolver: "{dns_server.address}"}}
            timeout: 2s
            expect: ["dns.answers contains 'v=spf1 -all'", "dns.answers contains 'hello world'"]
        """)
    assert result.ok, result.reason


async def test_it_asks_for_aaaa_records(check, dns_server):
    result = await check(f"""
        monitors:
          - name: v6
            dns: {{name: www.example.test, type: AAAA, resolver: "{dns_server.address}"}}
            timeout: 2s
            expect: ["dns.answers == ['2001:db8::10']"]
        """)
    assert result.ok, result.reason


async def test_it_asks_over_tcp_when_told_to(check, dns_server):
    result = await check(f"""
        monitors:
          - name: www
            dns: {{name: www.example.test, resolver: "{dns_server.address}", tcp: true}}
            timeout: 2s
            expect: ["dns.answers contains '192.0.2.10'"]
        """)
    assert result.ok, result.reason
    assert dns_server.queries == [("tcp", "www.example.test.", "A")]


async def test_it_reports_nxdomain_for_a_name_that_does_not_exist(check, dns_server):
    result = await check(f"""
        monitors:
          - name: gone
            dns: {{name: gone.example.test, resolver: "{dns_server.address}"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "NXDOMAIN: gone.example.test does not exist"


async def test_it_fails_when_the_name_has_no_records_of_the_asked_type(check, dns_server):
    result = await check(f"""
        monitors:
          - name: no-a
            dns: {{name: text-only.example.test, resolver: "{dns_server.address}"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "no A records for text-only.example.test"


async def test_it_reports_servfail(check, dns_server):
    result = await check(f"""
        monitors:
          - name: broken
            dns: {{name: broken.example.test, resolver: "{dns_server.address}"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("SERVFAIL: no nameserver answered for broken.example.test")
    assert result.phases.total is not None and result.phases.total < 2.0


async def test_it_times_out_in_dns_when_the_resolver_never_answers(check, silent_dns_server):
    result = await check(f"""
        monitors:
          - name: silent
            dns: {{name: www.example.test, resolver: "{silent_dns_server.address}"}}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error is not None
    assert "timeout" in result.error
    assert "dns" in result.error
    assert silent_dns_server.queries
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75
