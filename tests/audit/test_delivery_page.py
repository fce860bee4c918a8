"""Reading a page's assets: what counts, what does not (comments, scripts' text, data: URLs),
and hostile markup read to its end."""

from __future__ import annotations

from watchkeeper.audit._http import Response
from watchkeeper.audit.delivery import assets, css_assets
from watchkeeper.audit.delivery._checks import lifetime

PAGE = """<!doctype html><html><head>
<base href="/shop/">
<link rel="stylesheet" href="css/site.css"><link rel=preload as=font href="/f/a.woff2">
<link rel="icon" href="/favicon.ico"><link rel=modulepreload href=/m.js>
<script src="app.js"></script><script>var s = "<img src=in-script.png>";</script>
<style>.a { background: url(in-style.png) }</style>
<!-- <img src="commented.png"> -->
</head><body>
<img alt="a > b" src="hero.jpg"><img srcset="s1.png 1x, s2.png 2x">
<picture><source srcset="p.avif" type="image/avif"></picture>
<video poster="poster.jpg" src="v.mp4"></video><iframe src="//other.test/embed"></iframe>
<noscript><img src="no-js.png"></noscript><textarea><img src=typed.png></textarea>
<img src="data:image/gif;base64,R0lGOD"><img src="&#x2F;entity.png"><img src="hero.jpg">
<IMG SRC="UPPER.PNG"><input type="image" src="go.png">
</body></html>"""


def test_every_kind_of_reference_is_found_once_in_document_order() -> None:
    found = [(a.url, a.kind) for a in assets(PAGE, "https://site.test/index.html")]
    assert found == [
        ("https://site.test/shop/css/site.css", "style"),
        ("https://site.test/f/a.woff2", "font"),
        ("https://site.test/favicon.ico", "image"),
        ("https://site.test/m.js", "script"),
        ("https://site.test/shop/app.js", "script"),
        ("https://site.test/shop/hero.jpg", "image"),
        ("https://site.test/shop/s1.png", "image"),
        ("https://site.test/shop/p.avif", "image"),
        ("https://site.test/shop/v.mp4", "media"),
        ("https://site.test/shop/poster.jpg", "image"),
        ("https://other.test/embed", "frame"),
        ("https://site.test/entity.png", "image"),
        ("https://site.test/shop/UPPER.PNG", "image"),
        ("https://site.test/shop/go.png", "image"),
    ]


def test_a_stylesheet_names_its_fonts_images_and_imports() -> None:
    css = (
        "@import 'print.css'; @import url(\"theme.css\");\n"
        "@font-face { src: url(/fonts/a.woff2) format('woff2'), url('b.ttf?v=2'); }\n"
        ".hero { background: url(data:image/png;base64,AAAA), url(../img/h.webp); }"
    )
    found = [(a.url, a.kind) for a in css_assets(css, "https://s.test/css/site.css")]
    assert found == [
        ("https://s.test/css/theme.css", "style"),
        ("https://s.test/fonts/a.woff2", "font"),
        ("https://s.test/css/b.ttf?v=2", "font"),
        ("https://s.test/img/h.webp", "image"),
        ("https://s.test/css/print.css", "style"),
    ]


def test_markup_that_never_closes_ends_the_reading_not_the_program() -> None:
    before = '<img src="/a.png">'
    for hostile in (
        "<!--" * 100_000,
        "<a b='" * 50_000,
        "<script>" + "</scrip" * 50_000,
        "<" * 300_000,
        '<img src="' + "x" * 300_000,
    ):
        found = assets(before + hostile + '<img src="/after.png">', "http://s.test/")
        assert [a.url for a in found][:1] == ["http://s.test/a.png"]


def _response(*headers: tuple[str, str]) -> Response:
    return Response(url="http://s.test/a.js", status=200, headers=headers)


def test_cache_lifetimes_read_as_a_browser_does() -> None:
    assert lifetime(_response(("cache-control", "public, max-age=31536000, immutable"))) == (
        31536000
    )
    assert lifetime(_response(("cache-control", "max-age=600, no-cache"))) == 0
    assert lifetime(_response(("cache-control", "no-store"))) == 0
    assert lifetime(_response(("cache-control", "max-age=soon"))) == 0
    assert lifetime(_response()) is None
    dated = _response(
        ("date", "Tue, 01 Jul 2025 00:00:00 GMT"), ("expires", "Tue, 01 Jul 2025 01:00:00 GMT")
    )
    assert lifetime(dated) == 3600
    assert lifetime(_response(("expires", "0"))) == 0
