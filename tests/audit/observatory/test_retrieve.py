"""Retrieval against real servers: any ports, certificates that do not verify, servers that are
down, hang, send huge headers or JSON, and redirects to hosts the audit may not visit."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from aiohttp import web
from tests.helpers.nginx import Nginx
from tests.helpers.servers import HOST, RawServer, RefusingPort, WebServer

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.observatory import Result, ScanError, audit_headers, grade, retrieve
from watchkeeper.audit.observatory.audit import target

GOOD_HEADERS = (
    'add_header Strict-Transport-Security "max-age=63072000" always; '
    "add_header Content-Security-Policy \"default-src 'none'; frame-ancestors 'none'\" always; "
    "add_header X-Content-Type-Options nosniff always; "
    "add_header Referrer-Policy no-referrer always;"
)


def site_on_own_ports(tmp_path: Path) -> Nginx:
    return Nginx(
        tmp_path,
        """
        server {{ listen {address}:{http_port};
                  return 301 https://$host:{https_port}$request_uri; }}
        server {{ listen {address}:{https_port} ssl; root {root};
                  ssl_certificate {cert}; ssl_certificate_key {key}; """
        + GOOD_HEADERS.replace("{", "{{").replace("}", "}}")
        + " }}",
    )


def trusting(site: Nginx) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(site.ca_file))


async def test_a_site_on_ports_other_than_80_and_443_is_graded_like_one_on_them(
    tmp_path: Path,
) -> None:
    with site_on_own_ports(tmp_path) as site:
        (site.root / "index.html").write_text("<html><body>hi</body></html>")
        async with Fetcher(timeout=5, tls=trusting(site)) as fetch:
            retrieval = await retrieve(
                fetch, site.address, http_port=site.http_port, https_port=site.https_port
            )
    card = grade(retrieval)
    assert retrieval.auto == "https"
    assert [hop.url for hop in retrieval.http.history] == [
        f"http://{site.address}:{site.http_port}/",
        f"https://{site.address}:{site.https_port}/",
    ]
    assert card.tests["redirection"].result == Result.redirection_to_https
    assert card.tests["strict-transport-security"].result == Result.hsts_six_months
    assert card.tests["x-frame-options"].result == Result.xfo_via_csp
    assert (card.score, card.grade) == (120, "A+")  # 100 + CSP 10 + referrer 5 + CSP framing 5


async def test_audit_headers_takes_a_urls_port_for_its_own_scheme(tmp_path: Path) -> None:
    with site_on_own_ports(tmp_path) as site:
        (site.root / "index.html").write_text("<html></html>")
        card = await audit_headers(site.url("/", https=True), timeout=5, tls_context=trusting(site))
    assert card.url == f"https://{site.address}:{site.https_port}/"
    # nothing answers on port 80 of the site's address: no redirect is needed
    assert card.tests["redirection"].result == Result.redirection_no_http


async def test_a_certificate_that_does_not_verify_is_graded_without_checking(
    tmp_path: Path,
) -> None:
    site = Nginx(
        tmp_path,
        "server {{ listen {address}:{https_port} ssl; root {root}; "
        "ssl_certificate {cert}; ssl_certificate_key {key}; "
        'add_header Strict-Transport-Security "max-age=63072000" always; }}',
    )
    with site:
        (site.root / "index.html").write_text("<html></html>")
        async with Fetcher(timeout=5) as fetch:  # the machine's trust: not the test CA
            retrieval = await retrieve(fetch, site.address, https_port=site.https_port)
    assert retrieval.https.verified is False
    assert retrieval.https.response is not None
    assert grade(retrieval).tests["strict-transport-security"].result == Result.hsts_invalid_cert


async def test_a_site_that_answers_nothing_is_an_error() -> None:
    with RefusingPort() as port:
        async with Fetcher(timeout=5) as fetch:
            retrieval = await retrieve(fetch, HOST, http_port=port.port, https_port=port.port)
    assert retrieval.auto is None
    assert retrieval.http.error == "connection refused"
    with pytest.raises(ScanError, match="seems to be down"):
        grade(retrieval)


async def test_a_server_that_never_answers_costs_one_request_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        await asyncio.sleep(3600)

    async with RawServer(silent) as server, Fetcher(timeout=0.5) as fetch:
        async with asyncio.timeout(30):  # a hang fails the test instead of stalling it
            retrieval = await retrieve(fetch, HOST, http_port=server.port, https_port=server.port)
    assert retrieval.auto is None
    assert "no complete answer within 0.5s" in (retrieval.http.error or "")


async def test_a_huge_header_fails_that_answer_not_the_audit() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        await writer.drain()

    async with RawServer(huge) as server, Fetcher(timeout=5) as fetch:
        retrieval = await retrieve(fetch, HOST, http_port=server.port, https_port=server.port)
    assert retrieval.auto is None
    assert retrieval.http.error is not None


async def test_an_answer_that_is_not_html_has_no_scripts_to_grade() -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with WebServer(app) as server, Fetcher(timeout=5) as fetch:
        with RefusingPort() as closed:
            retrieval = await retrieve(fetch, HOST, http_port=server.port, https_port=closed.port)
    card = grade(retrieval)
    assert retrieval.auto == "http"
    assert card.tests["subresource-integrity"].result == Result.sri_not_html
    assert card.tests["strict-transport-security"].result == Result.hsts_no_https
    assert retrieval.page == ""  # a JSON object: no HTML to read


async def test_a_redirect_to_a_host_the_audit_may_not_visit_ends_the_chain() -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "https://elsewhere.example/"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with WebServer(app) as server:
        with RefusingPort() as closed:
            async with Fetcher(timeout=5, allowed_hosts=frozenset({HOST})) as fetch:
                retrieval = await retrieve(
                    fetch, HOST, http_port=server.port, https_port=closed.port
                )
    assert retrieval.http.history[-1].url == "https://elsewhere.example/"
    assert retrieval.http.history[-1].status == 0
    assert "not one this audit was given" in (retrieval.http.error or "")
    assert grade(retrieval).tests["redirection"].result == Result.redirection_off_host


def test_what_the_user_names_becomes_host_ports_and_path() -> None:
    assert target("example.org") == ("example.org", None, None, "/")
    assert target("https://example.org:8443/app?x=1") == ("example.org", None, 8443, "/app?x=1")
    assert target("http://example.org:8080") == ("example.org", 8080, None, "/")
    with pytest.raises(ScanError, match="not an http"):
        target("ftp://example.org/")
    with pytest.raises(ScanError):
        target("http://")
