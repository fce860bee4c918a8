"""The http check follows redirects up to a cap, detects loops and rewrites methods."""

from __future__ import annotations

from urllib.parse import quote

import pytest


async def test_it_follows_redirects_to_the_final_page(check, web):
    result = await check(f"""
        monitors:
          - name: moved
            http: {web.url("/redirect/3")}
            timeout: 2s
            expect: [status == 200, body == 'landed', "url contains '/redirect/0'"]
        """)
    assert result.ok, result.reason
    assert web.target.paths() == ["/redirect/3", "/redirect/2", "/redirect/1", "/redirect/0"]


async def test_it_follows_as_many_redirects_as_the_default_cap_of_ten(check, web):
    result = await check(f"""
        monitors:
          - name: moved
            http: {web.url("/redirect/10")}
            timeout: 2s
            expect: [status == 200]
        """)
    assert result.ok, result.reason
    assert len(web.requests) == 11


async def test_it_stops_after_the_default_cap_with_too_many_redirects(check, web):
    result = await check(f"""
        monitors:
          - name: moved
            http: {web.url("/redirect/11")}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "too many redirects (more than 10)"
    assert len(web.requests) == 11


async def test_it_honours_a_lower_redirect_cap(check, web):
    result = await check(f"""
        monitors:
          - name: moved
            http: {{url: "{web.url("/redirect/3")}", follow_redirects: 2}}
            timeout: 2s
        """)
    assert result.error == "too many redirects (more than 2)"
    assert len(web.requests) == 3


async def test_it_returns_the_redirect_itself_when_not_following(check, web):
    result = await check(f"""
        monitors:
          - name: moved
            http: {{url: "{web.url("/redirect/3")}", follow_redirects: false}}
            timeout: 2s
            expect: [status == 302, header.location == '/redirect/2']
        """)
    assert result.ok, result.reason
    assert result.status == 302
    assert web.target.paths() == ["/redirect/3"]


async def test_it_reports_a_redirect_loop(check, web):
    result = await check(f"""
        monitors:
          - name: loop
            http: {web.url("/loop/a")}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error == "redirect loop: /loop/a → /loop/b → /loop/a"
    assert web.target.paths() == ["/loop/a", "/loop/b"]


async def test_it_turns_a_post_into_a_get_after_a_303(check, web):
    result = await check(f"""
        monitors:
          - name: form
            http:
              url: {web.url("/see-other")}
              method: POST
              json: {{item: probe}}
            timeout: 2s
            expect: [status == 200, json.method == 'GET', json.body == '']
        """)
    assert result.ok, result.reason
    posted, followed = web.requests
    assert (posted.method, posted.body) == ("POST", b'{"item": "probe"}')
    assert followed.method == "GET"
    assert "content-type" not in followed.headers


async def test_it_keeps_the_method_and_body_after_a_307(check, web):
    result = await check(f"""
        monitors:
          - name: form
            http:
              url: {web.url("/temporary")}
              method: POST
              body: hello
            timeout: 2s
            expect: [json.method == 'POST', json.body == 'hello']
        """)
    assert result.ok, result.reason


async def test_it_keeps_basic_auth_on_the_same_origin(check, web):
    result = await check(f"""
        monitors:
          - name: private
            http:
              url: {web.url("/goto?url=" + quote(web.url("/private"), safe=""))}
              basic_auth: {{username: probe, password: s3cret}}
            timeout: 2s
            expect: [status == 200]
        """)
    assert result.ok, result.reason
    assert all("authorization" in request.headers for request in web.requests)


async def test_it_does_not_send_credentials_to_another_origin(check, web):
    elsewhere = web.url("/private", host="localhost")
    result = await check(f"""
        monitors:
          - name: private
            http:
              url: {web.url("/goto?url=" + quote(elsewhere, safe=""))}
              basic_auth: {{username: probe, password: s3cret}}
              headers: {{Authorization: "Bearer secret-token", Cookie: "session=s3cret",
                         X-Probe: "1"}}
            timeout: 2s
            expect: [status == 401]
        """)
    assert result.ok, result.reason
    first, second = web.requests
    assert first.headers["authorization"].startswith("Basic ")
    assert first.headers["cookie"] == "session=s3cret"
    assert "authorization" not in second.headers
    assert "cookie" not in second.headers
    assert second.headers["x-probe"] == "1"  # only credentials stay behind


async def test_a_head_request_stays_a_head_request_after_a_303(check, web):
    result = await check(f"""
        monitors:
          - name: head
            http: {{url: "{web.url("/see-other")}", method: HEAD}}
            timeout: 2s
            expect: [status == 200]
        """)
    assert result.ok, result.reason
    assert [(r.method, r.path) for r in web.requests] == [
        ("HEAD", "/see-other"),
        ("HEAD", "/method"),
    ]


@pytest.mark.parametrize(
    ("location", "reason"),
    [("http://[::1/", "unusable Location"), ("ftp://files.example/x", "is not http(s)")],
)
async def test_a_bad_location_is_a_clean_failure(check, web, location, reason):
    result = await check(f"""
        monitors:
          - name: odd
            http: {web.url("/goto?url=" + quote(location, safe=""))}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is not None and reason in result.error
    assert "internal error" not in result.error
