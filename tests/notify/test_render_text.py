"""A route's templates make plain text: values go in as they are (the notifier escapes the
whole text for each destination), and a title stays one line."""

from __future__ import annotations

from watchkeeper.notify.base import AlertItem
from watchkeeper.notify.render import render

NOW = 1_800_000_000.0
PAYLOAD = "<b>x</b>\r\nBcc: victim@example.com"


def item() -> AlertItem:
    return AlertItem("api", "down", "up", NOW - 30, NOW - 120, reason=PAYLOAD, error=PAYLOAD)


def test_a_title_is_one_line_whatever_the_values_or_the_template() -> None:
    default = render("ops", "k", [item()], now=NOW)
    assert "\n" not in default.title and "\r" not in default.title
    assert default.title == "[DOWN] api — <b>x</b> Bcc: victim@example.com"
    custom = render(
        "ops", "k", [item()], title_template="{{ items[0].error }}\n{{ route }}", now=NOW
    )
    assert custom.title == "<b>x</b> Bcc: victim@example.com ops"


def test_templates_render_values_as_plain_text_not_html_entities() -> None:
    message = render("ops", "k", [item()], body_template="error: {{ items[0].error }}", now=NOW)
    assert message.text == f"error: {PAYLOAD}"  # escaping is the notifier's, per destination
