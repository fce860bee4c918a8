"""Delivery: how a page reaches its visitors — HTTP/2, compression, caching, redirects,
mixed content and page weight, each finding with the bytes it would save.

    async with Fetcher(timeout=5, allowed_hosts=hosts([url])) as fetch:
        findings = await delivery(url, fetch=fetch)

``delivery(url, *, fetch, hosts=None, max_assets=50, budgets=BUDGETS)``

- ``url``: the page. Its redirects are followed (and judged: more than one hop, or a loop).
- ``fetch``: the audit's ``Fetcher``; nothing is requested from a host it does not allow.
- ``hosts``: the hosts whose assets are fetched (default: the page's own). Assets on other
  hosts (a CDN, analytics) are counted from their URLs (mixed content, ``not_fetched`` in
  the weight's evidence) but never requested: the audit does not scan what it was not
  given. Pass the CDN's host here (and in the fetcher's ``allowed_hosts``) to weigh it.
- ``max_assets``: assets fetched at most (the page's first, in document order, then the
  fonts and images its stylesheets name); each body is capped (``_resources``).
- ``budgets``: page-weight budgets and thresholds (``_budgets``, sources cited there).

HTTP/2 is read from one TLS handshake offering ``h2, http/1.1`` (``_alpn``), not from the
fetcher, which speaks HTTP/1.1. Compression is judged on what came back for ``Accept-Encoding:
gzip, deflate``, the saving computed by compressing each body with gzip level 6.

Every finding has source ``delivery``, the page URL as given for ``subject`` and a stable
``rule``: ``http2-missing``, ``compression-missing``, ``cache-lifetime-short``,
``redirect-chain``, ``redirect-loop``, ``mixed-content-active``, ``mixed-content-passive``,
``weight-script|style|font|image|total``, ``not-html``, ``http2-not-tested``. Raises
``FetchError`` (one line) when the page's first request gets no HTTP answer.
"""

from __future__ import annotations

from yarl import URL

from watchkeeper.audit._http import Fetcher, Response
from watchkeeper.audit.delivery import _checks as checks
from watchkeeper.audit.delivery._alpn import negotiated
from watchkeeper.audit.delivery._budgets import BUDGETS, SOURCES, Budgets
from watchkeeper.audit.delivery._page import Asset, assets, css_assets
from watchkeeper.audit.delivery._resources import ACCEPT_ENCODING, Loaded, load
from watchkeeper.findings import Finding, Severity, ranked
from watchkeeper.lanes import JUDGING

__all__ = ["BUDGETS", "SOURCES", "Asset", "Budgets", "assets", "css_assets", "delivery"]

MAX_ASSETS = 50


async def delivery(
    url: str,
    *,
    fetch: Fetcher,
    hosts: frozenset[str] | None = None,
    max_assets: int = MAX_ASSETS,
    budgets: Budgets = BUDGETS,
) -> list[Finding]:
    """Every delivery finding for the page at ``url``, most important first."""
    chain = await fetch.follow(url, headers=ACCEPT_ENCODING)
    findings: list[Finding] = []
    redirect = checks.redirects(url, chain)
    if redirect is not None:
        findings.append(redirect)
    if chain.stopped is not None:
        return findings
    page = chain.final
    page_url = URL(page.url)
    own = hosts if hosts is not None else frozenset({(page_url.host or "").lower()})
    found: list[Asset] = []
    if _is_html(page):
        found = await JUDGING.run(assets, page.text, page.url)
    else:
        findings.append(checks.not_html(url, page))
    loaded, elsewhere = await load(found, fetch=fetch, hosts=own, max_assets=max_assets)
    more = await JUDGING.run(_stylesheet_assets, loaded, {a.url for a in found})
    if more:
        room = max(0, max_assets - len(loaded))
        extra, extra_elsewhere = await load(more, fetch=fetch, hosts=own, max_assets=room)
        loaded += extra
        elsewhere += extra_elsewhere
        found += more
    protocol, not_tested = await _protocol(page_url, fetch.timeout)
    if not_tested is not None:
        findings.append(
            Finding(
                source=checks.SOURCE,
                severity=Severity.info,
                title="HTTP/2 not tested: the ALPN handshake failed",
                subject=url,
                evidence={"reason": not_tested},
                recommendation="The page loaded over TLS but a second handshake did not: "
                "a connection limit or a firewall rate limit may be in the way.",
                rule="http2-not-tested",
            )
        )
    requests = 1 + sum(1 for item in loaded if item.response is not None)
    findings += await JUDGING.run(
        _judge, url, page, loaded, found, elsewhere, budgets, protocol, not_tested, requests
    )
    return ranked(findings)


def _is_html(page: Response) -> bool:
    kind = (page.header("content-type") or "").split(";")[0].strip().lower()
    if kind:
        return kind in ("text/html", "application/xhtml+xml")
    return page.body.lstrip()[:1] == b"<"


def _stylesheet_assets(loaded: list[Loaded], known: set[str]) -> list[Asset]:
    more: list[Asset] = []
    seen = set(known)
    for item in loaded:
        if item.kind != "style" or item.response is None or not item.fetched:
            continue
        for asset in css_assets(item.response.text, item.url):
            if asset.url not in seen:
                seen.add(asset.url)
                more.append(asset)
    return more


async def _protocol(page_url: URL, wait: float) -> tuple[str | None, str | None]:
    """(the ALPN protocol chosen, why it could not be asked), for an https page."""
    if page_url.scheme != "https" or page_url.host is None:
        return None, None
    try:
        return await negotiated(page_url.host, page_url.port or 443, wait=wait), None
    except OSError as exc:
        return None, str(exc)


def _judge(
    subject: str,
    page: Response,
    loaded: list[Loaded],
    found: list[Asset],
    elsewhere: list[Asset],
    budgets: Budgets,
    protocol: str | None,
    not_tested: str | None,
    requests: int,
) -> list[Finding]:
    page_url = URL(page.url)
    everything = [Loaded(page.url, "document", "page", page), *loaded]
    findings = [
        finding
        for finding in (
            checks.compression(subject, everything, budgets),
            checks.caching(subject, loaded, budgets),
            None
            if not_tested is not None
            else checks.http2(subject, page_url.scheme, protocol, requests),
        )
        if finding is not None
    ]
    findings += checks.mixed_content(subject, page.url, found)
    findings += checks.weight(subject, page, loaded, elsewhere, budgets)
    return findings
