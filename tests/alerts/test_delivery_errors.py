"""A receiver that fails with a whole HTML page is told of in one short line: the status and
the page's first line, in the log on every retry and in the incident's timeline."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from aiohttp import web
from tests.helpers.servers import WebServer

from watchkeeper.alerts.delivery import Deliverer
from watchkeeper.notify.base import AlertItem, Message, RouteInfo
from watchkeeper.notify.webhook import WebhookNotifier, WebhookSettings
from watchkeeper.store import Store
from watchkeeper.store import alerts as db

# what a proxy or a framework answers: kilobytes of markup over many lines
PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title>\n"
    + "<style>body { font-family: sans-serif; }</style>\n" * 400
    + "</head>\n<body><h1>Internal Server Error</h1>\n"
    + "<p>The server encountered an internal error.</p>\n" * 400
    + "</body>\n</html>\n"
)


async def test_a_failing_receivers_html_page_is_kept_as_its_status_and_first_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=500, text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_post("/hook", broken)
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    now = time.time()
    try:
        with store.registering([("api", "http", "")]) as (connection, ids):
            incident = db.create_incident(connection, ids["api"], now, "down", "refused", None)
            item = AlertItem("api", "down", "up", now, now, incident=incident)
            message = Message("hook", "k1", "firing", "api is down", "api is down", (item,))
            db.add_notification(connection, "hook", "k1", "firing", now, message.to_json())
        async with WebServer(app) as server:
            notifier = WebhookNotifier(
                WebhookSettings(url=server.url("/hook")), RouteInfo("hook", timeout=5)
            )
            clock = [now]
            deliverer = Deliverer(
                store, {"hook": notifier}, timeouts={"hook": 5}, clock=lambda: clock[0]
            )
            try:
                with caplog.at_level(logging.WARNING, logger="watchkeeper.alerts"):
                    for attempt in range(2):  # each attempt is logged, the first in the timeline
                        assert await deliverer.step() == 1
                        await deliverer.drain(grace=30)
                        clock[0] += 3600
                        if attempt == 0:
                            with store.read() as connection:
                                first = db.timeline(connection, incident)
            finally:
                await notifier.aclose()
        with store.read() as connection:
            entries = db.timeline(connection, incident)
            outbox = db.unfinished_notifications(connection, limit=10)
    finally:
        store.close()

    short = "HTTP 500: <!DOCTYPE html>"
    logged = [record.getMessage() for record in caplog.records]
    assert logged == [f"notification to route hook failed, retrying: {short}"] * 2
    assert len(entries) == 1 and entries == first, "the first failure is told, not the second"
    assert entries[0].text.startswith("delivery to 'hook' failed, retrying in ")
    assert entries[0].text.endswith(f": {short}")
    assert len(entries[0].text) < 100
    assert [o.last_error for o in outbox] == [short]


def test_one_line_keeps_the_first_line_visible_and_cut() -> None:
    from watchkeeper.printable import one_line

    assert one_line("\n\n  HTTP 500: first\nsecond\n") == "HTTP 500: first"
    assert one_line("bell\x07 and \x1b[31mred") == "bell\\x07 and \\x1b[31mred"
    cut = one_line("x" * 500)
    assert len(cut) == 200 and cut.endswith("…")
    assert one_line("") == ""
