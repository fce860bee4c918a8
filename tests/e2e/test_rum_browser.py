"""Real-user monitoring end to end: Chromium (Playwright) loads pages built to be slow or
stable from a real web server, each carrying ``<script src=".../rum.js">`` from a real
``wk up``; leaving each page makes web-vitals report; the p75 values ``wk up`` stored land in
the ratings the pages were built for.

    /late-image   a large image answered 4.6 s late: LCP poor
    /shifting     content pushed down twice after load: CLS poor
    /busy         a click handler that blocks the main thread for 700 ms: INP poor
    /fast         a small stable page and a quick click handler: LCP, CLS, INP, FCP, TTFB good
"""

from __future__ import annotations

import asyncio
import random
import struct
import zlib
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, Page
from tests.helpers.browser import chromium, shot
from tests.helpers.cli import Running
from tests.helpers.servers import WebServer

from watchkeeper.rum.analysis import summarize
from watchkeeper.store import Store

LOADS = 3
"""Page views of each page (the p75 of three is their worst)."""
IMAGE_DELAY = 4.6


def noisy_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: Chrome leaves low-entropy images (placeholders) out of LCP."""
    rng = random.Random(7)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def page(title: str, rum: str, body: str, script: str = "") -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="{rum}" defer></script></head>
<body style="margin:0;font:16px sans-serif">{body}
<script>{script}</script></body></html>"""


def pages_app(where: dict[str, str]) -> web.Application:
    """The test pages; ``where["rum"]`` is the script's address (known once wk is up)."""
    image = noisy_png(640, 420)
    rum = "{rum}"
    text = "<p>" + "Watchkeeper measures what real browsers saw. " * 30 + "</p>"
    html = {
        "/late-image": page(
            "late image",
            rum,
            '<p>Loading the product photo…</p><img id="hero" src="/img/hero.png?v=1" '
            'width="640" height="420" alt="hero">',
        ),
        "/shifting": page(
            "shifting",
            rum,
            f'<div id="top"></div><article id="story">{text * 4}</article>',
            """
            function push(height) {
              var ad = document.createElement('div');
              ad.className = 'ad'; ad.style.height = height + 'px'; ad.style.background = '#fc8';
              document.getElementById('top').appendChild(ad);
            }
            setTimeout(function () { push(260); }, 300);
            setTimeout(function () { push(260); }, 700);
            """,
        ),
        "/busy": page(
            "busy",
            rum,
            f'<button id="buy" style="font-size:24px;padding:20px">Buy</button>{text}'
            '<p id="done"></p>',
            """
            document.getElementById('buy').addEventListener('click', function () {
              var end = performance.now() + 700;
              while (performance.now() < end) {}
              document.getElementById('done').textContent = 'bought';
            });
            """,
        ),
        "/fast": page(
            "fast",
            rum,
            f'<h1>Fast</h1><button id="ok" style="font-size:24px">OK</button>{text}'
            '<p id="done"></p>',
            """
            document.getElementById('ok').addEventListener('click', function () {
              document.getElementById('done').textContent = 'ok';
            });
            """,
        ),
        "/away": "<!doctype html><title>away</title><p>left</p>",
    }

    async def serve(request: web.Request) -> web.Response:
        text = html[request.path].replace(rum, where["rum"])
        return web.Response(text=text, content_type="text/html")

    async def hero(_: web.Request) -> web.Response:
        await asyncio.sleep(IMAGE_DELAY)
        return web.Response(body=image, content_type="image/png")

    app = web.Application()
    for path in html:
        app.router.add_get(path, serve)
    app.router.add_get("/img/hero.png", hero)
    return app


async def view(browser: Browser, site: WebServer, path: str, **context: Any) -> list[str]:
    """Load ``path`` in a fresh context, do what the page is for, then leave it (web-vitals
    reports on the way out); returns the page's script errors."""
    made = await browser.new_context(**context)
    errors: list[str] = []
    try:
        tab: Page = await made.new_page()
        tab.on("pageerror", lambda error: errors.append(str(error)))
        await tab.goto(site.url(path), wait_until="load")
        if path == "/late-image":
            await tab.wait_for_function("document.getElementById('hero').complete")
            await tab.wait_for_timeout(300)  # the image painted
        elif path == "/shifting":
            await tab.wait_for_timeout(1500)
        elif path in ("/busy", "/fast"):
            await tab.wait_for_timeout(200)
            await tab.click("#buy" if path == "/busy" else "#ok")
            await tab.wait_for_function("document.getElementById('done').textContent !== ''")
            await tab.wait_for_timeout(300)
        else:
            await tab.wait_for_timeout(300)
        if path == "/shifting" and not context:
            await shot(tab, "rum-shifting-page")
        await tab.goto(site.url("/away"))  # hidden, then pagehide: the beacon goes out
        await tab.wait_for_timeout(200)
    finally:
        await made.close()
    return errors


def config(origin: str) -> str:
    return f"""
storage: sqlite:///wk.db
rum:
  origins: ["{origin}"]
  pages:
    - {{name: late-image, pattern: /late-image}}
    - {{name: shifting, pattern: /shifting}}
    - {{name: busy, pattern: /busy}}
    - {{name: fast, pattern: /fast}}
"""


async def test_chromium_beacons_land_in_the_ratings_the_pages_were_built_for(
    tmp_path: Path,
) -> None:
    where = {"rum": ""}
    async with WebServer(pages_app(where)) as site:
        origin = site.url("/").rstrip("/")
        (tmp_path / "watchkeeper.yaml").write_text(config(origin))
        wk = await Running("-c", "watchkeeper.yaml", cwd=tmp_path).start()
        where["rum"] = f"{wk.url}/rum.js"
        try:
            async with chromium() as browser:
                errors: list[str] = []
                for path in ("/late-image", "/shifting", "/busy"):  # a page's views at once
                    for found in await asyncio.gather(
                        *(view(browser, site, path) for _ in range(LOADS))
                    ):
                        errors += found
                mobile = {
                    "viewport": {"width": 390, "height": 844},
                    "is_mobile": True,
                    "has_touch": True,
                    "device_scale_factor": 2,
                }
                for context in [{}] * LOADS + [mobile]:  # the fast one alone: nothing slows it
                    errors += await view(browser, site, "/fast", **context)
                assert errors == []
            expected = 4 * LOADS + 1
            for _ in range(100):  # beacons are counted at once; the API adds what is held
                summary = await wk.get("/api/v1/rum/summary?window=15m")
                views = {
                    i["page"]: i["samples"]
                    for i in summary["items"]
                    if i["metric"] == "TTFB" and i["device"] == "all"
                }
                if sum(views.values()) >= expected:
                    break
                await asyncio.sleep(0.2)
            assert views == {
                "late-image": LOADS,
                "shifting": LOADS,
                "busy": LOADS,
                "fast": LOADS + 1,
            }, views
            worst = await wk.get("/api/v1/rum/worst?metric=LCP&page=late-image")
        finally:
            assert await wk.stop() == 0, wk.stderr

    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}", existing=True)
    try:
        tallies = store.rum_tallies(0, 4e9)
    finally:
        store.close()
    found = {(s.page, s.device, s.metric): s for s in summarize(tallies)}
    rating = {key: str(s.rating) for key, s in found.items()}

    assert rating.get(("late-image", "all", "LCP")) == "poor", sorted(rating.items())
    assert found[("late-image", "all", "LCP")].p75 >= IMAGE_DELAY * 1000  # type: ignore[operator]
    assert rating[("shifting", "all", "CLS")] == "poor"
    assert rating[("busy", "all", "INP")] == "poor"
    for metric in ("LCP", "CLS", "INP", "FCP", "TTFB"):
        assert rating[("fast", "all", metric)] == "good", (metric, found[("fast", "all", metric)])
    assert rating[("shifting", "all", "LCP")] == "good"
    assert rating[("busy", "all", "CLS")] == "good"
    assert found[("fast", "mobile", "LCP")].samples == 1
    assert found[("fast", "desktop", "LCP")].samples == LOADS
    assert {s.device for s in found.values()} == {"all", "desktop", "mobile"}

    (lcp, *_) = worst["items"]
    assert lcp["attribution"]["url"].endswith("/img/hero.png")  # no query string kept
    assert "hero" in lcp["attribution"]["target"]
    assert lcp["path"] == "/late-image"
