"""Delivery against real nginx sites: HTTP/2 on and off, gzip on and off, assets with and
without cache headers, redirect chains, mixed content and a heavy page."""

from __future__ import annotations

import gzip
import os
import ssl
from pathlib import Path

from tests.helpers.nginx import Nginx

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.delivery import Budgets, delivery
from watchkeeper.findings import Finding, Severity

STYLE = "body { color: #333; }\n" + "".join(
    f".item-{i} {{ margin: {i}px; padding: {i % 7}px; }}\n" for i in range(300)
)
SCRIPT = "".join(
    f"function handler{i}(event) {{ return event.target.value + {i}; }}\n" for i in range(300)
)
PAGE = """<!doctype html><html><head><title>Shop</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js" defer></script></head>
<body><img src="/static/logo.png" alt="logo">{extra}
{filler}</body></html>"""
FILLER = "".join(f"<p class='item-{i}'>Product number {i}, in stock.</p>\n" for i in range(200))


def _site(
    tmp_path: Path,
    *,
    http2: bool = True,
    gzip_on: bool = True,
    cache: str = "",
    extra: str = "",
    more: str = "",
) -> Nginx:
    site = Nginx(
        tmp_path,
        f"""
        server {{{{
            listen {{address}}:{{https_port}} ssl{" http2" if http2 else ""};
            ssl_certificate {{cert}};
            ssl_certificate_key {{key}};
            root {{root}};
            gzip {"on" if gzip_on else "off"};
            gzip_types text/css application/javascript image/svg+xml;
            location /static/ {{{{ {cache} }}}}
            {more}
        }}}}
        """,
    )
    static = site.root / "static"
    static.mkdir()
    (static / "site.css").write_text(STYLE)
    (static / "app.js").write_text(SCRIPT)
    (static / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    (site.root / "index.html").write_text(PAGE.format(extra=extra, filler=FILLER))
    return site


async def _audit(
    site: Nginx, path: str = "/", *, https: bool = True, **options: object
) -> list[Finding]:
    context = ssl.create_default_context(cafile=str(site.ca_file))
    async with Fetcher(timeout=5, tls=context, allowed_hosts=frozenset({site.address})) as fetch:
        return await delivery(site.url(path, https=https), fetch=fetch, **options)  # type: ignore[arg-type]


def _rules(findings: list[Finding]) -> dict[str, Finding]:
    by_rule = {f.rule: f for f in findings}
    assert len(by_rule) == len(findings), [f.title for f in findings]
    return by_rule


LONG_CACHE = 'add_header Cache-Control "public, max-age=31536000, immutable";'


async def test_a_lean_site_on_http2_with_gzip_and_long_caching_gives_nothing(
    tmp_path: Path,
) -> None:
    with _site(tmp_path, cache=LONG_CACHE) as site:
        assert await _audit(site) == []


async def test_without_gzip_the_saving_is_what_gzip_6_makes_of_each_body(tmp_path: Path) -> None:
    with _site(tmp_path, gzip_on=False, cache=LONG_CACHE) as site:
        found = _rules(await _audit(site))
    assert set(found) == {"compression-missing"}
    compression = found["compression-missing"]
    bodies = [STYLE.encode(), SCRIPT.encode(), PAGE.format(extra="", filler=FILLER).encode()]
    expected = sum(len(b) - len(gzip.compress(b, 6)) for b in bodies)
    assert compression.evidence["responses"] == 3
    assert compression.evidence["saving_bytes"] == expected
    assert compression.evidence["bytes"] == sum(len(b) for b in bodies)
    assert "gzip on;" in compression.recommendation


async def test_without_http2_the_handshake_picks_http_1_1(tmp_path: Path) -> None:
    with _site(tmp_path, http2=False, cache=LONG_CACHE) as site:
        found = _rules(await _audit(site))
    assert set(found) == {"http2-missing"}
    assert found["http2-missing"].evidence == {"alpn": "http/1.1", "requests": 4}
    assert "listen 443 ssl http2;" in found["http2-missing"].recommendation


async def test_a_plain_http_site_has_no_http2_to_offer(tmp_path: Path) -> None:
    site = Nginx(tmp_path, "server {{ listen {address}:{http_port}; root {root}; }}")
    (site.root / "index.html").write_text("<!doctype html><p>hello</p>")
    with site:
        found = _rules(await _audit(site, https=False))
    assert found["http2-missing"].evidence["alpn"] == "not offered (http)"


async def test_assets_without_cache_headers_are_listed_with_their_bytes(tmp_path: Path) -> None:
    with _site(tmp_path, cache="expires 1h;") as site:
        found = _rules(await _audit(site))
    assert set(found) == {"cache-lifetime-short"}
    caching = found["cache-lifetime-short"]
    assert caching.evidence["assets"] == 3
    assert caching.evidence["shortest_seconds"] == 3600
    assert caching.evidence["without_cache_control"] == 0
    assert caching.evidence["without_validator"] == 0  # nginx sends ETag and Last-Modified
    assert caching.evidence["saving_bytes"] > len(STYLE) // 4  # gzipped css, js, the png
    assert "immutable" in caching.recommendation


async def test_assets_with_no_cache_policy_at_all_count_too(tmp_path: Path) -> None:
    with _site(tmp_path, cache='etag off; add_header Last-Modified "";') as site:
        found = _rules(await _audit(site))
    caching = found["cache-lifetime-short"]
    assert caching.evidence["without_cache_control"] == 3
    assert caching.evidence["without_validator"] == 3


async def test_two_redirects_before_the_page_are_a_chain(tmp_path: Path) -> None:
    more = "location = /old {{ return 301 /new; }} location = /new {{ return 302 /; }}"
    with _site(tmp_path, cache=LONG_CACHE, more=more) as site:
        chained = _rules(await _audit(site, "/old"))
        single = _rules(await _audit(site, "/new"))
    assert set(chained) == {"redirect-chain"}
    chain = chained["redirect-chain"]
    assert chain.evidence["hops"] == 2
    assert chain.evidence["chain"] == " -> ".join(
        site.url(p, https=True) for p in ("/old", "/new", "/")
    )
    assert chain.evidence["saving_bytes"] > 0
    assert single == {}  # one redirect is fine


async def test_a_redirect_loop_is_critical_and_ends_the_audit(tmp_path: Path) -> None:
    more = "location = /a {{ return 301 /b; }} location = /b {{ return 301 /a; }}"
    with _site(tmp_path, cache=LONG_CACHE, more=more) as site:
        found = _rules(await _audit(site, "/a"))
    assert set(found) == {"redirect-loop"}
    assert found["redirect-loop"].severity == Severity.critical


async def test_http_subresources_on_an_https_page_are_mixed_content(tmp_path: Path) -> None:
    extra = (
        '<script src="http://cdn.example.test/lib.js"></script>'
        '<link rel="stylesheet" href="http://cdn.example.test/theme.css">'
        '<img src="http://images.example.test/a.jpg"><img src="//images.example.test/b.jpg">'
    )
    with _site(tmp_path, cache=LONG_CACHE, extra=extra) as site:
        found = _rules(await _audit(site))
    assert set(found) == {"mixed-content-active", "mixed-content-passive"}
    active = found["mixed-content-active"]
    assert active.severity == Severity.critical
    assert active.evidence["resources"] == 2
    assert active.evidence["kinds"] == "script, style"
    passive = found["mixed-content-passive"]
    assert passive.severity == Severity.warning
    assert passive.evidence["resources"] == 1  # //images... takes the page's https
    assert "upgrade-insecure-requests" in active.recommendation


async def test_a_heavy_page_is_over_its_budgets_by_the_bytes_to_save(tmp_path: Path) -> None:
    extra = '<img src="/static/hero.jpg"><script src="/static/vendor.js"></script>'
    with _site(tmp_path, cache=LONG_CACHE, extra=extra) as site:
        (site.root / "static" / "hero.jpg").write_bytes(os.urandom(1_800_000))
        (site.root / "static" / "vendor.js").write_bytes(os.urandom(200_000))  # gzip-proof
        found = _rules(await _audit(site))
    assert set(found) == {"weight-image", "weight-script", "weight-total"}
    image = found["weight-image"]
    images = 1_800_000 + 2008  # hero.jpg and logo.png, and their headers
    assert images < image.evidence["image_bytes"] < images + 1000
    assert image.evidence["saving_bytes"] == image.evidence["image_bytes"] - 1_000_000
    assert image.evidence["budget_source"].startswith("Watchkeeper's split")
    script = found["weight-script"]
    assert script.evidence["saving_bytes"] == script.evidence["script_bytes"] - 170_000
    assert "web.dev" in script.evidence["budget_source"]
    total = found["weight-total"]
    assert total.severity == Severity.warning  # over 1,600 KiB, under 5,000 KiB
    assert total.evidence["saving_bytes"] == total.evidence["total_bytes"] - 1600 * 1024


async def test_fonts_named_in_a_stylesheet_are_fetched_and_judged(tmp_path: Path) -> None:
    with _site(tmp_path, cache="expires 1h;") as site:
        (site.root / "static" / "site.css").write_text(
            STYLE + "@font-face { font-family: Shop; src: url('fonts/shop.woff2'); }"
        )
        (site.root / "static" / "fonts").mkdir()
        (site.root / "static" / "fonts" / "shop.woff2").write_bytes(os.urandom(150_000))
        found = _rules(await _audit(site))
    assert found["cache-lifetime-short"].evidence["assets"] == 4  # css, js, png and the font
    assert found["weight-font"].evidence["font_bytes"] > 150_000


async def test_assets_beyond_the_cap_and_on_other_hosts_are_not_fetched(tmp_path: Path) -> None:
    extra = "".join(f'<img src="/static/logo.png?{i}">' for i in range(60))
    extra += '<img src="https://images.example.test/x.png">'
    with _site(tmp_path, cache=LONG_CACHE, extra=extra) as site:
        found = _rules(await _audit(site, budgets=Budgets(by_kind={"image": 1})))
    weight = found["weight-image"]
    # 63 on the page's host (css, js, logo and 60 numbered logos), 50 fetched; 1 elsewhere
    assert weight.evidence["not_fetched"] == 63 - 50 + 1
