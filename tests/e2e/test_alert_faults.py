"""Alerting when things go wrong: a receiver that is away, ``wk up`` killed mid-delivery, a
flapping target, a parent taking 50 children down, maintenance windows and silences."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.helpers.alerting import (
    FAST,
    SECRET,
    alert_events,
    eventually,
    has,
    has_all,
    in_state,
    notifications,
    repeated_keys,
    unique,
    watchkeeper,
)
from tests.helpers.cli import Running, wk
from tests.helpers.receivers import Alertmanager, HookReceiver
from tests.helpers.switchable import SwitchableTarget

from watchkeeper.alerts.delivery import LEASE_MARGIN, SEND_GRACE
from watchkeeper.notify import AlertItem, Message, RouteInfo
from watchkeeper.notify.alertmanager import NOTIFIER as ALERTMANAGER
from watchkeeper.notify.alertmanager import AlertmanagerSettings
from watchkeeper.store import Store


def hook_config(
    hook: HookReceiver,
    target: SwitchableTarget,
    *names: str,
    extra: str = "",
    defaults: str = "",
) -> str:
    monitors = "\n".join(
        f'  - {{name: {name}, http: "{target.url("/" + name)}"}}' for name in names
    )
    return f"""
storage: sqlite:///wk.db
defaults: {{{FAST}, notify: [hook]{defaults}}}
notify:
  - {{name: hook, webhook: "{hook.url()}", secret: "{SECRET}", group_wait: 1s, timeout: 3s}}
monitors:
{monitors}
{extra}
"""


def assert_firing_before_resolved(hook: HookReceiver) -> None:
    """In what a deduplicating receiver keeps, each incident's firing comes first."""
    seen: dict[int, list[str]] = {}
    for sent in unique(hook):
        for alert in sent.alerts:
            seen.setdefault(alert["incident"], []).append(alert["event"])
    for incident, events in seen.items():
        assert events[0] == "firing", (incident, events)


@pytest.mark.parametrize(
    ("away", "route"),
    [
        pytest.param(12.0, "", id="12s"),
        # the two minutes; retries capped at 10 s so the test need not wait a minute
        # for the next one after the receiver is back
        pytest.param(
            120.0, ", retry_max: 10s", id="2min", marks=[pytest.mark.slow, pytest.mark.timeout(300)]
        ),
    ],
)
async def test_a_receiver_away_for_a_while_gets_every_notification_once_when_back(
    tmp_path: Path, away: float, route: str
) -> None:
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        config = tmp_path / "wk.yaml"
        text = hook_config(hook, target, "blip", "stays").replace(
            ", timeout: 3s}", f", timeout: 3s{route}}}"
        )
        async with watchkeeper(config, text) as running:
            await eventually(lambda: in_state(running, "up", "blip", "stays"))
            await hook.stop()
            went = time.monotonic()
            target.fail("blip")  # down and back while the receiver is away
            # (room for a loaded machine: this test is about delivery, not detection)
            await eventually(lambda: in_state(running, "down", "blip"), timeout=40)
            await asyncio.sleep(2.5)  # its notification is queued and refused by now
            target.fail("stays")  # down while the receiver is away, and still down after
            target.heal("blip")
            await eventually(lambda: in_state(running, "up", "blip"))
            await eventually(lambda: in_state(running, "down", "stays"))
            await asyncio.sleep(2)
            status = await wk("status", "-c", str(config))
            assert "waiting to be delivered" in status.stdout, status.stdout
            # blip's incidents (a loaded machine may have timed a check out earlier, which
            # is an incident of its own that recovered before it was announced)
            listed = await wk("incidents", "--json", "-c", str(config))
            texts = []
            for found in listed.json():
                if found["monitor"] == "blip":
                    shown = await wk(
                        "incident", "show", str(found["id"]), "-c", str(config), "--json"
                    )
                    texts += [entry["text"] for entry in shown.json()["timeline"]]
            assert any("delivery to 'hook' failed, retrying" in t for t in texts), texts
            await asyncio.sleep(max(0.0, away - (time.monotonic() - went)))
            assert not hook.requests
            await hook.start()
            await hook.wait(
                has_all(hook, ("blip", "firing"), ("blip", "resolved"), ("stays", "firing")),
                timeout=45,
            )
            await asyncio.sleep(3)  # nothing comes twice

    assert not repeated_keys(hook), "each notification arrived once"
    counted = Counter(alert_events(hook))
    assert sorted(counted.values()) == [1, 1, 1], counted
    assert {(monitor, event) for monitor, _, event in counted} == {
        ("blip", "firing"),
        ("blip", "resolved"),
        ("stays", "firing"),
    }
    assert all(request.signed for request in hook.requests)
    assert_firing_before_resolved(hook)


async def test_kill_9_mid_delivery_loses_nothing_and_announces_nothing_twice(
    tmp_path: Path,
) -> None:
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        hook.hold = 1.0  # a slow receiver: each delivery is in flight for a second
        config = tmp_path / "wk.yaml"
        config.write_text(hook_config(hook, target, "alpha", "beta", "gamma"))
        first = await Running("-c", str(config), cwd=tmp_path).start()
        try:
            await eventually(lambda: in_state(first, "up", "alpha", "beta", "gamma"))
            target.fail("alpha")
            await hook.wait(lambda requests: len(requests) >= 1, timeout=15)
        finally:
            await first.kill()  # while the receiver still holds the request
        assert first.process is not None and first.process.returncode == -9
        target.heal("alpha")  # recovered while Watchkeeper was down
        target.fail("beta")  # went down while Watchkeeper was down
        async with watchkeeper(config, config.read_text()) as second:
            await eventually(lambda: in_state(second, "down", "beta"))
            await eventually(lambda: in_state(second, "up", "alpha", "gamma"))
            await hook.wait(has_all(hook, ("alpha", "resolved"), ("beta", "firing")), timeout=60)
            await eventually(lambda: _outbox_empty(config), timeout=60)
            await asyncio.sleep(1.5)

    # a copy of the notification in flight at the kill may come again, with the same key
    repeats = repeated_keys(hook)
    assert set(repeats) <= {hook.requests[0].key}, repeats
    kept = unique(hook)
    firing = Counter(
        (alert["monitor"], alert["incident"])
        for sent in kept
        for alert in sent.alerts
        if alert["event"] == "firing"
    )
    assert sorted(firing) == [("alpha", 1), ("beta", 2)], firing
    assert set(firing.values()) == {1}, "no incident announced twice"
    resolved = [a["monitor"] for sent in kept for a in sent.alerts if a["event"] == "resolved"]
    assert resolved == ["alpha"], "the recovery during the outage is reported once"
    assert not any("gamma" in sent.monitors() for sent in kept)
    assert_firing_before_resolved(hook)


async def test_after_kill_9_mid_delivery_the_copy_comes_with_the_same_key_once_the_lease_is_out(
    tmp_path: Path,
) -> None:
    """The lease is the route's timeout plus a send's grace and a margin (3 + 5 + 5 = 13 s
    here; it was the timeout + 30 s): the restarted process re-sends the notification that
    was in flight at the kill that long after the claim — not sooner, while the first could
    still be at the receiver, and not much later."""
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        hook.hold = 2.5  # slow, but inside the route's 3 s: the kill comes while it holds
        config = tmp_path / "wk.yaml"
        config.write_text(hook_config(hook, target, "alpha"))
        first = await Running("-c", str(config), cwd=tmp_path).start()
        try:
            await eventually(lambda: in_state(first, "up", "alpha"))
            target.fail("alpha")
            await hook.wait(lambda requests: len(requests) >= 1, timeout=15)
        finally:
            await first.kill()
        sent = hook.requests[0]
        [(status, key, created_at, lease_until)] = await asyncio.to_thread(
            _outbox, tmp_path / "wk.db"
        )
        lease = 3.0 + SEND_GRACE + LEASE_MARGIN  # the route's timeout and a few seconds
        assert SEND_GRACE + LEASE_MARGIN <= 10
        assert (status, key) == ("sending", sent.key)
        # claimed after the notification was made and before it reached the receiver
        assert created_at + lease <= lease_until <= sent.at + lease, lease_until - sent.at
        hook.hold = 0.0
        async with watchkeeper(config, config.read_text()):
            ready = time.time()
            await hook.wait(lambda requests: len(requests) >= 2, timeout=lease + 30)
            await eventually(lambda: _outbox_empty(config), timeout=30)
            await asyncio.sleep(1)  # nothing more comes

    again = hook.requests[1]
    assert len(hook.requests) == 2 and again.key == sent.key
    assert again.json()["alerts"] == sent.json()["alerts"], "the same notification"
    assert again.at >= lease_until, "never while the first attempt could be in flight"
    # the restarted process looks every tick (0.5 s) while the outbox holds anything: the
    # copy follows the lease's end (or the restart, if that came later) within the timeout
    assert again.at <= max(lease_until, ready) + 3.0, (again.at - lease_until, ready - lease_until)


async def test_alertmanager_takes_a_copy_of_a_notification_as_the_same_alert_told_once(
    tmp_path: Path,
) -> None:
    """What the README promises of a copy after a kill: an Alertmanager route needs no key,
    the alert is its labels (the copy is a re-send of the firing alert, as ``resend`` does
    all the time) and Alertmanager's notification log tells its receivers once."""
    async with (
        HookReceiver() as am_hook,
        Alertmanager(tmp_path / "am", webhook=am_hook.url("/from-alertmanager")) as am,
    ):
        now = time.time()
        item = AlertItem("db", "down", "up", now, now, kind="tcp", reason="refused", incident=1)
        message = Message("am", "wk-copy", "firing", "[DOWN] db", "db is DOWN", (item,), now)
        notifier = ALERTMANAGER.create(
            AlertmanagerSettings(url=am.url), RouteInfo("am", timeout=3.0)
        )
        try:
            await notifier.send(message)
            await am_hook.wait(lambda requests: len(requests) >= 1, timeout=20)
            await notifier.send(message)  # the copy, after Alertmanager told its receiver
            await asyncio.sleep(5)  # past its group_interval (2 s): a change would be told
            alerts = await am.alerts()
        finally:
            await notifier.aclose()
    assert [a["labels"]["monitor"] for a in alerts] == ["db"]
    assert len(am_hook.requests) == 1, [r.json() for r in am_hook.requests]


def _outbox(database: Path) -> list[tuple[str, str, float, float]]:
    """(status, dedup key, created at, lease until) of every notification, read from the
    SQLite file directly (after a kill: no process has it open)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT status, dedup_key, created_at, lease_until FROM notifications ORDER BY id"
        ).fetchall()
    return [(str(s), str(k), float(c), float(u or 0.0)) for s, k, c, u in rows]


async def _outbox_empty(config: Path) -> bool:
    status = await wk("status", "-c", str(config))
    return status.code == 0 and "waiting to be delivered" not in status.stdout


async def test_a_flapping_target_is_announced_once_as_flapping(tmp_path: Path) -> None:
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        flapping = ", flapping: {transitions: 4, window: 30s}"
        text = hook_config(hook, target, "flappy", defaults=flapping)
        async with watchkeeper(tmp_path / "wk.yaml", text) as running:
            await eventually(lambda: in_state(running, "up", "flappy"))
            toggles_left = None  # after it is flapping, four more changes: still quiet
            for _ in range(30):  # about two checks healthy, two failing
                if target.is_failing("flappy"):
                    target.heal("flappy")
                else:
                    target.fail("flappy")
                await asyncio.sleep(0.6)
                if toggles_left is None and await in_state(running, "flapping", "flappy"):
                    toggles_left = 4
                if toggles_left is not None:
                    toggles_left -= 1
                    if toggles_left == 0:
                        break
            target.heal("flappy")
            assert toggles_left == 0, "the monitor never became flapping"
            await hook.wait(lambda _: "flapping" in _states(hook))
            await asyncio.sleep(2)
            assert await in_state(running, "flapping", "flappy"), "it settles only after 30 s"

    states = _states(hook)
    assert states.count("flapping") == 1, states
    assert len(notifications(hook)) <= 3, states
    [flapping] = [s for s in notifications(hook) if s.alerts[0]["state"] == "flapping"]
    assert flapping.body["title"] == "[FLAPPING] flappy — 4 state changes in 30s"


def _states(hook: HookReceiver) -> list[str]:
    return [alert["state"] for sent in notifications(hook) for alert in sent.alerts]


async def test_a_parent_down_with_50_children_is_one_message_listing_them(
    tmp_path: Path,
) -> None:
    children = [f"child-{i:02}" for i in range(50)]
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        lines = [
            f'  - {{name: {name}, http: "{target.url("/" + name)}", depends_on: [parent]}}'
            for name in children
        ]
        text = hook_config(hook, target, "parent", extra="\n".join(lines))
        async with watchkeeper(tmp_path / "wk.yaml", text) as running:
            await eventually(lambda: in_state(running, "up", "parent", *children))
            target.all_failing = True
            await eventually(lambda: in_state(running, "down", "parent", *children))
            await hook.wait(lambda requests: len(requests) >= 1)
            await asyncio.sleep(3)  # a second message would have come by now
            storm = notifications(hook)
            target.all_failing = False
            await eventually(lambda: in_state(running, "up", "parent", *children))
            await hook.wait(has(hook, "parent", "resolved"))
            await asyncio.sleep(3)

    assert len(storm) == 1, [s.monitors() for s in storm]
    message = storm[0]
    assert message.event == "firing" and message.monitors() == ["parent"]
    assert message.alerts[0]["affected"] == children
    assert "also down because of it: child-00, child-01" in message.body["text"]
    # the children came back with their parent: told in its recovery, not one by one
    recovery = notifications(hook)[1:]
    assert recovery and recovery[0].monitors()[0] == "parent", [s.monitors() for s in recovery]
    assert len(recovery) <= 2, [s.monitors() for s in recovery]
    told = Counter(
        name
        for sent in recovery
        for alert in sent.alerts
        if alert["event"] == "resolved"
        for name in (alert["monitor"], *alert["affected"])
    )
    assert set(told) == {"parent", *children} and set(told.values()) == {1}, told


async def test_maintenance_and_silence_hold_the_alert_not_the_results_then_announce_once(
    tmp_path: Path,
) -> None:
    """db fails from its first check inside a window from the config; cache fails later under
    a silence from ``wk silence`` (written before ``wk up`` starts, which reads silences as it
    starts, so no pickup race) that is then expired by hand. Each is held while it must be
    and announced once after: every bound is an event or a lower bound on a time.

    The window lasts an hour, whatever ``wk up``'s start takes on a loaded machine; once
    both are held, ``wk reload`` moves its end to a few seconds ahead, and db is held until
    then (not a fixed wait for a window sized for the slowest start)."""
    async with HookReceiver(secret=SECRET) as hook, SwitchableTarget() as target:
        now = time.time()
        window_ends = now + 3600.0
        config = tmp_path / "wk.yaml"
        text = hook_config(hook, target, "db", "cache") + _window(now - 600, window_ends)
        await asyncio.to_thread(config.write_text, text)
        Store.open(f"sqlite:///{tmp_path / 'wk.db'}").close()
        silenced = await wk(
            "silence", "add", "--monitor", "cache", "--for", "1h", "-c", str(config)
        )
        assert silenced.code == 0, silenced.stderr
        listed = await wk("silence", "list", "--json", "-c", str(config))
        [silence] = listed.json()
        assert silence["monitor"] == "cache" and silence["active"] is True
        target.fail("db")
        async with watchkeeper(config, text) as running:
            await eventually(lambda: in_state(running, "down", "db"), timeout=60)
            await eventually(lambda: in_state(running, "up", "cache"), timeout=60)
            target.fail("cache")
            await eventually(lambda: in_state(running, "down", "cache"), timeout=60)
            assert time.time() < window_ends, "db went down after its window"
            for name in ("db", "cache"):  # the writer commits a moment after the state moves

                async def recorded(name: str = name) -> bool:
                    path = f"/api/v1/monitors/{name}/results?failed=true"
                    return len((await running.get(path))["items"]) >= 2

                assert await eventually(recorded, timeout=30), "checks go on and are recorded"
            incidents = await eventually(lambda: held_incidents(config, 2), timeout=30)
            assert sorted(incidents) == ["cache", "db"], incidents

            expired_at = time.time()
            done = await wk("silence", "expire", str(silence["id"]), "-c", str(config))
            assert done.code == 0, done.stderr
            await hook.wait(has(hook, "cache", "firing"), timeout=40)
            window_ends = time.time() + WINDOW_LEFT
            text = text.replace(_window(now - 600, now + 3600.0), _window(now - 600, window_ends))
            await asyncio.to_thread(config.write_text, text)
            reloaded = await wk("reload", "-c", str(config))
            assert reloaded.code == 0, reloaded.stdout + reloaded.stderr
            assert "maintenance: ~upgrade (end)" in reloaded.stdout, reloaded.stdout
            await hook.wait(has(hook, "db", "firing"), timeout=window_ends - time.time() + 40)
            await asyncio.sleep(3)  # each is announced once, not again

    arrived: dict[str, float] = {}  # the two may be released together, in one message
    for sent in notifications(hook):
        for name in sent.monitors():
            arrived.setdefault(name, sent.request.at)
    assert arrived["cache"] >= expired_at, "held until the silence was expired"
    assert arrived["db"] >= window_ends, "held until the window ended"
    firing = Counter(m for m, _, event in alert_events(hook) if event == "firing")
    assert firing == {"db": 1, "cache": 1}, alert_events(hook)


WINDOW_LEFT = 4.0
"""Seconds the window still lasts once ``wk reload`` has moved its end: past the reload."""


def _window(start: float, end: float) -> str:
    """The config's maintenance window over db from ``start`` to ``end`` (epoch seconds)."""
    begins = datetime.fromtimestamp(start, UTC).isoformat()
    ends = datetime.fromtimestamp(end, UTC).isoformat()
    return f"""maintenance:
  - {{name: upgrade, start: "{begins}", end: "{ends}", monitors: [db]}}
"""


async def held_incidents(config: Path, count: int) -> dict[str, list[str]] | None:
    """Monitor -> its incident's timeline kinds, once ``count`` incidents say they were held."""
    found = {}
    for number in range(1, count + 1):
        shown = await wk("incident", "show", str(number), "-c", str(config), "--json")
        if shown.code != 0:
            return None
        incident = shown.json()
        kinds = [event["kind"] for event in incident["timeline"]]
        if "held" not in kinds:
            return None
        found[incident["monitor"]] = kinds
    return found
