"""``wk up`` notifying real receivers: a signed webhook, Apprise over ``json://`` and SMTP,
and a real Alertmanager (Debian's package) doing its own grouping."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from tests.helpers.alerting import (
    FAST,
    SECRET,
    eventually,
    has,
    in_state,
    notifications,
    watchkeeper,
)
from tests.helpers.receivers import Alertmanager, HookReceiver, SmtpReceiver
from tests.helpers.switchable import SwitchableTarget

DOCUMENT = {"version", "dedup_key", "event", "route", "title", "text", "dashboard", "sent_at"}
DOCUMENT_ALERT = {
    "monitor",
    "state",
    "previous_state",
    "at",
    "since",
    "kind",
    "target",
    "reason",
    "failures",
    "warnings",
    "error",
    "cause",
    "affected",
    "runbook",
    "url",
    "incident",
    "severity",
    "tags",
    "event",
    "duration",
}


async def test_webhook_gets_one_signed_firing_then_one_resolved_with_a_stable_key(
    tmp_path: Path,
) -> None:
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        text = f"""
storage: sqlite:///wk.db
server: {{public_url: "https://wk.example.com"}}
defaults: {{{FAST}}}
notify:
  - {{name: hook, webhook: "{hook.url()}", secret: "{SECRET}", group_wait: 1s}}
monitors:
  - name: api
    http: "{target.url("/api")}"
    notify: [hook]
    tags: [web]
    runbook: https://wiki.example.com/api
"""
        async with watchkeeper(tmp_path / "wk.yaml", text) as running:
            await eventually(lambda: in_state(running, "up", "api"))
            hook.status = 503  # the first attempt fails: the retry must carry the same key
            target.fail("api")
            await hook.wait(lambda requests: len(requests) >= 1)
            hook.status = 200
            await hook.wait(has(hook, "api", "firing"), timeout=15)
            target.heal("api")
            await hook.wait(has(hook, "api", "resolved"))
            await asyncio.sleep(2.5)  # time for anything else to come: nothing should

    refused, *retried = [r for r in hook.requests if r.json()["event"] == "firing"]
    assert len(retried) == 1, [r.json()["event"] for r in hook.requests]
    assert retried[0].key == refused.key, "a retry is the same notification"
    first, again = refused.json(), retried[0].json()
    assert {**first, "sent_at": None} == {**again, "sent_at": None}

    sent = notifications(hook)
    assert [s.event for s in sent] == ["firing", "resolved"]
    assert all(r.signed for r in hook.requests), "every request verifies with the secret"
    assert all(r.headers["content-type"] == "application/json" for r in hook.requests)
    firing, resolved = sent
    assert firing.key.startswith("wk-") and firing.key != resolved.key
    for message in sent:
        assert set(message.body) == DOCUMENT | {"alerts"}
        assert message.body["dedup_key"] == message.key
        assert message.body["version"] == 1 and message.body["route"] == "hook"
        assert message.body["dashboard"] == "https://wk.example.com"
        assert datetime.fromisoformat(message.body["sent_at"]).tzinfo is not None
        assert len(message.alerts) == 1 and set(message.alerts[0]) == DOCUMENT_ALERT

    down = firing.alerts[0]
    assert firing.body["title"].startswith("[DOWN] api")
    assert "api is DOWN" in firing.body["text"]
    assert "https://wiki.example.com/api" in firing.body["text"]
    assert down["state"] == "down" and down["previous_state"] == "up"
    assert down["event"] == "firing" and down["severity"] == "critical"
    assert down["kind"] == "http" and down["target"] == target.url("/api")
    assert down["reason"] == "status 503, expected < 400"
    assert down["failures"] == ["status 503, expected < 400"]
    assert down["runbook"] == "https://wiki.example.com/api" and down["tags"] == ["web"]
    assert down["url"] == "https://wk.example.com/monitors/api"
    assert down["cause"] is None and down["affected"] == [] and down["duration"] is None

    up = resolved.alerts[0]
    assert resolved.body["title"].startswith("[RESOLVED] api is up again")
    assert up["event"] == "resolved" and up["state"] == "up" and up["previous_state"] == "down"
    assert up["incident"] == down["incident"] and up["since"] == down["since"]
    assert up["duration"] > 0 and up["at"] > down["at"]
    assert up["failures"] == [] and up["reason"] is None


async def test_apprise_json_and_mail_each_get_the_firing_and_the_resolved_message(
    tmp_path: Path,
) -> None:
    async with (
        HookReceiver() as chat,
        SmtpReceiver(user="wk", password="mail-pass") as smtp,
        SwitchableTarget() as target,
    ):
        mail_url = (
            f"mailto://wk:mail-pass@127.0.0.1:{smtp.port}"
            "?to=ops@example.com&from=wk@example.com&mode=insecure"
        )
        text = f"""
storage: sqlite:///wk.db
defaults: {{{FAST}}}
notify:
  - {{name: chat, apprise: "json://127.0.0.1:{chat.port}/apprise", group_wait: 1s}}
  - {{name: mail, apprise: "{mail_url}", group_wait: 1s}}
monitors:
  - {{name: shop, http: "{target.url("/shop")}", notify: [chat, mail]}}
"""
        async with watchkeeper(tmp_path / "wk.yaml", text) as running:
            await eventually(lambda: in_state(running, "up", "shop"))
            target.fail("shop")
            await chat.wait(lambda requests: len(requests) >= 1)
            await smtp.wait(1)
            target.heal("shop")
            await chat.wait(lambda requests: len(requests) >= 2)
            await smtp.wait(2)
            await asyncio.sleep(2)  # nothing more comes

    posted = [request.json() for request in chat.requests]
    assert [p["type"] for p in posted] == ["failure", "success"]
    assert all(r.path == "/apprise" for r in chat.requests)
    firing, resolved = posted
    assert firing["title"].startswith("[DOWN] shop — status 503")
    assert "shop is DOWN" in firing["message"] and "status 503, expected < 400" in firing["message"]
    assert resolved["title"].startswith("[RESOLVED] shop is up again")
    assert "shop is UP again" in resolved["message"]

    assert len(smtp.mails) == 2 and smtp.logins, "Apprise logged in, then sent two mails"
    for mail in smtp.mails:
        assert mail.sender == "wk@example.com" and mail.recipients == ["ops@example.com"]
    down_mail, up_mail = smtp.mails
    assert down_mail.subject == firing["title"] and "shop is DOWN" in down_mail.text
    assert "status 503, expected < 400" in down_mail.text
    assert up_mail.subject == resolved["title"] and "shop is UP again" in up_mail.text


async def test_alertmanager_gets_labelled_alerts_that_resolve_and_groups_a_storm_as_one(
    tmp_path: Path,
) -> None:
    names = [f"web-{i}" for i in range(10)]
    async with (
        HookReceiver() as am_hook,
        Alertmanager(tmp_path / "am", webhook=am_hook.url("/from-alertmanager")) as am,
        SwitchableTarget() as target,
    ):
        monitors = "\n".join(
            f'  - {{name: {name}, http: "{target.url("/" + name)}", notify: [am]}}'
            for name in names
        )
        text = f"""
storage: sqlite:///wk.db
server: {{public_url: "https://wk.example.com"}}
defaults: {{{FAST}, severity: warning}}
notify:
  - {{name: am, alertmanager: "{am.url}", group_wait: 1s, labels: {{team: web}}}}
monitors:
{monitors}
"""
        async with watchkeeper(tmp_path / "wk.yaml", text) as running:
            await eventually(lambda: in_state(running, "up", *names))
            target.all_failing = True

            async def all_firing() -> list[dict[str, object]] | None:
                found = await am.alerts()
                return found if len(found) == len(names) else None

            alerts = await eventually(all_firing, timeout=20)
            groups = await eventually(am.groups)

            def told_of_all(requests: list[object]) -> bool:
                bodies = [r.json() for r in am_hook.requests]
                return any(len(b["alerts"]) == len(names) for b in bodies)

            # under load the monitors may go down a moment apart: Alertmanager then sends the
            # group again as it grows (group_interval), but it stays one group
            await am_hook.wait(told_of_all, timeout=20)
            await asyncio.sleep(1.5)
            from_am_firing = [r.json() for r in am_hook.requests]

            target.all_failing = False
            await eventually(lambda: in_state(running, "up", *names))

            async def none_active() -> bool:
                return not await am.alerts()

            await eventually(none_active, timeout=20)
            await am_hook.wait(  # firing may have come twice as the group grew: wait for it
                lambda requests: any(r.json()["status"] == "resolved" for r in requests),
                timeout=30,
            )
            from_am = [r.json() for r in am_hook.requests]

    by_monitor = {alert["labels"]["monitor"]: alert for alert in alerts}
    assert sorted(by_monitor) == names
    first = by_monitor["web-0"]
    assert first["labels"] == {
        "alertname": "WatchkeeperMonitor",
        "monitor": "web-0",
        "severity": "warning",
        "kind": "http",
        "team": "web",
    }
    assert first["annotations"]["summary"] == "web-0 is down"
    assert first["annotations"]["description"] == "status 503, expected < 400"
    assert first["annotations"]["target"] == target.url("/web-0")
    assert first["generatorURL"] == "https://wk.example.com/monitors/web-0"
    assert first["status"]["state"] == "active"
    assert datetime.fromisoformat(first["endsAt"]) > datetime.fromisoformat(first["startsAt"])

    # Alertmanager's own grouping: one group, one notification for the whole storm
    assert len(groups) == 1, groups
    assert groups[0]["labels"] == {"alertname": "WatchkeeperMonitor"}
    assert len(groups[0]["alerts"]) == len(names)
    assert len({n["groupKey"] for n in from_am_firing}) == 1, from_am_firing
    assert all(n["status"] == "firing" for n in from_am_firing)
    assert len(from_am_firing) <= 3, "a notification per growth of the group, not per alert"
    assert len(from_am_firing[-1]["alerts"]) == len(names)

    # the recovery: Watchkeeper sent endsAt, Alertmanager resolved the group
    resolved = [n for n in from_am if n["status"] == "resolved"]
    assert resolved, from_am
    assert sorted(a["labels"]["monitor"] for a in resolved[-1]["alerts"]) == names
    assert all(a["status"] == "resolved" for a in resolved[-1]["alerts"])
