"""Messages say what a person on call needs first."""

from __future__ import annotations

import random

from watchkeeper.alerts.delivery import Backoff
from watchkeeper.notify.base import AlertItem, Message
from watchkeeper.notify.render import render

NOW = 1_800_000_000.0


def item(**overrides: object) -> AlertItem:
    values: dict[str, object] = {
        "monitor": "api",
        "state": "down",
        "previous_state": "up",
        "at": NOW - 30,
        "since": NOW - 120,
        "reason": "status 503, expected == 200",
        "failures": ("status 503, expected == 200",),
        "runbook": "https://wiki/api",
        "url": "https://wk.example.com/monitors/api",
        "affected": ("checkout", "search"),
    }
    values.update(overrides)
    return AlertItem(**values)  # type: ignore[arg-type]


def test_a_single_problem_names_monitor_state_reason_and_runbook() -> None:
    message = render("ops", "k", [item()], now=NOW)
    assert message.title == "[DOWN] api — status 503, expected == 200"
    assert "api is DOWN since" in message.text and "(2m)" in message.text
    assert "- status 503, expected == 200" in message.text
    assert "also down because of it: checkout, search" in message.text
    assert "runbook: https://wiki/api" in message.text
    assert "https://wk.example.com/monitors/api" in message.text
    assert message.event == "firing"


def test_a_group_counts_states_in_its_title() -> None:
    items = [item(), item(monitor="db", state="up", event="resolved", duration=600.0)]
    message = render("ops", "k", items, now=NOW)
    assert message.title == "[1 DOWN, 1 RESOLVED] api, db"
    assert "db is UP again after 10m" in message.text
    assert message.event == "mixed"


def test_a_route_template_replaces_the_default_and_a_broken_one_falls_back() -> None:
    custom = render("ops", "k", [item()], title_template="{{ items[0].monitor }}!", now=NOW)
    assert custom.title == "api!"
    broken = render("ops", "k", [item()], body_template="{{ nope.nothing }}", now=NOW)
    assert "api is DOWN" in broken.text and "body template failed" in broken.text


def test_messages_survive_the_outbox_round_trip() -> None:
    message = render("ops", "k", [item()], now=NOW)
    assert Message.from_json(message.to_json()) == message


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(first=2, most=60)
    rng = random.Random(1)
    delays = [backoff.delay(attempt, rng) for attempt in range(1, 10)]
    assert 1 <= delays[0] <= 3 and 2 <= delays[1] <= 6
    assert all(30 <= d <= 90 for d in delays[5:])
