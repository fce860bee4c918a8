"""Heartbeats: when a ping is due and when it is late (pure), and the ping API against the real
app: every ping committed before it is answered, 1,000 at once included."""

from __future__ import annotations

import asyncio
import dataclasses
import textwrap
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from tests.helpers.site import Site

from watchkeeper.checks.heartbeat import Beats, HeartbeatSettings, judge, late_at, next_due
from watchkeeper.config import parse_config
from watchkeeper.errors import ConfigError
from watchkeeper.model import State, Transition
from watchkeeper.store import pings

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_a_cron_schedule_keeps_local_time_across_daylight_saving() -> None:
    nightly = HeartbeatSettings(cron="30 2 * * *", tz="Europe/Berlin", grace="30m")
    # Berlin leaves summer time on 2026-10-25 (03:00 CEST → 02:00 CET): 02:30 happens twice,
    # and the job runs once, so the ping after the 25th's is due on the 26th, 25 h later
    after = at("2026-10-24T02:31:00")
    due = next_due(nightly, after)
    assert datetime.fromtimestamp(due, BERLIN).strftime("%m-%d %H:%M") == "10-25 02:30"
    following = next_due(nightly, due + 60)
    assert datetime.fromtimestamp(following, BERLIN).strftime("%m-%d %H:%M") == "10-26 02:30"
    assert following - due == 25 * 3600
    # spring: on 2026-03-29 02:00-03:00 does not exist; the 02:30 run comes at 03:30 CEST
    spring = next_due(nightly, at("2026-03-28T02:31:00"))
    assert datetime.fromtimestamp(spring, BERLIN).strftime("%m-%d") == "03-29"
    beats = Beats(since=after - 60, last_success=after)
    assert judge(nightly, beats, due + 1700)[0] is None, "inside the grace"
    why, _ = judge(nightly, beats, due + 1900)
    assert why is not None and why.startswith("late: last ping") and "grace 30m" in why


def test_a_period_its_grace_and_a_first_ping_that_never_came() -> None:
    daily = HeartbeatSettings(period="1d", grace="1h")
    beats = Beats(since=1000.0)
    assert judge(daily, beats, 1000 + 86400 + 3599)[0] is None
    why, _ = judge(daily, beats, 1000 + 86400 + 3601)
    assert why == "late: no ping yet, due 1h ago (grace 1h)"
    beats.record("success", 90_000.0)
    assert judge(daily, beats, 90_000 + 86400 + 60)[0] is None


def test_a_start_without_a_finish_is_down_after_the_grace() -> None:
    settings = HeartbeatSettings(period="1h", grace="10m")
    beats = Beats(since=0.0)
    beats.record("start", 100.0)
    assert judge(settings, beats, 650)[0] is None
    why, _ = judge(settings, beats, 800)
    assert why == "a run started 11m40s ago and has not finished (grace 10m)"
    assert beats.record("success", 900.0) == 800.0, "the run's duration, start to finish"
    why, facts = judge(settings, beats, 950)
    assert why is None and facts["heartbeat.duration"] == 800.0


def test_the_oldest_open_run_decides_when_a_stuck_run_is_late() -> None:
    settings = HeartbeatSettings(period="1h", grace="10m")
    beats = Beats(since=0.0)
    beats.record("start", 100.0, rid="old")
    beats.record("start", 500.0, rid="new")
    assert late_at(settings, beats) == 700.0, "the old run's start plus the grace"
    assert judge(settings, beats, 699.5)[0] is None
    why, _ = judge(settings, beats, 700.0)
    assert why == "a run started 10m ago and has not finished (grace 10m)"
    beats.record("success", 800.0, rid="old")  # the old run finished; the new one is open
    assert late_at(settings, beats) == 1100.0
    assert judge(settings, beats, 1099.5)[0] is None and judge(settings, beats, 1100.0)[0]


def test_a_heartbeat_is_late_at_due_plus_grace_whichever_comes_first() -> None:
    settings = HeartbeatSettings(period="1h", grace="10m")
    beats = Beats(since=0.0, last_success=0.0)
    beats.record("start", 3700.0)  # open, but the missed ping comes first
    assert late_at(settings, beats) == 3600.0 + 600.0
    assert judge(settings, beats, 4199.5)[0] is None
    why, facts = judge(settings, beats, 4200.0)
    assert why == "late: last ping 1h10m ago, due 10m ago (grace 10m)"
    assert facts["heartbeat.due_in"] == -600.0


@examples(max_examples=300, deadline=None)
@given(
    period=st.integers(1, 10_000),
    grace=st.integers(0, 10_000),
    pings=st.lists(
        st.tuples(st.sampled_from(["start", "success"]), st.sampled_from(["", "a", "b"])),
        max_size=6,
    ),
    gaps=st.lists(st.integers(1, 5_000), min_size=6, max_size=6),
)
def test_judge_turns_late_exactly_at_late_at(
    period: int, grace: int, pings: list[tuple[str, str]], gaps: list[int]
) -> None:
    """The moment the engine runs the check is the moment the check says late: not a
    moment before (a wasted run and a second one) nor after (a late alert)."""
    settings = HeartbeatSettings(period=f"{period}s", grace=f"{grace}s")
    beats = Beats(since=1000.0)
    at = 1000.0
    for (kind, rid), gap in zip(pings, gaps, strict=False):
        at += gap
        beats.record(kind, at, rid)
    late = late_at(settings, beats)
    assert judge(settings, beats, late)[0] is not None
    assert judge(settings, beats, late - 0.001)[0] is None


def test_failures_and_exit_codes() -> None:
    settings = HeartbeatSettings(period="1h", grace="10m")
    beats = Beats(since=0.0)
    beats.record("exit", 10.0, exit_code=0)
    assert judge(settings, beats, 20)[0] is None
    beats.record("exit", 30.0, exit_code=2)
    why, facts = judge(settings, beats, 40)
    assert why == "the job reported failure (exit code 2) 10s ago"
    assert facts["heartbeat.exit_code"] == 2
    beats.record("fail", 50.0)
    assert judge(settings, beats, 60)[0] == "the job reported failure 10s ago"
    beats.record("success", 70.0)
    assert judge(settings, beats, 80)[0] is None, "a success after a failure: up again"


def test_run_ids_pair_overlapping_starts_and_finishes() -> None:
    beats = Beats(since=0.0)
    beats.record("start", 100.0, rid="a")
    beats.record("start", 130.0, rid="b")
    assert beats.record("success", 150.0, rid="a") == 50.0
    assert beats.record("success", 200.0, rid="b") == 70.0
    assert not beats.starts
    beats.record("start", 300.0)
    assert beats.record("success", 310.0) == 10.0


def config() -> str:
    return """
storage: sqlite:///wk.db
monitors:
  - {name: nightly, heartbeat: {period: 1d, grace: 1h}}
  - {name: reports, heartbeat: {cron: "0 6 * * 1", tz: Europe/Berlin, grace: 1h,
     uuid: "6f7c2c6e-9a4b-4d1e-9b2a-3c4d5e6f7a8b"}, interval: 500ms, timeout: 100ms}
"""


async def test_pings_are_answered_only_once_stored_and_change_the_state(tmp_path: Path) -> None:
    async with Site(config(), tmp_path) as site:
        base = f"{site.url}/ping/6f7c2c6e-9a4b-4d1e-9b2a-3c4d5e6f7a8b"
        async with aiohttp.ClientSession() as client:  # no token: pings are public
            async with client.get(base + "/start?rid=r1") as answer:
                assert (answer.status, await answer.text()) == (200, "OK")
            async with client.post(base + "?rid=r1", data=b"x" * 20_000) as answer:
                assert answer.status == 200
            async with client.head(base + "/1") as answer:
                assert answer.status == 200
            async with client.get(base + "/256") as answer:
                assert answer.status == 404
            async with client.get(f"{site.url}/ping/00000000-0000-0000-0000-000000000000") as a:
                assert (a.status, await a.text()) == (404, "not found")
        deadline = time.monotonic() + 5
        while str(site.engine.status["reports"].state) != "down":
            assert time.monotonic() < deadline, site.engine.status["reports"]
            await asyncio.sleep(0.05)
        assert "exit code 1" in (site.engine.status["reports"].reason or "")
        with site.store.read() as connection:
            monitor_id = site.store.monitor_id("reports")
            stored = pings.recent(connection, monitor_id)
        assert [(p.kind, p.exit_code, p.rid) for p in stored] == [
            ("start", None, "r1"),
            ("success", None, "r1"),
            ("exit", 1, None),
        ]
        assert stored[1].duration is not None and stored[1].duration > 0
        assert stored[1].body is not None and len(stored[1].body) == 10 * 1024, "capped"


async def test_a_missed_ping_takes_the_monitor_down_at_due_plus_grace_not_at_its_next_slot(
    tmp_path: Path,
) -> None:
    uuid = "0d6c8a4e-1f2b-4c3d-9e8f-7a6b5c4d3e2f"
    text = f"""
storage: sqlite:///wk.db
monitors:
  - {{name: beat, heartbeat: {{period: 4s, grace: 2s, uuid: "{uuid}"}}, interval: 1h}}
"""
    async with Site(text, tmp_path) as site:
        engine = site.engine
        scheduler = engine.scheduler
        assert scheduler is not None
        loop = asyncio.get_running_loop()
        asked: list[float] = []  # the moments the engine had the check run at, wall clock
        run_at = scheduler.run_at

        def noting(name: str, at: float) -> bool:
            asked.append(at - loop.time() + time.time())
            return run_at(name, at)

        scheduler.run_at = noting  # type: ignore[method-assign]
        results: list[float] = []
        downs: list[Transition] = []
        engine.result_listeners.append(lambda monitor, result: results.append(result.started_at))
        engine.listeners.append(
            lambda monitor, change, status: (
                downs.append(change) if change.to_state is State.DOWN else None
            )
        )
        async with aiohttp.ClientSession() as client, client.get(f"{site.url}/ping/{uuid}") as a:
            assert a.status == 200
        last = engine.heartbeats.registry.beats["beat"].last_success
        assert last is not None
        late = last + 4 + 2
        deadline = time.monotonic() + 30  # generous: the slot an interval on is an hour away
        while not downs:
            assert time.monotonic() < deadline, engine.status["beat"]
            await asyncio.sleep(0.05)
        assert any(abs(moment - late) < 0.01 for moment in asked), (asked, late)
        assert downs[0].at >= late, "not a moment before due plus grace"
        assert downs[0].reason is not None and downs[0].reason.startswith("late: last ping")
        before = [at for at in results if at < downs[0].at]
        assert all(at < late for at in before), "the run at the late moment took it down"


async def test_a_thousand_pings_from_concurrent_clients_are_all_stored(tmp_path: Path) -> None:
    allowed = config().replace("grace: 1h,\n", "grace: 1h, ping_burst: 1000,\n")
    async with Site(allowed, tmp_path) as site:
        base = f"{site.url}/ping/6f7c2c6e-9a4b-4d1e-9b2a-3c4d5e6f7a8b"
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as client:

            async def one(index: int) -> int:
                async with client.get(f"{base}?rid={index}") as answer:
                    return answer.status

            statuses = await asyncio.gather(*(one(i) for i in range(1000)))
        assert statuses == [200] * 1000
        with site.store.read() as connection:
            assert pings.count(connection, site.store.monitor_id("reports")) == 1000
        assert site.engine.heartbeats.written == 1000


async def test_a_restart_rebuilds_the_state_from_the_stored_pings(tmp_path: Path) -> None:
    async with Site(config(), tmp_path) as site, aiohttp.ClientSession() as client:
        base = f"{site.url}/ping/6f7c2c6e-9a4b-4d1e-9b2a-3c4d5e6f7a8b"
        async with client.get(base + "/start?rid=long") as answer:
            assert answer.status == 200
        uuid = next(u for u, n in site.engine.heartbeats.registry.by_uuid.items() if n == "nightly")
    async with Site(config(), tmp_path) as again:
        beats = again.engine.heartbeats.registry.beats["reports"]
        assert set(beats.starts) == {"long"}, "the open run is remembered"
        assert again.engine.heartbeats.registry.by_uuid[uuid] == "nightly", "same UUID"


async def test_a_restart_after_retention_pruned_the_pings_rebuilds_the_same_state(
    tmp_path: Path,
) -> None:
    allowed = config().replace("grace: 1h,\n", "grace: 1h, ping_burst: 1000,\n")
    async with Site(allowed, tmp_path) as site, aiohttp.ClientSession() as client:
        base = f"{site.url}/ping/6f7c2c6e-9a4b-4d1e-9b2a-3c4d5e6f7a8b"
        paths = [f"?rid=old{i}" for i in range(300)]
        paths += ["/start?rid=a", "?rid=a", "/start?rid=b", "/start", "/3"]
        for path in paths:  # finished run a; run b still open; exit code 3 last
            async with client.get(base + path) as answer:
                assert answer.status == 200
        live = dataclasses.replace(site.engine.heartbeats.registry.beats["reports"])
        monitor_id = site.store.monitor_id("reports")
        # a month later, every ping is past the 14-day horizon
        deleted = site.store.prune(time.time() + 30 * 86400, raw=14 * 86400, minute=1, hour=1)
        with site.store.read() as connection:
            assert pings.count(connection, monitor_id) == pings.RECENT
        assert deleted >= len(paths) - pings.RECENT
    async with Site(allowed, tmp_path) as again:
        rebuilt = again.engine.heartbeats.registry.beats["reports"]
    assert rebuilt == live
    assert set(rebuilt.starts) == {"b"} and rebuilt.exit_code == 3


def test_a_body_cap_over_100_kib_or_a_rate_limit_out_of_range_is_a_located_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            textwrap.dedent("""
            monitors:
              - {name: logs, heartbeat: {period: 1h, keep_body: 1MiB}}
              - {name: flood, heartbeat: {period: 1h, ping_rate: 0}}
            """),
            "wk.yaml",
        )
    text = "\n".join(caught.value.lines())
    assert "wk.yaml:3: monitor 'logs'" in text and "keep_body must be between 0 and 100KiB" in text
    assert "wk.yaml:4: monitor 'flood'" in text and "ping_rate must be between" in text
    settings = HeartbeatSettings(period="1h")
    assert (settings.keep_body, settings.ping_burst, settings.ping_rate) == (10240, 20, 2.0)
