"""A route shows where it sends as ``scheme://host`` at most, and a delivery error never
repeats the token a notification URL holds."""

from __future__ import annotations

import pytest
from aiohttp import web
from tests.helpers.servers import WebServer

from watchkeeper.notify.alertmanager import AlertmanagerSettings
from watchkeeper.notify.apprise import AppriseSettings
from watchkeeper.notify.base import Message, RouteInfo, TransportError
from watchkeeper.notify.webhook import WebhookNotifier, WebhookSettings


def test_a_webhook_shows_its_origin_only() -> None:
    settings = WebhookSettings(url="https://u:pw@hooks.example.com/services/T0/B0/XXX?token=t")
    assert settings.target() == "https://hooks.example.com"


def test_an_alertmanager_shows_its_origin_only() -> None:
    assert AlertmanagerSettings(url="http://am:pw@10.0.0.9:9093/").target() == (
        "http://10.0.0.9:9093"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailto://alerts:pw@mail.example.com?to=oncall@example.com", "mailto://mail.example.com"),
        ("ntfys://user:pw@ntfy.sh/topic", "ntfys://ntfy.sh"),
        ("json://127.0.0.1:8080/path?token=abc", "json://127.0.0.1:8080"),
        ("slack://T000A/B000B/XXXXCCCC/#ops", "slack://…"),  # the host is a token
        ("tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/12345", "tgram://…"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://…"),
        ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi", "pover://…"),
    ],
)
def test_an_apprise_url_shows_its_host_only_where_the_host_is_not_a_token(
    url: str, shown: str
) -> None:
    assert AppriseSettings(urls=(url,)).target() == shown


async def test_a_delivery_error_does_not_repeat_the_url_token() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=400, text=f"bad request to {request.url}")

    app = web.Application()
    app.router.add_post("/{tail:.*}", echo)
    async with WebServer(app) as server:
        url = server.url("/hook/PathT0ken?token=QueryT0ken")
        notifier = WebhookNotifier(WebhookSettings(url=url), RouteInfo("hook", timeout=5))
        try:
            with pytest.raises(TransportError) as caught:
                await notifier.send(Message("hook", "k", "test", "title", "text"))
        finally:
            await notifier.aclose()
    assert caught.value.permanent
    assert str(caught.value) == f"HTTP 400: bad request to http://127.0.0.1:{server.port}"
