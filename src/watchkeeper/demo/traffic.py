"""The demo shop's users, simulated: what its app and its visitors' browsers would send to a
Watchkeeper they were pointed at, so that ``wk up --demo`` shows the Errors and Web Vitals
pages with something on them.

- errors: the shop's checkout reports each payment-gateway failure the demo target answers
  (a Python-SDK-like event, the same bug every time: one issue that keeps counting), and now
  and then a browser error from the product page (a JavaScript event: a second issue);
- web vitals: a few page views a second, each one batch of LCP, FCP, TTFB, CLS and INP as
  ``/rum.js`` sends them; product pages load a large image late (LCP needs improvement on
  phones), the home page is fast.

Everything goes over HTTP to the demo's own ``wk up`` on loopback, through the same public
URLs a real SDK and browser use (``/api/<project>/envelope/``, ``/rum``), with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from typing import Any

import aiohttp

log = logging.getLogger("watchkeeper.demo")

DEMO_KEY = "demo0shop0key0000000000000000000"
"""The demo project's DSN key (the demo listens on loopback only)."""
PAGES = ("/", "/product/17", "/product/42", "/product/108", "/checkout")
VIEWS_PER_SECOND = 2.0


class DemoTraffic:
    """Sends the demo's error events and web-vitals beacons until stopped."""

    def __init__(self, url: str, project: int, site: str, failures: asyncio.Queue[str]) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self.site = site
        """The demo shop's origin: the Origin its pages' beacons carry."""
        self.failures = failures
        """Failures the demo checkout answered, each to be reported as an error event."""
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._tasks = [
            asyncio.create_task(self._errors(), name="demo-errors"),
            asyncio.create_task(self._visitors(), name="demo-visitors"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        assert self._session is not None
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with self._session.post(self.url + path, data=body, headers=headers) as answer:
                await answer.read()

    async def _errors(self) -> None:
        auth = {"X-Sentry-Auth": f"Sentry sentry_key={DEMO_KEY}, sentry_version=7"}
        path = f"/api/{self.project}/envelope/"
        await self._post(path, envelope(browser_event()), auth)  # something to see at once
        while True:
            try:
                detail = await asyncio.wait_for(self.failures.get(), timeout=20.0)
                event = checkout_event(detail)
            except TimeoutError:
                event = browser_event()
            await self._post(path, envelope(event), auth)

    async def _visitors(self) -> None:
        headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": self.site}
        while True:
            await asyncio.sleep(random.expovariate(VIEWS_PER_SECOND))
            await self._post("/rum", json.dumps(page_view()).encode(), headers)


def envelope(event: dict[str, Any]) -> bytes:
    body = json.dumps(event).encode()
    head = json.dumps({"event_id": event["event_id"], "sent_at": _iso(time.time())})
    item = json.dumps({"type": "event", "length": len(body)})
    return b"\n".join((head.encode(), item.encode(), body)) + b"\n"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _frame(module: str, function: str, line: int, code: str, in_app: bool) -> dict[str, Any]:
    return {
        "module": module,
        "filename": module.replace(".", "/") + ".py",
        "function": function,
        "lineno": line,
        "in_app": in_app,
        "context_line": code,
        "pre_context": ["", f"def {function}(*args, **kwargs):"],
        "post_context": ["", ""],
    }


def checkout_event(detail: str) -> dict[str, Any]:
    """The shop's checkout failing on its payment gateway (one issue, many events)."""
    order = random.randint(10_000, 99_999)
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "release": "shop@1.4.2",
        "environment": "demo",
        "server_name": "shop-web-1",
        "transaction": "POST /checkout",
        "user": {"id": str(random.randint(1, 400))},
        "tags": {"route": "/checkout", "gateway": "stripe-eu"},
        "request": {"method": "POST", "url": "http://shop.demo.local/checkout"},
        "breadcrumbs": {
            "values": [
                {
                    "timestamp": time.time() - 0.4,
                    "category": "query",
                    "message": f"SELECT * FROM orders WHERE id = {order}",
                },
                {
                    "timestamp": time.time() - 0.1,
                    "category": "http",
                    "message": "POST https://gateway.demo.local/charge",
                    "level": "warning",
                },
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "GatewayTimeout",
                    "module": "shop.payments",
                    "value": f"{detail} (order {order})",
                    "stacktrace": {
                        "frames": [
                            _frame(
                                "aiohttp.web_app",
                                "_handle",
                                569,
                                "resp = await handler(request)",
                                False,
                            ),
                            _frame(
                                "shop.views.checkout",
                                "checkout",
                                88,
                                "receipt = await pay(order)",
                                True,
                            ),
                            _frame(
                                "shop.payments", "pay", 41, "raise GatewayTimeout(detail)", True
                            ),
                        ]
                    },
                }
            ]
        },
        "sdk": {"name": "sentry.python", "version": "2.19.0"},
    }


def browser_event() -> dict[str, Any]:
    """A browser error on the product page (the second issue)."""
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "platform": "javascript",
        "level": "error",
        "release": "shop@1.4.2",
        "environment": "demo",
        "tags": {"browser": random.choice(["Chrome 131", "Firefox 133", "Safari 18"])},
        "request": {"url": f"http://shop.demo.local/product/{random.choice((17, 42, 108))}"},
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "Cannot read properties of undefined (reading 'price')",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "http://shop.demo.local/static/app.js",
                                "function": "renderCart",
                                "lineno": 212,
                                "colno": 17,
                                "in_app": True,
                            },
                            {
                                "filename": "http://shop.demo.local/static/app.js",
                                "function": "HTMLButtonElement.onClick",
                                "lineno": 98,
                                "colno": 9,
                                "in_app": True,
                            },
                        ]
                    },
                }
            ]
        },
        "sdk": {"name": "sentry.javascript.browser", "version": "8.42.0"},
    }


def page_view() -> dict[str, Any]:
    """One page view's batch, as /rum.js sends it when the page is hidden."""
    page = random.choice(PAGES)
    mobile = random.random() < 0.55
    product = page.startswith("/product/")
    slow = 1.8 if mobile else 1.0
    ttfb = random.lognormvariate(5.4, 0.4) * slow  # ~220 ms
    fcp = ttfb + random.lognormvariate(6.6, 0.35) * slow  # + ~740 ms
    lcp = fcp + (random.lognormvariate(6.7, 0.4) * slow if product else random.uniform(0, 200))
    cls = random.choice((0.0, 0.0, 0.01, 0.03, 0.08, 0.14 if product else 0.02))
    inp = random.lognormvariate(4.6, 0.6) * (1.6 if page == "/checkout" else 1.0)
    view = uuid.uuid4().hex[:16]
    values = {"TTFB": ttfb, "FCP": fcp, "LCP": lcp, "CLS": cls, "INP": inp}
    return {
        "view": view,
        "metrics": [
            {
                "id": f"v5-{view}-{name}",
                "name": name,
                "value": round(value, 4 if name == "CLS" else 1),
                "delta": round(value, 4 if name == "CLS" else 1),
                "navigationType": "navigate",
                "page": page,
                "device": "mobile" if mobile else "desktop",
                "attribution": (
                    {"target": "main>img.hero", "url": f"http://shop.demo.local{page}.jpg"}
                    if name == "LCP" and product
                    else {}
                ),
            }
            for name, value in values.items()
        ],
    }
