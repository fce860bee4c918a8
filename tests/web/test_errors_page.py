"""The Errors page and an issue's page, fed through the real ingest (envelopes over HTTP):
the listing and its filters, the issue's stack (in-app frames open, the others folded,
the error line marked), chain, breadcrumbs, tags and chart; hostile event text shown as
text in Chromium (no element, no script, no CSP violation); the status buttons; a reader
sees no button and cannot post; an unknown issue is a 404."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, expect
from tests.helpers.browser import logged_in, shot
from tests.helpers.site import VIEWER, VIEWER_PASSWORD, Site

CONFIG = """
storage: sqlite:///wk.db
projects:
  - {name: shop}
  - {name: api}
"""
SCRIPT = "<script>window.__pwned = 'script'</script>"
IMAGE = "<img src=x onerror=\"window.__pwned='img'\">"


def frame(filename: str, function: str, line: int, in_app: bool, **more: Any) -> dict[str, Any]:
    return {
        "filename": filename,
        "abs_path": f"https://shop.example.com/{filename}?v=3",
        "function": function,
        "lineno": line,
        "colno": 7,
        "in_app": in_app,
        **more,
    }


def hostile_event() -> dict[str, Any]:
    """A TypeError caused by a RangeError, with hostile text wherever a page shows text."""
    app = frame(
        "static/cart.js",
        f"checkout{IMAGE}",
        42,
        True,
        pre_context=["function checkout(cart) {", "  var total = 0;"],
        context_line=f"  cart.items.forEach(add); // {SCRIPT}",
        post_context=["  return total;", "}"],
    )
    library = frame("node_modules/react-dom.js", "commitRoot", 1200, False, context_line="x()")
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "javascript",
        "release": "shop@2.0",
        "environment": "production",
        "message": f"checkout failed {SCRIPT}",
        "tags": {"shard": IMAGE, "plan": "gold"},
        "user": {"id": "u-7f3a"},
        "request": {"method": "GET", "url": "https://shop.example.com/cart?token=secret"},
        "breadcrumbs": {
            "values": [
                {"timestamp": 1764970000.0, "category": "ui.click", "message": f"button{IMAGE}"},
                {
                    "timestamp": 1764970001.0,
                    "category": "fetch",
                    "level": "error",
                    "message": "GET /api/cart",
                    "data": {"status_code": "500", "note": SCRIPT},
                },
            ]
        },
        "exception": {
            "values": [
                {"type": "RangeError", "value": "inner cause", "stacktrace": {"frames": [app]}},
                {
                    "type": "TypeError",
                    "value": f"cart.items is undefined {SCRIPT}",
                    "mechanism": {"type": "onerror", "handled": False},
                    "stacktrace": {"frames": [library, app]},
                },
            ]
        },
    }


def plain_event(kind: str, value: str, release: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "release": release,
        "exception": {
            "values": [
                {
                    "type": kind,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "api.views",
                                "filename": "api/views.py",
                                "function": "get",
                                "lineno": 10,
                                "in_app": True,
                                "context_line": "x = y[0]",
                            }
                        ]
                    },
                }
            ]
        },
    }


def envelope(event: dict[str, Any]) -> bytes:
    body = json.dumps(event).encode()
    return b"{}\n" + json.dumps({"type": "event", "length": len(body)}).encode() + b"\n" + body


async def send_events(site: Site, events: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Send each project's events through the real ingest; the issues once all are stored."""
    async with site.client(site.token("write")) as writer:
        async with writer.get("/api/v1/projects") as answer:
            dsns = {p["name"]: p["dsn"] for p in (await answer.json())["items"]}
        async with aiohttp.ClientSession() as sdk:
            for name, batch in events.items():
                key, rest = dsns[name].split("://", 1)[1].split("@", 1)
                project = rest.rsplit("/", 1)[1]
                for event in batch:
                    url = f"{site.url}/api/{project}/envelope/?sentry_key={key}"
                    async with sdk.post(url, data=envelope(event)) as answer:
                        assert answer.status == 200, await answer.text()
        wanted = sum(len(batch) for batch in events.values())
        for _ in range(100):
            async with writer.get("/api/v1/errors/issues?status=unresolved") as answer:
                found: list[dict[str, Any]] = (await answer.json())["items"]
            if sum(i["count"] for i in found) >= wanted:
                return found
            await asyncio.sleep(0.1)
    raise AssertionError(f"issues: {found}")


async def seed(site: Site) -> dict[str, int]:
    """Three issues: the hostile TypeError (shop), a KeyError twice and a ValueError (api)."""
    issues = await send_events(
        site,
        {
            "shop": [hostile_event()],
            "api": [
                plain_event("KeyError", "'b'", "api@1"),
                plain_event("KeyError", "'b'", "api@2"),
                plain_event("ValueError", "bad literal", "api@2"),
            ],
        },
    )
    return {str(i["type"]): int(i["id"]) for i in issues}


async def test_the_errors_pages_list_filter_and_show_an_issue_as_text(
    tmp_path: Path, browser: Browser
) -> None:
    async with Site(CONFIG, tmp_path) as site:
        ids = await seed(site)
        page = await logged_in(browser, site, viewport={"width": 1360, "height": 1000})
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Secur" in m.text else 0)
        await page.click("nav >> text=Errors")
        await expect(page).to_have_url(site.url + "/errors")
        rows = page.locator("table.issues tbody tr")
        await expect(rows).to_have_count(3)
        # the most recently seen first: the ValueError came last
        await expect(rows.nth(0)).to_contain_text("ValueError: bad literal")
        key_row = page.locator("table.issues tr", has_text="KeyError")
        await expect(key_row.locator("td[data-label=Events]")).to_have_text("2")
        await expect(key_row.locator("td[data-label='Last 24 h']")).to_contain_text("2")
        await expect(key_row.locator("svg.spark-bars rect:not(.zero)")).to_have_count(1)
        await expect(key_row.locator("td[data-label=Release]")).to_have_text("api@2")
        await expect(page.locator("table.issues")).to_contain_text(f"undefined {SCRIPT}")
        await expect(page.locator("table.issues")).to_contain_text(f"checkout{IMAGE}")
        assert await page.locator("main img, main script").count() == 0
        await shot(page, "errors")

        await page.select_option("select[name=project]", "shop")
        await page.click("#error-filters button[type=submit]")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("shop")
        await page.goto(site.url + "/errors?status=all&q=keyerror")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("KeyError")
        await page.goto(site.url + "/errors?status=resolved")
        await expect(page.locator("table.issues td.empty")).to_contain_text("No resolved issues")
        await page.goto(site.url + "/errors?project=nope")
        await expect(page.locator("table.issues td.empty")).to_contain_text("no project named")

        await page.goto(site.url + "/errors")
        await page.click("a.issue-title >> text=TypeError")
        await expect(page).to_have_url(site.url + f"/errors/{ids['TypeError']}")
        main = page.locator("main")
        await expect(page.locator("h1")).to_contain_text(f"cart.items is undefined {SCRIPT}")
        await expect(main).to_contain_text(f"checkout failed {SCRIPT}")
        chain = page.locator(".exception")
        await expect(chain).to_have_count(2)
        await expect(chain.nth(0).locator(".exc-title")).to_contain_text("TypeError")
        await expect(chain.nth(1).locator(".exc-title")).to_contain_text("RangeError: inner cause")
        await expect(chain.nth(0)).to_contain_text("unhandled")
        frames = chain.nth(0).locator("details.frame")
        await expect(frames).to_have_count(2)
        # the most recent call first: the app's frame, open, its line marked
        await expect(frames.nth(0)).to_have_attribute("open", "")
        await expect(frames.nth(0).locator("summary")).to_contain_text(f"checkout{IMAGE}")
        await expect(frames.nth(0).locator("summary")).to_contain_text("static/cart.js:42:7")
        await expect(frames.nth(0).locator(".line.hit")).to_contain_text(f"// {SCRIPT}")
        await expect(frames.nth(0).locator(".line.hit .no")).to_have_text("42")
        await expect(frames.nth(0).locator(".line").first).to_contain_text("40")
        await expect(frames.nth(0).locator(".line")).to_have_count(5)
        assert await frames.nth(1).get_attribute("open") is None  # react-dom: folded
        await expect(frames.nth(1).locator("summary")).to_contain_text("commitRoot")
        crumbs = page.locator("table.crumbs tbody tr")
        await expect(crumbs).to_have_count(2)
        await expect(crumbs.nth(0)).to_contain_text(f"note={SCRIPT}")
        await expect(crumbs.nth(1)).to_contain_text(f"button{IMAGE}")
        # the user as counted: a keyed hash, never the id the SDK sent
        user = page.locator("dt:text-is('User') + dd .mono")
        await expect(user).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
        await expect(main).not_to_contain_text("u-7f3a")
        await expect(main).to_contain_text("GET https://shop.example.com/cart")
        await expect(main).not_to_contain_text("token=secret")
        await expect(page.locator(".tag-values")).to_contain_text(IMAGE)
        await expect(page.locator(".event-tags")).to_contain_text(f"shard: {IMAGE}")
        await expect(main).to_contain_text("shop@2.0 · 1")
        await expect(main).to_contain_text("production · 1")
        await expect(page.locator("#issue-chart canvas")).to_have_count(1)
        # the hostile text stayed text: no element made from it, no script run or refused
        assert await page.locator("main img, main script").count() == 0
        assert await page.evaluate("window.__pwned") is None
        assert violations == []
        assert page.errors == []  # type: ignore[attr-defined]
        await shot(page, "error-issue")

        phone = await logged_in(
            browser, site, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        await phone.goto(site.url + f"/errors/{ids['TypeError']}")
        await expect(phone.locator("#issue-chart canvas")).to_have_count(1)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        await shot(phone, "error-issue-phone")
        await phone.goto(site.url + "/errors")
        await shot(phone, "errors-phone")
        assert phone.errors == []  # type: ignore[attr-defined]

        # the buttons
        await page.click("#resolve")
        await expect(page.locator(".notice.ok")).to_have_text("Resolved.")
        await expect(page.locator(".issue-head .pill")).to_have_text("resolved")
        assert await page.locator("#resolve").count() == 0
        await page.click("#unresolve")
        await expect(page.locator(".notice.ok")).to_have_text("Unresolved again.")
        await page.fill(".in-release input[name=release]", "shop@2.1")
        await page.click("#resolve-in-release")
        await expect(page.locator(".notice.ok")).to_have_text("Resolved in shop@2.1.")
        await expect(page.locator(".issue-head")).to_contain_text("resolved in shop@2.1")
        await page.click("#ignore")
        await expect(page.locator(".issue-head .pill")).to_have_text("ignored")
        path = f"/api/v1/errors/issues/{ids['TypeError']}"
        async with site.client(site.token("read")) as reader, reader.get(path) as answer:
            stored = await answer.json()
        assert (stored["status"], stored["status_by"]) == ("ignored", "alice")


async def test_a_reader_sees_no_buttons_and_cannot_change_an_issue(tmp_path: Path) -> None:
    async with Site(CONFIG, tmp_path) as site:
        ids = await seed(site)
        issue = ids["KeyError"]
        viewer, viewer_csrf = await site.login(VIEWER, VIEWER_PASSWORD)
        admin, admin_csrf = await site.login()
        async with viewer, admin:
            async with viewer.get(f"/errors/{issue}") as answer:
                assert answer.status == 200
                html = await answer.text()
            assert "KeyError" in html
            assert not re.search(r'action="/errors/\d+/', html)
            for action in ("resolve", "ignore", "unresolve"):
                async with viewer.post(
                    f"/errors/{issue}/{action}", data={"csrf": viewer_csrf}, allow_redirects=False
                ) as answer:
                    assert answer.status == 403, action
            async with admin.get(f"/errors/{issue}") as answer:
                assert f'action="/errors/{issue}/resolve"' in await answer.text()
            async with admin.post(
                f"/errors/{issue}/ignore", data={"csrf": "wrong"}, allow_redirects=False
            ) as answer:
                assert answer.status == 403  # no CSRF token, no change
            async with admin.post(
                f"/errors/{issue}/resolve",
                data={"csrf": admin_csrf, "release": "api@3"},
                allow_redirects=False,
            ) as answer:
                assert answer.status == 303
                assert answer.headers["Location"].startswith(f"/errors/{issue}?notice=")
            async with admin.get("/errors/999999") as answer:
                assert answer.status == 404
                assert "There is no issue #999999." in await answer.text()
            async with admin.post(
                "/errors/999999/ignore", data={"csrf": admin_csrf}, allow_redirects=False
            ) as answer:
                assert answer.status == 404
        found = site.store.error_issue(issue)
        assert found is not None
        assert (found.status, found.resolution_release, found.status_by) == (
            "resolved",
            "api@3",
            "alice",
        )
