"""Apprise routes carry what a target sent as inert text: escaped in the HTML part of a mail
(a real aiosmtpd server receives it), literal in plain text and JSON, escaped for Markdown
where the service renders Markdown (Mattermost's webhook API, served here by a receiver)."""

from __future__ import annotations

import asyncio
import json
from html import unescape

import apprise
import pytest
from tests.helpers import faults
from tests.helpers.markdown import rendered
from tests.helpers.receivers import HookReceiver, SmtpReceiver
from tests.helpers.servers import RawServer

from watchkeeper.expect import ValueType, compile_expectation, evaluate
from watchkeeper.model import Observation, Phases
from watchkeeper.notify.apprise import AppriseNotifier, AppriseSettings, reads_markdown
from watchkeeper.notify.base import AlertItem, Message, RouteInfo, TransportError
from watchkeeper.notify.render import render

NOW = 1_800_000_000.0
IMG = "<img src=x onerror=alert(1)>"
LINKS = "[click](http://evil.example/x) <http://evil.example|click> @everyone **now**"


def failure_from_a_target() -> str:
    """The failure line a JSON field holding an HTML payload makes, through the real
    expectation evaluator."""
    body = json.dumps({"status": IMG}).encode()
    observation = Observation(
        started_at=NOW, phases=Phases(total=0.1), facts={"status": 200, "body": body}
    )
    failure = evaluate(
        compile_expectation("json.status == 'ok'", {"json.*": ValueType.ANY}), observation
    )
    assert failure == f"json.status '{IMG}', expected == 'ok'"
    return failure


def hostile_message() -> Message:
    failure = failure_from_a_target()
    item = AlertItem(
        monitor="api",
        state="down",
        previous_state="up",
        at=NOW - 30,
        since=NOW - 120,
        kind="http",
        reason=failure,
        failures=(failure,),
        error=LINKS,  # an error text quoting what the target said
        runbook="https://wiki.example.com/api_runbook",
    )
    message = render("mail", "wk-test", [item], now=NOW)
    assert IMG in message.text and IMG in message.title and LINKS in message.text
    return message


def mail_url(smtp: SmtpReceiver, extra: str = "") -> str:
    return (
        f"mailto://wk:mail-pass@127.0.0.1:{smtp.port}"
        f"?to=ops@example.com&from=wk@example.com&mode=insecure{extra}"
    )


async def send(url: str, message: Message) -> None:
    notifier = AppriseNotifier(AppriseSettings(urls=(url,)), RouteInfo("route", timeout=10))
    await notifier.send(message)


async def test_the_html_part_of_a_mail_holds_the_target_payload_escaped() -> None:
    async with SmtpReceiver(user="wk", password="mail-pass") as smtp:
        await send(mail_url(smtp, "&format=html"), hostile_message())
        (mail,) = await smtp.wait(1)
    html = mail.message.get_body(preferencelist=("html",))
    plain = mail.message.get_body(preferencelist=("plain",))
    assert html is not None and plain is not None and html is not plain
    html_text, plain_text = str(html.get_content()), str(plain.get_content())
    assert "&lt;img" in html_text and "<img" not in html_text
    assert IMG in unescape(html_text).replace("\xa0", " ")  # shown as the text it was
    assert "<a " not in html_text
    assert IMG in plain_text and "[click](http://evil.example/x)" in plain_text
    assert IMG in mail.subject  # a header is text


async def test_a_plain_mail_holds_the_target_payload_as_literal_text() -> None:
    async with SmtpReceiver(user="wk", password="mail-pass") as smtp:
        await send(mail_url(smtp), hostile_message())
        (mail,) = await smtp.wait(1)
    assert mail.message.get_content_type() == "text/plain"
    assert mail.message.get_body(preferencelist=("html",)) is None
    assert IMG in mail.text and LINKS in mail.text


async def test_json_receivers_get_the_text_as_it_is() -> None:
    async with HookReceiver() as hook:
        await send(f"json://127.0.0.1:{hook.port}/apprise", hostile_message())
        (request,) = await hook.wait(lambda requests: len(requests) >= 1)
    posted = request.json()
    assert IMG in posted["title"] and IMG in posted["message"] and LINKS in posted["message"]


async def test_a_service_that_renders_markdown_gets_the_payload_escaped_for_markdown() -> None:
    async with HookReceiver() as hook:
        await send(f"mmost://127.0.0.1:{hook.port}/token0", hostile_message())
        (request,) = await hook.wait(lambda requests: len(requests) >= 1)
    assert request.path == "/hooks/token0"
    text = request.json()["text"]
    assert "\\[click\\]\\(http://evil.example/x\\)" in text
    assert "@\u200beveryone" in text
    shown = rendered(text)
    assert shown.tags <= {"p", "br", "ul", "li"}, shown.tags  # no a, img, strong, em, code
    visible = "".join(shown.text)
    assert IMG in visible and "[click](http://evil.example/x)" in visible
    assert "https://wiki.example.com/api_runbook" in visible  # a bare URL stays whole


@pytest.mark.parametrize(
    ("url", "markdown"),
    [
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", True),  # renders it from text
        ("mmost://mm.example.com/token", True),
        ("rocket://user:pw@rc.example.com/#ops", True),  # takes only Markdown
        ("slack://T000A/B000B/XXXXCCCC/#ops", False),  # Apprise escapes & < > for Slack
        ("tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/12345", False),  # HTML: Apprise escapes
        ("mailto://a:b@mail.example.com", False),
        ("json://hooks.example.com", False),
        ("ntfy://ntfy.example.com/topic", False),
    ],
)
def test_each_destination_gets_the_escaping_of_the_markup_it_reads(
    url: str, markdown: bool
) -> None:
    service = apprise.Apprise.instantiate(url)
    assert service is not None
    assert reads_markdown(url, service) is markdown


async def test_a_delivery_still_running_past_its_deadline_is_never_raced_by_a_copy() -> None:
    """The receiver trickles its answer a byte at a time (each before the socket timeout), so
    the first delivery outlives the route's deadline on its thread; a retry meanwhile fails
    without sending, and the next after the first ended goes out."""
    connections = 0

    async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await faults.read_request(reader)
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        if connections == 1:
            for byte in answer[:-2]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.15)
        writer.write(answer if connections > 1 else answer[-2:])
        await writer.drain()
        writer.close()

    async with RawServer(receiver) as server:
        notifier = AppriseNotifier(
            AppriseSettings(urls=(f"json://{server.address}/hook",)), RouteInfo("r", timeout=0.5)
        )
        with pytest.raises(TransportError, match="no answer within"):
            await notifier.send(hostile_message())
        with pytest.raises(TransportError, match="still running"):
            await notifier.send(hostile_message())
        assert connections == 1, "the copy was not sent while the first was in flight"
        for _ in range(200):
            try:
                await notifier.send(hostile_message())
                break
            except TransportError:
                await asyncio.sleep(0.1)
        assert connections == 2
