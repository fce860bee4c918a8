"""Three real ``wk up`` nodes on one PostgreSQL store (a throw-away database on the machine's
server): each monitor checked by exactly one node per slot in steady state, the monitors of a
node killed with ``kill -9`` taken over within its leases' time, and ``wk nodes`` telling it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import web
from tests.helpers.cli import Running, wk
from tests.helpers.postgres import throwaway_database
from tests.helpers.servers import WebServer, ok_site

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
MONITORS = 30
TTL = 3.0


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database("wk_nodes") as name:
        yield name


@pytest.fixture
async def target() -> AsyncIterator[WebServer]:
    async with ok_site() as server:
        yield server


def _config(folder: Path, database: str, target: WebServer, node: str) -> Path:
    monitors = "\n".join(
        f'  - {{name: m{i:02d}, http: "{target.url(f"/m{i:02d}")}", interval: 1s, timeout: 1s}}'
        for i in range(MONITORS)
    )
    path = folder / f"{node}.yaml"
    path.write_text(
        f"""storage: postgresql://postgres@127.0.0.1:5432/{database}
engine: {{startup_spread: 0.5s}}
cluster: {{enabled: true, name: {node}, beat: 0.5s, ttl: {TTL:g}s}}
monitors:
{monitors}
"""
    )
    return path


def _per_monitor(database: str, since: float, until: float) -> dict[str, int]:
    """Results stored per monitor with ``since <= started_at < until``."""
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as c:
        rows = c.execute(
            "select m.name, count(*) from results r join monitors m on m.id = r.monitor_id "
            "where r.ts >= %s and r.ts < %s group by m.name",
            (since, until),
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def _server_now(database: str) -> float:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as c:
        row = c.execute("select extract(epoch from clock_timestamp())").fetchone()
    assert row is not None
    return float(row[0])


async def test_three_nodes_share_the_monitors_and_take_over_a_killed_ones(
    tmp_path: Path, database: str, target: WebServer
) -> None:
    nodes = [
        Running("-c", str(_config(tmp_path, database, target, name)), cwd=tmp_path)
        for name in ("a", "b", "c")
    ]
    await nodes[0].start()  # it makes the store; the others join it at once
    await asyncio.gather(*(node.start() for node in nodes[1:]))
    try:
        config = str(tmp_path / "a.yaml")
        for _ in range(100):  # until every node holds its share
            listed = await wk("nodes", "-c", config, "--json")
            leases = sorted(n["leases"] for n in listed.json()["nodes"]) if listed.code == 0 else []
            if leases == [10, 10, 10]:
                break
            await asyncio.sleep(0.2)
        assert leases == [10, 10, 10], listed.stdout
        await asyncio.sleep(2.0)
        start = await asyncio.to_thread(_server_now, database)
        await asyncio.sleep(6.0)
        end = await asyncio.to_thread(_server_now, database)
        counts = await asyncio.to_thread(_per_monitor, database, start, end - 1.0)
        # one check a second, by one node: about 5 each; two nodes would make about 10
        assert len(counts) == MONITORS
        assert max(counts.values()) <= 6 and min(counts.values()) >= 3, counts

        victim = nodes.pop(1)
        await victim.kill()  # SIGKILL: it hands nothing back
        # its leases run out (TTL); the others claim at a beat and check within a second:
        # every monitor checked after its leases ran out, by TTL + 3 s after the kill
        killed = await asyncio.to_thread(_server_now, database)
        await asyncio.sleep(TTL)
        while True:
            after = await asyncio.to_thread(_server_now, database)
            late = await asyncio.to_thread(_per_monitor, database, killed + TTL, after)
            if len(late) == MONITORS or after >= killed + TTL + 3.0:
                break
            await asyncio.sleep(0.25)
        assert len(late) == MONITORS, f"not taken over: {set(range(MONITORS)) - set(late)}"
        listed = await wk("nodes", "-c", config, "--json")
        live = sorted(n["leases"] for n in listed.json()["nodes"] if n["live"])
        assert live == [15, 15]
        assert sum(n["leader"] for n in listed.json()["nodes"]) == 1
    finally:
        for node in nodes:
            await node.stop()


@dataclass
class _Pair:
    """Two nodes on the test's database, checking ten monitors of a site the test can make
    fail (``failing``), notifying one hook; ``listed`` is ``wk nodes --json`` once each
    holds five."""

    nodes: list[Running]
    hook: Any
    failing: set[str]
    listed: list[dict[str, Any]]

    @property
    def leader(self) -> str:
        return next(str(n["name"]) for n in self.listed if n["leader"])

    async def kill_leader(self) -> None:
        victim = self.nodes.pop(0 if self.leader == "a" else 1)
        await victim.kill()


@contextlib.asynccontextmanager
async def _pair(tmp_path: Path, database: str, group_wait: str) -> AsyncIterator[_Pair]:
    from tests.helpers.receivers import HookReceiver

    failing: set[str] = set()

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=500 if request.match_info["name"] in failing else 200)

    app = web.Application()
    app.router.add_get("/{name}", answer)
    async with WebServer(app) as site, HookReceiver() as hook:
        monitors = "\n".join(
            f'  - {{name: m{i:02d}, http: "{site.url(f"/m{i:02d}")}", interval: 1s, '
            "timeout: 1s, confirm: 1, notify: [hook]}"
            for i in range(10)
        )
        paths = []
        for node in ("a", "b"):
            path = tmp_path / f"{node}.yaml"
            path.write_text(
                f"""storage: postgresql://postgres@127.0.0.1:5432/{database}
engine: {{startup_spread: 0.5s}}
cluster: {{enabled: true, name: {node}, beat: 0.5s, ttl: {TTL:g}s}}
notify:
  - {{name: hook, webhook: "{hook.url()}", group_wait: {group_wait}}}
monitors:
{monitors}
"""
            )
            paths.append(path)
        nodes = [Running("-c", str(p), cwd=tmp_path) for p in paths]
        for node in nodes:  # one at a time: the first makes the store
            await node.start()
        try:
            for _ in range(100):
                listed = (await wk("nodes", "-c", str(paths[0]), "--json")).json()["nodes"]
                if sorted(n["leases"] for n in listed) == [5, 5]:
                    break
                await asyncio.sleep(0.2)
            yield _Pair(nodes, hook, failing, listed)
        finally:
            for node in nodes:
                await node.stop()


async def test_the_leader_alone_notifies_and_a_new_one_takes_over(
    tmp_path: Path, database: str
) -> None:
    """Two nodes, each checking half of the monitors: a monitor that goes down is notified
    once (by the leader, whichever node checks it); the leader killed, the other notifies."""
    async with _pair(tmp_path, database, "0.5s") as pair:
        firing = _firing_counter(pair.hook)
        pair.failing.update({"m01", "m06"})  # one on each node, whichever they are
        await pair.hook.wait(lambda _: firing() >= {"m01", "m06"}, timeout=20)
        await asyncio.sleep(3.0)  # a second sender would have sent by now
        firing()
        assert firing.counts == {"m01": 1, "m06": 1}
        leader = pair.leader
        sent = {name: await _delivered(node) for name, node in zip("ab", pair.nodes, strict=True)}
        other = "b" if leader == "a" else "a"
        assert sent[leader] >= 1 and sent[other] == 0, sent  # the leader sent them all

        await pair.kill_leader()
        (survivor,) = pair.nodes

        async def taken_over() -> bool:  # the lead and every lease: after the dead's TTL
            listed = (await survivor.get("/api/v1/nodes"))["nodes"]
            return any(n["live"] and n["leader"] and n["leases"] == 10 for n in listed)

        for _ in range(100):
            if await taken_over():
                break
            await asyncio.sleep(0.2)
        pair.failing.add("m03")
        await pair.hook.wait(lambda _: "m03" in firing(), timeout=20)
        await asyncio.sleep(3.0)
        firing()
        assert firing.counts["m03"] == 1


async def test_killing_the_leader_in_a_storm_loses_no_notification(
    tmp_path: Path, database: str
) -> None:
    """Ten monitors fail at once, and the alert leader is killed as they do: the other node
    takes the lead and notifies every one of them (at least once; at most the one resend
    the at-least-once window allows)."""
    names = [f"m{i:02d}" for i in range(10)]
    async with _pair(tmp_path, database, "1s") as pair:
        pair.failing.update(names)
        await asyncio.sleep(1.2)  # failures seen, notifications grouping (group_wait 1s)
        await pair.kill_leader()
        firing = _firing_counter(pair.hook)
        await pair.hook.wait(lambda _: firing() >= set(names), timeout=40)
        await asyncio.sleep(3.0)
        firing()
        print(f"storm notifications per monitor: {sorted(firing.counts.values())}")
        assert set(firing.counts) == set(names)
        assert max(firing.counts.values()) <= 2, firing.counts


async def _delivered(node: Running) -> int:
    """Notifications this node delivered to the hook (its /metrics)."""
    status, text = await node.request("GET", "/metrics")
    assert status == 200
    for line in str(text).splitlines():
        if line.startswith("watchkeeper_notifications_total{") and 'outcome="delivered"' in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


class _firing_counter:
    """Firing alerts per monitor among the hook's requests."""

    def __init__(self, hook: object) -> None:
        self.hook = hook
        self.counts: dict[str, int] = {}

    def __call__(self) -> set[str]:
        counts: dict[str, int] = {}
        for request in self.hook.requests:  # type: ignore[attr-defined]
            for alert in request.json().get("alerts", []):
                if alert.get("event") == "firing" and alert.get("state") == "down":
                    counts[alert["monitor"]] = counts.get(alert["monitor"], 0) + 1
        self.counts = counts
        return set(counts)
