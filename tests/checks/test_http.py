"""The http check against a real aiohttp server: what it observes and sends."""

from __future__ import annotations

import json

import pytest

from watchkeeper.errors import ConfigError


async def test_it_passes_when_status_json_and_headers_are_as_expected(check, web):
    result = await check(f"""
        monitors:
          - name: api
            http: {web.url("/health")}
            timeout: 2s
            expect:
              - status == 200
              - json.status == 'ok'
              - json.items[1].id == 2
              - header.x-service == 'watchkeeper-test'
              - header.content-type contains 'application/json'
        """)
    assert result.ok, result.reason
    assert result.status == 200
    assert result.error is None
    assert result.failures == []


async def test_it_fails_with_the_observed_values_when_expectations_do_not_hold(check, web):
    result = await check(f"""
        monitors:
          - name: api
            http: {web.url("/health")}
            timeout: 2s
            expect:
              - status == 201
              - json.status == 'down'
              - header.x-service == 'other'
        """)
    assert not result.ok
    assert result.error is None
    assert result.failures == [
        "status 200, expected == 201",
        "json.status 'ok', expected == 'down'",
        "header.x-service 'watchkeeper-test', expected == 'other'",
    ]


async def test_it_matches_the_body_as_text(check, web):
    result = await check(rf"""
        monitors:
          - name: page
            http: {web.url("/text")}
            timeout: 2s
            expect:
              - body contains 'test server'
              - body matches 'build v\d+'
              - body not contains 'error'
        """)
    assert result.ok, result.reason


async def test_it_reports_a_body_that_does_not_match(check, web):
    result = await check(f"""
        monitors:
          - name: page
            http: {web.url("/text")}
            timeout: 2s
            expect: ["body contains 'Welcome'"]
        """)
    assert not result.ok
    assert result.failures == [
        "body 'Hello from the test server, build v42', expected contains 'Welcome'"
    ]


async def test_it_applies_the_default_status_expectation_when_none_is_written(check, web):
    result = await check(f"""
        monitors:
          - name: private
            http: {web.url("/private")}
            timeout: 2s
        """)
    assert not result.ok
    assert result.failures == ["status 401, expected < 400"]


async def test_it_times_connect_ttfb_and_total_but_not_dns_for_an_ip_address(check, web):
    result = await check(f"""
        monitors:
          - name: api
            http: {web.url("/health")}
            timeout: 2s
        """)
    phases = result.phases
    assert result.ok, result.reason
    assert phases.dns is None
    assert phases.tls is None
    assert phases.connect is not None and phases.connect > 0
    assert phases.ttfb is not None and phases.ttfb > 0
    assert phases.transfer is not None
    assert phases.total is not None
    assert phases.connect + phases.ttfb + phases.transfer <= phases.total


async def test_it_times_dns_when_the_url_names_a_host(check, web):
    result = await check(f"""
        monitors:
          - name: api
            http: {web.url("/health", host="localhost")}
            timeout: 2s
        """)
    assert result.ok, result.reason
    assert result.phases.dns is not None and result.phases.dns > 0
    assert result.phases.connect is not None
    assert result.phases.ttfb is not None


async def test_it_posts_a_json_body(check, web):
    result = await check(f"""
        monitors:
          - name: order
            http:
              url: {web.url("/orders")}
              method: post
              json: {{item: probe, count: 2}}
            timeout: 2s
            expect: [status == 201, json.created == true]
        """)
    assert result.ok, result.reason
    (request,) = web.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"item": "probe", "count": 2}


async def test_it_sends_custom_headers_and_its_user_agent(check, web):
    result = await check(f"""
        monitors:
          - name: headers
            http:
              url: {web.url("/needs-header")}
              headers: {{X-Probe: "1", Accept: text/plain}}
            timeout: 2s
            expect: [status == 200]
        """)
    assert result.ok, result.reason
    (request,) = web.requests
    assert request.headers["x-probe"] == "1"
    assert request.headers["accept"] == "text/plain"
    assert request.headers["user-agent"].startswith("Watchkeeper/")


async def test_it_authenticates_with_basic_auth(check, web):
    result = await check(f"""
        monitors:
          - name: private
            http:
              url: {web.url("/private")}
              basic_auth: {{username: probe, password: s3cret}}
            timeout: 2s
            expect: [status == 200, body == 'welcome']
        """)
    assert result.ok, result.reason
    assert web.requests[0].headers["authorization"].startswith("Basic ")


async def test_it_sends_a_head_request_without_reading_a_body(check, web):
    result = await check(f"""
        monitors:
          - name: head
            http: {{url: "{web.url("/health")}", method: HEAD}}
            timeout: 2s
            expect: [status == 200, header.x-service == 'watchkeeper-test']
        """)
    assert result.ok, result.reason
    assert [request.method for request in web.requests] == ["HEAD"]


async def test_it_verifies_https_against_a_private_ca(check, https, certificates):
    result = await check(f"""
        monitors:
          - name: secure
            http:
              url: {https.url("/health", host="localhost")}
              ca_file: {certificates.ca_file}
            timeout: 2s
            expect:
              - status == 200
              - cert.expires_in > 80d
              - cert.issuer contains 'Watchkeeper Test CA'
              - cert.sans contains 'localhost'
              - tls.protocol in ['TLSv1.2', 'TLSv1.3']
        """)
    assert result.ok, result.reason
    phases = result.phases
    assert phases.dns is not None
    assert phases.connect is not None
    assert phases.tls is not None and phases.tls > 0
    assert phases.ttfb is not None


async def test_it_judges_the_certificate_of_an_https_url(check, https, certificates):
    result = await check(f"""
        monitors:
          - name: secure
            http:
              url: {https.url("/health")}
              ca_file: {certificates.ca_file}
            timeout: 2s
            expect: ["cert.expires_in > 100d", "cert.issuer contains 'Let'"]
        """)
    assert not result.ok
    assert result.error is None
    expiry, issuer = result.failures
    assert expiry.startswith("cert.expires_in 89d") or expiry.startswith("cert.expires_in 90d")
    assert expiry.endswith("expected > 100d")
    assert "Watchkeeper Test CA" in issuer
    assert issuer.endswith("expected contains 'Let'")


async def test_it_rejects_a_certificate_from_an_unknown_ca_when_verifying(check, https):
    result = await check(f"""
        monitors:
          - name: secure
            http: {https.url("/health")}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("TLS: untrusted issuer")
    assert https.requests == []


async def test_it_skips_verification_when_asked_and_still_times_tls(check, https):
    result = await check(f"""
        monitors:
          - name: secure
            http: {{url: "{https.url("/health")}", verify_tls: false}}
            timeout: 2s
            expect: [status == 200, json.status == 'ok']
        """)
    assert result.ok, result.reason
    assert result.phases.tls is not None


async def test_a_missing_ca_file_is_a_config_error(monitors, https, tmp_path):
    with pytest.raises(ConfigError) as caught:
        monitors(f"""
            monitors:
              - name: secure
                http: {{url: "{https.url("/health")}", ca_file: "{tmp_path / "missing.pem"}"}}
            """)
    assert "ca_file" in caught.value.message and "cannot be read" in caught.value.message
    assert caught.value.monitor == "secure"


async def test_it_reports_a_ca_file_it_cannot_load(check, https, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    result = await check(f"""
        monitors:
          - name: secure
            http: {{url: "{https.url("/health")}", ca_file: "{garbage}"}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"cannot load ca_file {garbage}")
    assert https.requests == []


async def test_it_times_out_in_the_tls_phase_when_the_handshake_never_completes(
    check, hanging_server
):
    result = await check(f"""
        monitors:
          - name: secure
            http: {hanging_server.url("/health").replace("http://", "https://")}
            timeout: 500ms
        """)
    assert not result.ok
    assert result.error == "timeout after 500ms in tls (waiting for the TLS handshake)"
    assert result.phases.total is not None and result.phases.total < 0.5 + 0.75


def test_it_rejects_a_basic_auth_username_with_a_colon(monitors):
    with pytest.raises(ConfigError, match="username cannot contain ':'"):
        monitors("""
            monitors:
              - name: private
                http:
                  url: http://127.0.0.1:9/private
                  basic_auth: {username: "a:b", password: c}
            """)
