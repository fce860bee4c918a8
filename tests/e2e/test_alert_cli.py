"""The alerting commands against a running ``wk up`` and real receivers: incidents, ack,
export, notify test, broken routes in ``wk status``, reminders and escalation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.helpers.alerting import (
    FAST,
    SECRET,
    eventually,
    has,
    has_all,
    in_state,
    notifications,
    watchkeeper,
)
from tests.helpers.cli import wk
from tests.helpers.receivers import HookReceiver
from tests.helpers.switchable import SwitchableTarget


def config_text(
    hook: HookReceiver, target: SwitchableTarget, monitors: str, routes: str = ""
) -> str:
    return f"""
storage: sqlite:///wk.db
defaults: {{{FAST}, notify: [hook]}}
notify:
  - {{name: hook, webhook: "{hook.url()}", secret: "{SECRET}", group_wait: 1s, timeout: 3s}}
{routes}
monitors:
{monitors.replace("TARGET", target.url("/"))}
"""


async def test_incidents_are_listed_shown_acked_and_exported_and_ack_stops_reminders(
    tmp_path: Path,
) -> None:
    config = tmp_path / "wk.yaml"
    monitors = """  - name: api
    http: TARGETapi
    repeat: 2s
    runbook: https://wiki.example.com/api"""
    async with (
        HookReceiver(secret=SECRET) as hook,
        SwitchableTarget() as target,
        watchkeeper(config, config_text(hook, target, monitors)) as running,
    ):
        await eventually(lambda: in_state(running, "up", "api"))
        target.fail("api")
        await hook.wait(has(hook, "api", "firing"))

        listed = await wk("incidents", "--open", "--json", "-c", str(config))
        assert listed.code == 0, listed.stderr
        [incident] = listed.json()
        assert incident["monitor"] == "api" and incident["open"] is True
        assert incident["state"] == "down" and incident["notified_at"] is not None
        number = str(incident["id"])

        await hook.wait(has(hook, "api", "reminder"), timeout=10)
        acked = await wk("incident", "ack", number, "--by", "alice", "-c", str(config))
        assert acked.code == 0, acked.stderr
        acked_at = time.time()
        assert f"incident {number} (api) acknowledged by alice" in acked.stdout
        await asyncio.sleep(5)  # a repeat period, a timer round and the grouping wait

        shown = await wk("incident", "show", number, "--json", "-c", str(config))
        assert shown.code == 0, shown.stderr
        exported = await wk("incident", "export", number, "-c", str(config))
        assert exported.code == 0, exported.stderr
        target.heal("api")
        await hook.wait(has(hook, "api", "resolved"))
        closed = await wk("incidents", "--open", "--json", "-c", str(config))
        assert closed.json() == []

    reminders = [s for s in notifications(hook) if s.event == "reminder"]
    assert reminders and reminders[0].alerts[0]["state"] == "down"
    assert "api is DOWN (still)" in reminders[0].body["text"]
    assert all(s.alerts[0]["at"] < acked_at for s in reminders), "none made after the ack"
    assert all(s.request.at < acked_at + 2 for s in reminders), "none sent after the ack"

    details = shown.json()
    assert details["acked_by"] == "alice" and details["acked_at"] is not None
    kinds = [entry["kind"] for entry in details["timeline"]]
    for kind in ("detected", "queued", "notification", "acknowledged"):
        assert kind in kinds, kinds
    assert kinds[0] == "detected"
    assert any("notified 'hook' (firing)" in e["text"] for e in details["timeline"])

    markdown = exported.stdout
    assert markdown.startswith("# Postmortem: api down")
    assert "## Timeline" in markdown and "**acknowledged** — acknowledged by alice" in markdown
    assert "## Checks around the incident" in markdown and "| FAILED |" in markdown


async def test_notify_test_exits_0_through_a_live_route_and_1_in_one_line_when_down(
    tmp_path: Path,
) -> None:
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        config = tmp_path / "wk.yaml"
        config.write_text(config_text(hook, target, '  - {name: api, http: "TARGETapi"}'))
        sent = await wk("notify", "test", "hook", "-c", str(config))
        assert sent.code == 0, sent.stderr
        assert "sent a test notification through 'hook'" in sent.stdout
        [request] = hook.requests
        assert request.signed and request.json()["event"] == "test"
        assert "This is a test of route 'hook'" in request.json()["text"]

        await hook.stop()
        failed = await wk("notify", "test", "hook", "-c", str(config))
        unknown = await wk("notify", "test", "hoook", "-c", str(config))

    assert failed.code == 1 and failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert failed.stderr.startswith("route 'hook' (webhook http://127.0.0.1:")
    assert "cannot connect" in failed.stderr and "Traceback" not in failed.stderr
    assert unknown.code == 2 and "did you mean 'hook'?" in unknown.stderr


async def test_a_permanent_error_marks_the_route_broken_in_status_without_retrying(
    tmp_path: Path,
) -> None:
    config = tmp_path / "wk.yaml"
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        hook.status = 404
        text = config_text(hook, target, '  - {name: api, http: "TARGETapi"}')
        async with watchkeeper(config, text) as running:
            await eventually(lambda: in_state(running, "up", "api"))
            target.fail("api")
            await hook.wait(lambda requests: len(requests) >= 1)

            async def broken() -> str | None:
                status = await wk("status", "-c", str(config))
                return status.stdout if "route 'hook' is broken" in status.stdout else None

            shown = await eventually(broken, timeout=10)
            await asyncio.sleep(3.5)  # a retry would have come by now (backoff from 1-3 s)

    assert "HTTP 404" in shown and "1 open incident (" in shown
    assert len(hook.requests) == 1, "a permanent failure is not retried"


async def test_an_unacknowledged_problem_escalates_once_to_the_pager(tmp_path: Path) -> None:
    config = tmp_path / "wk.yaml"
    monitors = """  - name: lonely
    http: TARGETlonely
    escalate: {after: 2s, to: [pager]}
  - name: handled
    http: TARGEThandled
    escalate: {after: 15s, to: [pager]}"""
    async with (
        HookReceiver(secret=SECRET) as hook,
        HookReceiver(secret=SECRET) as pager,
        SwitchableTarget() as target,
    ):
        routes = (
            f'  - {{name: pager, webhook: "{pager.url()}", secret: "{SECRET}", group_wait: 0s}}'
        )
        async with watchkeeper(config, config_text(hook, target, monitors, routes)) as running:
            await eventually(lambda: in_state(running, "up", "lonely", "handled"))
            target.fail("lonely", "handled")
            failed_at = time.monotonic()
            await hook.wait(has_all(hook, ("lonely", "firing"), ("handled", "firing")))
            listed = await wk("incidents", "--open", "--json", "-c", str(config))
            number = next(i["id"] for i in listed.json() if i["monitor"] == "handled")
            acked = await wk("incident", "ack", str(number), "--by", "bob", "-c", str(config))
            assert acked.code == 0, acked.stderr
            await pager.wait(has(pager, "lonely", "escalation"), timeout=10)
            # past handled's 15 s and a timer round: it was acknowledged, so it stays put
            await asyncio.sleep(max(0.0, failed_at + 18 - time.monotonic()))

    paged = notifications(pager)
    assert [(s.event, s.monitors()) for s in paged] == [("escalation", ["lonely"])]
    assert "lonely is DOWN (escalated: not acknowledged)" in paged[0].body["text"]
    assert paged[0].body["title"].startswith("[ESCALATED DOWN] lonely")
    assert not any(s.event == "escalation" for s in notifications(hook))
