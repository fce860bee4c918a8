"""The real ``@sentry/browser`` (npm, pinned in tests/oracles/sentry-browser) in Chromium on a
shop page served by the test, reporting to a real ``wk up`` on another origin (the project
allows the page's origin only): an uncaught error, a handled ``captureException`` and an
unhandled promise rejection become three issues with the page's JS frames, and the Errors
and issue pages show them to a logged-in admin.

The SDK's ES modules are served from node_modules through an import map (the npm package
has no single-file bundle; Chromium resolves ``@sentry/*`` and ``web-vitals`` by the map):
no network at run time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, expect
from tests.helpers.browser import chromium, logged_in, shot
from tests.helpers.cli import WK, Running
from tests.helpers.servers import WebServer
from tests.helpers.site import ADMIN, ADMIN_PASSWORD

ORACLE = Path(__file__).parents[1] / "oracles" / "sentry-browser" / "node_modules"
SENTRY = ORACLE / "@sentry"
IMPORTS = {
    "@sentry/browser": "/npm/@sentry/browser/build/npm/esm/prod/index.js",
    "@sentry/browser-utils": "/npm/@sentry/browser-utils/build/esm/index.js",
    "@sentry/core": "/npm/@sentry/core/build/esm/index.js",
    "@sentry/core/browser": "/npm/@sentry/core/build/esm/browser.js",
    "@sentry/feedback": "/npm/@sentry/feedback/build/npm/esm/index.js",
    "@sentry/replay": "/npm/@sentry/replay/build/npm/esm/index.js",
    "@sentry/replay-canvas": "/npm/@sentry/replay-canvas/build/npm/esm/index.js",
    "@sentry/conventions": "/npm/@sentry/conventions/dist/index.mjs",
    "@sentry/conventions/attributes": "/npm/@sentry/conventions/dist/attributes.mjs",
    "@sentry/conventions/metrics": "/npm/@sentry/conventions/dist/metrics.mjs",
    "@sentry/conventions/op": "/npm/@sentry/conventions/dist/op.mjs",
    "web-vitals": "/npm/web-vitals/dist/web-vitals.js",
}
SHOP_JS = """
export function computeTotal(cart) {
  return cart.items.length * 3;
}

export function parsePrice(text) {
  if (!/^[0-9]+$/.test(text)) throw new RangeError("bad price: " + text);
  return Number(text);
}

export async function loadCart() {
  await Promise.resolve();
  throw new Error("cart service unavailable");
}
"""
APP_JS = """
import * as Sentry from "@sentry/browser";
import { computeTotal, parsePrice, loadCart } from "./shop.js";

Sentry.init({
  dsn: document.querySelector("meta[name=dsn]").content,
  release: "shop-web@1.4.0",
  environment: "browser-test",
});
Sentry.setUser({ id: "customer-42" });
Sentry.setTag("checkout_step", "cart");

document.getElementById("total").addEventListener("click", function () {
  console.log("totalling the cart");
  setTimeout(function totalLater() { computeTotal({}); }, 0);
});
document.getElementById("price").addEventListener("click", function onPrice() {
  try {
    parsePrice("abc");
  } catch (error) {
    Sentry.captureException(error);
  }
});
document.getElementById("load").addEventListener("click", function onLoad() {
  loadCart();
});
window.appReady = true;
"""


def page_html(dsn: str) -> str:
    imports = json.dumps({"imports": IMPORTS})
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<meta name="dsn" content="{dsn}">
<script type="importmap">{imports}</script>
<script type="module" src="/js/app.js"></script></head>
<body><h1>Cart</h1>
<button id="total">Total</button> <button id="price">Price</button>
<button id="load">Load cart</button></body></html>"""


def shop_app(where: dict[str, str]) -> web.Application:
    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page_html(where["dsn"]), content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        text = {"app.js": APP_JS, "shop.js": SHOP_JS}[request.match_info["name"]]
        return web.Response(text=text, content_type="text/javascript")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/js/{name}", script)
    app.router.add_static("/npm/", ORACLE, follow_symlinks=False)
    return app


async def add_admin(config: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *WK,
        *("user", "add", ADMIN, "--role", "admin", "--password-stdin"),
        *("-c", str(config)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(f"{ADMIN_PASSWORD}\n".encode()), 60)
    assert process.returncode == 0, err.decode()


async def issues_of(server: Running, wanted: int) -> list[dict[str, Any]]:
    for _ in range(100):
        found: list[dict[str, Any]] = (await server.get("/api/v1/errors/issues?project=web"))[
            "items"
        ]
        if len(found) >= wanted:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"issues: {found}")


async def throw_all(tab: Page, console: list[str]) -> None:
    try:
        await tab.wait_for_function("window.appReady === true", timeout=15_000)
    except PlaywrightError:
        raise AssertionError(f"the page's script did not start: {console}") from None
    for button in ("#total", "#price", "#load"):
        await tab.click(button)
        await tab.wait_for_timeout(150)


async def test_the_browser_sdk_reports_three_issues_the_pages_show(tmp_path: Path) -> None:
    if not (SENTRY / "browser").is_dir():
        pytest.fail(
            "the @sentry/browser oracle is not installed: run `npm ci --ignore-scripts "
            f"--prefix {ORACLE.parent}` (.ci/run does)",
            pytrace=False,
        )
    where = {"dsn": ""}
    async with WebServer(shop_app(where)) as shop:
        origin = shop.url("/").rstrip("/")
        config = tmp_path / "watchkeeper.yaml"
        config.write_text(
            f'storage: sqlite:///wk.db\nprojects:\n  - {{name: web, origins: ["{origin}"]}}\n'
        )
        await add_admin(config)
        server = await Running("-c", str(config), cwd=tmp_path).start()
        try:
            (project,) = (await server.get("/api/v1/projects"))["items"]
            where["dsn"] = project["dsn"]
            assert where["dsn"].endswith(server.url.split("://")[1] + "/1")
            assert not origin.startswith(server.url)
            async with chromium() as browser:
                context = await browser.new_context()
                tab = await context.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda error: errors.append(str(error)))
                refused: list[str] = []
                tab.on("requestfailed", lambda r: refused.append(r.url))
                console: list[str] = []
                tab.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                await tab.goto(shop.url("/"))
                await throw_all(tab, console)
                issues = await issues_of(server, 3)
                assert refused == []
                # the uncaught one reached the page's onerror too (Sentry's handler passes it on)
                assert any("reading 'length'" in e for e in errors), errors

                titles = {i["title"].split(":")[0]: i for i in issues}
                assert set(titles) == {"TypeError", "RangeError", "Error"}, issues
                assert titles["RangeError"]["title"] == "RangeError: bad price: abc"
                assert titles["Error"]["title"] == "Error: cart service unavailable"
                assert "reading 'length'" in titles["TypeError"]["title"]
                for issue in issues:
                    assert issue["last_release"] == "shop-web@1.4.0"
                    assert issue["platform"] == "javascript"
                    assert issue["users"] == 1
                frames = {}
                mechanisms = {}
                for kind, issue in titles.items():
                    detail = await server.get(f"/api/v1/errors/issues/{issue['id']}?events=1")
                    (event,) = detail["events"]
                    raised = event["exception"][-1]
                    frames[kind] = [
                        (f["function"], (f["filename"] or "").rsplit("/", 1)[-1])
                        for f in raised["frames"]
                    ]
                    mechanisms[kind] = raised["mechanism"]
                    assert event["user"] == {"id": "customer-42", "username": None, "email": None}
                    assert ["checkout_step", "cart"] in event["tags"]
                assert ("computeTotal", "shop.js") in frames["TypeError"], frames
                assert ("totalLater", "app.js") in frames["TypeError"], frames
                assert ("parsePrice", "shop.js") in frames["RangeError"], frames
                assert ("HTMLButtonElement.onPrice", "app.js") in frames["RangeError"], frames
                assert ("loadCart", "shop.js") in frames["Error"], frames
                assert mechanisms["TypeError"]["handled"] is False
                assert mechanisms["RangeError"]["handled"] is True
                assert mechanisms["Error"]["handled"] is False
                assert "unhandledrejection" in str(mechanisms["Error"]["type"])

                again = await context.new_page()  # a second visit: counts, not new issues
                await again.goto(shop.url("/"))
                await throw_all(again, console)
                for _ in range(100):
                    listed = await issues_of(server, 3)
                    if sum(i["count"] for i in listed) >= 6:
                        break
                    await asyncio.sleep(0.2)
                assert sorted(i["count"] for i in listed) == [2, 2, 2]

                admin = await logged_in(browser, server, viewport={"width": 1360, "height": 1000})
                await admin.click("nav >> text=Errors")
                rows = admin.locator("table.issues tbody tr")
                await expect(rows).to_have_count(3)
                await expect(admin.locator("table.issues")).to_contain_text("shop-web@1.4.0")
                await expect(rows.first.locator("td[data-label=Events]")).to_have_text("2")
                await shot(admin, "errors-browser-sdk")
                await admin.click("a.issue-title >> text=TypeError")
                main = admin.locator("main")
                await expect(admin.locator("h1")).to_contain_text("TypeError")
                await expect(main).to_contain_text("unhandled")
                top = admin.locator(".exception").first.locator("details.frame").first
                await expect(top.locator("summary")).to_contain_text("computeTotal")
                await expect(top.locator("summary")).to_contain_text("/js/shop.js:3:")
                await expect(top).to_have_attribute("open", "")  # in app: open
                await expect(admin.locator("table.crumbs")).to_contain_text("totalling the cart")
                await expect(main).to_contain_text("checkout_step")
                await expect(main).to_contain_text("browser-test")
                await expect(main).not_to_contain_text("customer-42")
                await expect(admin.locator("#issue-chart canvas")).to_have_count(1)
                assert admin.errors == []  # type: ignore[attr-defined]
                await shot(admin, "error-issue-browser-sdk")
        finally:
            assert await server.stop() == 0, server.stderr
